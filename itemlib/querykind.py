"""Which popularity weight a free-text query gets: how many of the catalog's items it names.

A popularity prior helps a query about what users do next ("after Warframe; Dota 2?") and can
hurt one that describes a particular item ("an Action game under $5"). A retriever sees only the
words, not the task a query came from, so the prior's weight is chosen per *kind* of query, and the
kind is read from the words by one documented rule:

- ``history``: the query names two or more catalog items (a user's history, with or without a
  request: UH2I and UQ2I);
- ``item``: it names exactly one (an item to find neighbours of, I2I; or an item described
  with its title, as about half of FA2I and SA2I queries are);
- ``description``: it names none (a summary, conditions, a misspelled name).

An item is *named* when its whole title appears as consecutive words of the query (case and
punctuation ignored, longest title first, no overlaps); titles of one word are not counted, since
"Heat" or "Up" occur in requests that mean no film, nor titles that are also a value of a list or
categorical field (Steam's game "Free to Play" is a genre too, and a request for free games names
no game). The weight of each kind is chosen on a
validation split (:func:`itemlib.validation.choose_popularity_weight`), which also reports how
the rule sorts each task's queries.
"""

from __future__ import annotations

import re

from itemlib.catalog import Catalog

KINDS = ("history", "item", "description")
#: Titles shorter than this many words are never counted as named.
MIN_TITLE_WORDS = 2


def words(text: str) -> tuple[str, ...]:
    """Lower-case runs of letters and digits: how titles and queries are compared."""
    return tuple(re.findall(r"[^\W_]+", text.lower()))


class TitleMatcher:
    """Finds the catalog titles a text names, and their items (see the module docstring)."""

    def __init__(self, catalog: Catalog) -> None:
        values = {words(value) for table in catalog.value_index.values() for value in table}
        #: title words -> positions of the items with that title (a remake shares its original's)
        self.positions: dict[tuple[str, ...], list[int]] = {}
        for position, item in enumerate(catalog.items):
            title = words(item.title)
            if len(title) >= MIN_TITLE_WORDS and title not in values:
                self.positions.setdefault(title, []).append(position)
        self.titles = set(self.positions)
        self.lengths = sorted({len(t) for t in self.titles}, reverse=True)

    def named(self, text: str) -> list[tuple[str, ...]]:
        """The titles ``text`` names, in order of appearance, each once."""
        tokens, found, start = words(text), [], 0
        while start < len(tokens):
            match = next((n for n in self.lengths if tuple(tokens[start : start + n]) in self.titles), 0)
            if match:
                title = tuple(tokens[start : start + match])
                if title not in found:
                    found.append(title)
            start += match or 1
        return found

    def named_items(self, text: str) -> list[int]:
        """Positions of the items whose titles ``text`` names, in order of appearance."""
        return [position for title in self.named(text) for position in self.positions[title]]

    def kind(self, text: str) -> str:
        """``history``, ``item`` or ``description``: the kind of ``text`` (module docstring)."""
        count = len(self.named(text))
        return KINDS[0] if count >= 2 else KINDS[1] if count == 1 else KINDS[2]
