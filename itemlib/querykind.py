"""Which popularity weight, and which collaborative-filtering blend, a free-text query gets: the
kind of request its words make.

A popularity prior helps a query about what users do next ("after Warframe; Dota 2?") and can
hurt one that describes a particular item ("an Action game under $5"); a collaborative-filtering
reference reads the items a query names and knows nothing of what else it asks. A retriever sees
only the words, not the task a query came from, so both weights are chosen per *kind* of query, and
the kind is read from the words by one documented rule:

- ``history``: the query names two or more catalog items and asks nothing else (a user's history:
  UH2I);
- ``item``: it names exactly one and asks nothing else (an item to find neighbours of, I2I; or a
  history of one item);
- ``request``: it names one or more items *and* asks for attributes (a history with a wish, UQ2I;
  an item described with its title, as about half of FA2I and SA2I queries are): the answer must
  hold those attributes, which no reference of the named items knows;
- ``description``: it names none (a summary, conditions, a misspelled name).

An item is *named* when its whole title appears as consecutive words of the query (case and
punctuation ignored, longest title first, no overlaps); titles of one word are not counted, since
"Heat" or "Up" occur in requests that mean no film, nor titles that are also a value of a list or
categorical field (Steam's game "Free to Play" is a genre too, and a request for free games names
no game). A query *asks for attributes* when, outside the titles it names and a parenthesised note
right after one ("Heat (1995)", "Dead Space (Action)", "Seven Samurai (Shichinin no samurai) (1954)":
which item is meant, not what is wanted), it holds a number ("from 2009", "under $5") or a value of
one of the catalog's list or categorical fields ("a Comedy", "with Co-op"; the catalog's noun,
"games", is not counted). A value of one word of a categorical field and of no list field is a name
(a maker, a rating) and counts only as the catalog writes it, case included: Steam's developer
"Appeal" is asked for by "a game by Appeal", not by "what has a similar appeal?". Counting titles
alone would give a title with a wish the weights meant for "games like X". The weight of each kind
is chosen on a validation split (:func:`itemlib.validation.choose_popularity_weight`), which also
reports how the rule sorts each task's queries.
"""

from __future__ import annotations

import re

from itemlib.catalog import Catalog, FieldKind

KINDS = ("history", "item", "request", "description")
#: Titles shorter than this many words are never counted as named.
MIN_TITLE_WORDS = 2
_WORD = re.compile(r"[^\W_]+")
#: parenthesised notes after a title's last word ("Pirates! (2005)", "Mafia II (2K Games, Feral
#: Interactive (Mac))": one level of nesting), one or more in a row, after the parentheses that
#: close the title itself ("Seven Samurai (Shichinin no samurai) (Action)")
_NOTES = re.compile(r"\)*(?:[^\w()]*\((?:[^()]|\([^()]*\))*\))+")


def words(text: str) -> tuple[str, ...]:
    """Lower-case runs of letters and digits: how titles and queries are compared."""
    return tuple(_WORD.findall(text.lower()))


def _longest_matches(tokens: list[str], known: set[tuple[str, ...]], lengths: list[int]) -> list[tuple[int, int]]:
    """``(start, end)`` token spans of ``known`` word sequences in ``tokens``: longest first at each
    position, no overlaps, left to right."""
    spans, start = [], 0
    while start < len(tokens):
        fits = (n for n in lengths if start + n <= len(tokens))
        match = next((n for n in fits if tuple(tokens[start : start + n]) in known), 0)
        if match:
            spans.append((start, start + match))
        start += match or 1
    return spans


def _distinct_titles(found: list[re.Match], spans: list[tuple[int, int]]) -> list[tuple[str, ...]]:
    """The titles at ``spans`` of the words ``found``, in order of appearance, each once."""
    return list(dict.fromkeys(tuple(m.group().lower() for m in found[start:end]) for start, end in spans))


