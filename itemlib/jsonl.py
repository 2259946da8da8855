"""JSON Lines read as written: one record per ``\\n``-ended line, each a strict JSON object.

``str.splitlines`` also breaks at U+2028, U+0085 and other separators that JSON strings may hold
raw, which cut a record in two and shift every later line number; :func:`jsonl_lines` splits on
``\\n`` only. :func:`strict_loads` refuses what ``json.loads`` silently accepts: a key given twice
(the last would win) and the non-standard ``NaN`` / ``Infinity``.
"""

from __future__ import annotations

import json
from typing import Any


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text, split on ``\\n`` only (a ``\\r`` before it dropped)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"key {repeated[0]!r} given twice")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def strict_loads(line: str) -> Any:
    """``json.loads`` that refuses duplicate keys, NaN/Infinity and absurd nesting (a ``ValueError`` saying which)."""
    try:
        return json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def is_text_list(value: Any) -> bool:
    """A JSON array of strings (texts or ids): what every list field of a generated record is."""
    return isinstance(value, list) and all(isinstance(member, str) for member in value)
