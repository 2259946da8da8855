"""Item text shown to people, escaped at the boundary where it leaves the library.

Catalog text is data from files nobody vetted: a title may hold terminal escape sequences
(``\\x1b]0;PWNED\\x07`` retitles a terminal, ``\\x1b[2J`` clears it) or HTML (``<img onerror=...>``
runs in a reader's browser). The command line prints :func:`terminal_text`; the book's pages show
:func:`html_text`, and their tables escape through pandas' ``Styler.format(escape="html")``.
"""

from __future__ import annotations

import html
import unicodedata


def terminal_text(text: str, keep: str = "") -> str:
    """``text`` with every control and format character (escape sequences, bells, bidi overrides,
    line separators) except those in ``keep`` (``"\\n"`` for a block of lines) replaced by the visible
    ``\\xNN``/``\\uNNNN`` escape, so a terminal shows it and never executes it."""
    hidden = ("Cc", "Cf", "Zl", "Zp")
    return "".join(
        char if char in keep or unicodedata.category(char) not in hidden else char.encode("unicode_escape").decode()
        for char in str(text)
    )


def html_text(text: str) -> str:
    """``text`` safe inside HTML and Markdown: markup characters escaped, control characters made visible."""
    return html.escape(terminal_text(text), quote=True)