def _names(catalog: Catalog, ignored: set[tuple[str, ...]]) -> set[str]:
    """The one-word values of categorical fields (a maker, a rating) that no list field holds and
    that are not ``ignored``, as the catalog writes them (module docstring)."""
    categorical = {spec.name for spec in catalog.fields_of(FieldKind.CATEGORICAL)}
    listed = {words(value) for field, table in catalog.value_index.items() if field not in categorical
              for value in table}  # fmt: skip
    excluded = listed | ignored
    written = (_WORD.findall(value) for field in categorical for value in catalog.value_index[field])
    return {tokens[0] for tokens in written if len(tokens) == 1 and (tokens[0].lower(),) not in excluded}


class TitleMatcher:
    """Finds the catalog titles a text names, their items, and the kind of request it makes (see
    the module docstring)."""

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
        noun = {words(catalog.noun), words(catalog.noun + "s")}
        #: names that ask for an attribute only as written ("Appeal", not "a similar appeal")
        self.names = _names(catalog, noun)
        #: field values that ask for an attribute whatever their case (the catalog's noun asks for nothing)
        self.values = {value for value in values if value} - noun - {words(name) for name in self.names}
        self.value_lengths = sorted({len(v) for v in self.values}, reverse=True)

    def _title_spans(self, text: str) -> tuple[list[re.Match], list[tuple[int, int]]]:
        """The words of ``text`` (as matches, with their offsets) and the spans of the titles it names."""
        found = list(_WORD.finditer(text))
        return found, _longest_matches([m.group().lower() for m in found], self.titles, self.lengths)

    def named(self, text: str) -> list[tuple[str, ...]]:
        """The titles ``text`` names, in order of appearance, each once."""
        return _distinct_titles(*self._title_spans(text))

    def named_items(self, text: str) -> list[int]:
        """Positions of the items whose titles ``text`` names, in order of appearance."""
        return self._items(self.named(text))

    def _items(self, titles: list[tuple[str, ...]]) -> list[int]:
        """Positions of the items with ``titles``, in their order (a remake after its original)."""
        return [position for title in titles for position in self.positions[title]]

    def asks_for_attributes(self, text: str) -> bool:
        """Whether ``text``, outside the titles it names and the parenthesised note right after one,
        holds a number or a value of a list or categorical field (module docstring)."""
        return self._asks(text, *self._title_spans(text))

    def _asks(self, text: str, found: list[re.Match], spans: list[tuple[int, int]]) -> bool:
        """:meth:`asks_for_attributes` given the words of ``text`` and its title spans, found once."""
        outside = [True] * len(found)
        for start, end in spans:
            outside[start:end] = [False] * (end - start)
            note = _NOTES.match(text, found[end - 1].end())
            at = end
            while note and at < len(found) and found[at].start() < note.end():
                outside[at] = False
                at += 1
        runs: list[list[str]] = [[]]  # the words outside, as written, in runs that no title or note interrupts
        for match, keep in zip(found, outside):
            if keep:
                runs[-1].append(match.group())
            elif runs[-1]:
                runs.append([])
        return any(
            any(token.isdigit() or token in self.names for token in run)
            or _longest_matches([token.lower() for token in run], self.values, self.value_lengths)
            for run in runs
        )

    def kind(self, text: str) -> str:
        """``history``, ``item``, ``request`` or ``description``: the kind of ``text`` (module docstring)."""
        return self.read(text)[1]

    def read(self, text: str) -> tuple[list[int], str]:
        """:meth:`named_items` and :meth:`kind` of ``text``, its titles found once (a blend needs both)."""
        found, spans = self._title_spans(text)  # once: the items, their count and the wish read them
        titles = _distinct_titles(found, spans)
        items = self._items(titles)
        if not titles:
            return items, "description"
        if self._asks(text, found, spans):
            return items, "request"
        return items, "history" if len(titles) >= 2 else "item"
