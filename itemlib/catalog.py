"""Item catalogs: items with typed fields, optional ordered user histories, validation.

Everything downstream (task generators, item texts, relevance predicates) works on the *kind* of a
field, never on a hard-coded column name, so a catalog of movies, games or any user-supplied items
goes through the same code.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


class CatalogError(ValueError):
    """A catalog file or record is unusable; the message names the file and the record."""


class FieldKind(str, enum.Enum):
    """What a field holds; decides how it is sampled, phrased and matched."""

    LIST = "list"  # several categorical values (genres, tags)
    CATEGORICAL = "categorical"  # one value from a small vocabulary (MPAA rating, developer)
    NUMERIC = "numeric"  # a number (price, runtime)
    DATE = "date"  # a date or a year (release date)
    TEXT = "text"  # free text (description)


@dataclass(frozen=True)
class Field:
    """Schema of one item field.

    ``label`` is how the field is named in queries and item texts ("release date"); ``unit`` is how
    a number is written ("$" before it, "minutes" after it); ``year_only`` marks dates known to the
    year, so that conditions never speak of months the data does not have. ``askable`` is False for
    statistics nobody types in a request (review counts, owner ranges, 0/1 flags): they stay in
    item texts and relevance, but no generated query names them.
    """

    name: str
    kind: FieldKind
    label: str | None = None
    unit: str | None = None
    unit_before: bool = False
    year_only: bool = False
    askable: bool = True

    @property
    def display(self) -> str:
        return self.label or self.name.replace("_", " ")

    @property
    def is_price(self) -> bool:
        """A sum a user pays (price, cost, fee), not any amount in dollars: a film's budget is no price,
        so no query calls a film "cheap" for it and no taste summary says "I rarely pay much"."""
        return self.unit == "$" and bool(set(re.split(r"[^a-z]+", self.display.lower())) & PRICE_WORDS)

    def format_value(self, value: object) -> str:
        """Render one stored value as a person would write it."""
        if self.kind is FieldKind.LIST:
            return ", ".join(str(v) for v in value)  # type: ignore[union-attr]
        if self.kind is FieldKind.NUMERIC:
            number = format_number(float(value))  # type: ignore[arg-type]
            if not self.unit:
                return number
            return f"{self.unit}{number}" if self.unit_before else f"{number} {self.unit}"
        if self.kind is FieldKind.DATE:
            assert isinstance(value, dt.date)
            return str(value.year) if self.year_only else value.isoformat()
        return str(value)


def format_number(value: float) -> str:
    """Integers without a decimal point (thousands grouped), other numbers with at most two decimals."""
    if float(value).is_integer():
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Item:
    """One catalog item. ``fields`` maps field names to values; a missing value is an absent key."""

    id: str
    title: str
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass
class LoadReport:
    """What a loader skipped or repaired, and why: counted, with a few example records each."""

    source: str
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    def skip(self, reason: str, record: str) -> None:
        self.skipped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 3:
            shown.append(record[:200])

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "skipped": dict(sorted(self.skipped.items())),
            "examples": {k: self.examples[k] for k in sorted(self.examples)},
            "notes": self.notes,
        }


#: Words of a field's name that make a dollar amount a price.
PRICE_WORDS = frozenset({"price", "cost", "fee"})
#: Values of a list field written into an item text; keeps texts near 64-96 tokens.
MAX_LIST_VALUES_IN_TEXT = 8
#: Characters of a free-text field written into an item text.
MAX_TEXT_CHARS_IN_TEXT = 200


def normalize_title(title: str) -> str:
    """Key under which two titles count as the same name (case and spacing ignored)."""
    return " ".join(title.lower().split())


def title_words(key: str) -> list[str]:
    """Distinct words of 4+ letters or digits in a normalised title, in order ("the", "of" are not)."""
    return list(dict.fromkeys(re.findall(r"[^\W_]{4,}", key)))


class Catalog:
    """Items with a field schema and optional time-ordered user histories.

    ``histories`` maps a user id to the item ids they interacted with, oldest first.
    ``baskets`` are unordered item sets (e.g. game libraries) that only add co-occurrence evidence.
    Construction validates: unique ids, non-empty titles, values of the declared kinds, history
    entries that name known items.
    """

    def __init__(
        self,
        name: str,
        items: Sequence[Item],
        schema: Sequence[Field],
        *,
        noun: str = "item",
        verb: str = "try",
        histories: Mapping[str, Sequence[str]] | None = None,
        baskets: Mapping[str, Sequence[str]] | None = None,
        report: LoadReport | None = None,
    ) -> None:
        if not items:
            raise CatalogError(f"catalog {name!r} has no items")
        self.name = name
        self.noun = noun
        self.verb = verb
        self.items: list[Item] = list(items)
        self.schema: dict[str, Field] = {f.name: f for f in schema}
        self.report = report or LoadReport(source=name)
        self.index: dict[str, int] = {}
        for position, item in enumerate(self.items):
            self._validate_item(item)
            if item.id in self.index:
                raise CatalogError(f"catalog {name!r}: duplicate item id {item.id!r}")
            self.index[item.id] = position
        self.histories: dict[str, list[str]] = {u: list(h) for u, h in (histories or {}).items()}
        self.baskets: dict[str, list[str]] = {u: list(b) for u, b in (baskets or {}).items()}
        for label, table in (("history", self.histories), ("basket", self.baskets)):
            for user, ids in table.items():
                unknown = [i for i in ids if i not in self.index]
                if unknown:
                    raise CatalogError(f"catalog {name!r}: {label} of user {user!r} names unknown item {unknown[0]!r}")

    def _validate_item(self, item: Item) -> None:
        if not isinstance(item.id, str) or not item.id:
            raise CatalogError(f"catalog {self.name!r}: item with empty id ({item.title!r})")
        if not isinstance(item.title, str) or not item.title.strip():
            raise CatalogError(f"catalog {self.name!r}: item {item.id!r} has no title")
        for key, value in item.fields.items():
            spec = self.schema.get(key)
            if spec is None:
                raise CatalogError(f"catalog {self.name!r}: item {item.id!r} has unknown field {key!r}")
            expected = {
                FieldKind.LIST: (list, tuple),
                FieldKind.CATEGORICAL: (str,),
                FieldKind.TEXT: (str,),
                FieldKind.NUMERIC: (int, float),
                FieldKind.DATE: (dt.date,),
            }[spec.kind]
            if not isinstance(value, expected) or (spec.kind is FieldKind.NUMERIC and np.isnan(value)):
                raise CatalogError(
                    f"catalog {self.name!r}: item {item.id!r} field {key!r} holds {value!r}, "
                    f"not a {spec.kind.value} value"
                )

    @property
    def verbed(self) -> str:
        """Past tense of ``verb`` for templates ("watched", "played", "tried")."""
        verb = self.verb
        if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
            return verb[:-1] + "ied"
        return verb + ("d" if verb.endswith("e") else "ed")

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return (
            f"Catalog({self.name!r}, {len(self.items)} {self.noun}s, fields={list(self.schema)}, "
            f"{len(self.histories)} histories)"
        )

    def subset(self, max_items: int, seed: int = 0) -> Catalog:
        """A smaller catalog for quick runs (the ``smoke`` profile): the whole histories of randomly
        chosen users, topped up with random other items, at most ``max_items`` in all."""
        rng = random.Random(f"subset:{seed}")
        users = sorted(self.histories)
        rng.shuffle(users)
        keep: dict[str, None] = {}
        chosen = []
        for user in users:
            new = [i for i in self.histories[user] if i not in keep]
            if len(keep) + len(new) <= max_items * 0.7:
                chosen.append(user)
                keep.update(dict.fromkeys(new))
        others = [item.id for item in self.items if item.id not in keep]
        rng.shuffle(others)
        keep.update(dict.fromkeys(others[: max(0, max_items - len(keep))]))
        baskets = {u: [i for i in b if i in keep] for u, b in self.baskets.items()}
        return Catalog(
            self.name,
            [item for item in self.items if item.id in keep],
            list(self.schema.values()),
            noun=self.noun,
            verb=self.verb,
            histories={u: self.histories[u] for u in sorted(chosen)},
            baskets={u: b for u, b in baskets.items() if len(b) >= 2},
            report=self.report,
        )

    def item(self, item_id: str) -> Item:
        try:
            return self.items[self.index[item_id]]
        except KeyError:
            raise CatalogError(f"catalog {self.name!r} has no item {item_id!r}") from None

    def fields_of(self, *kinds: FieldKind) -> list[Field]:
        return [f for f in self.schema.values() if f.kind in kinds]

    def query_fields(self, *kinds: FieldKind) -> list[Field]:
        """The fields a generated query may name (``askable``), of ``kinds`` (default: all kinds)."""
        return [f for f in self.schema.values() if f.askable and (not kinds or f.kind in kinds)]

    def item_text(self, item: Item) -> str:
        """The passage text of an item, used identically for training and retrieval."""
        parts = [f"title: {item.title}"]
        for spec in self.schema.values():
            if spec.name not in item.fields:
                continue
            value = item.fields[spec.name]
            if spec.kind is FieldKind.LIST:
                value = list(value)[:MAX_LIST_VALUES_IN_TEXT]  # type: ignore[call-overload]
                if not value:
                    continue
            if spec.kind is FieldKind.TEXT:
                value = str(value)[:MAX_TEXT_CHARS_IN_TEXT]
            parts.append(f"{spec.display}: {spec.format_value(value)}")
        return ", ".join(parts)

    # ---- derived, cached views used by tasks and relevance predicates -------------------------

    @cached_property
    def texts(self) -> list[str]:
        """Item texts in catalog order, built once: every example's positives and negatives use them."""
        return [self.item_text(item) for item in self.items]

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the ids, item texts, histories and baskets: generated data records the fingerprint of
        its catalog, so a test set is never scored against another catalog that shares its ids."""
        digest = hashlib.sha256()
        for item, text in zip(self.items, self.texts):
            digest.update(f"{item.id}\x1f{text}\x1e".encode())
        for label, table in (("histories", self.histories), ("baskets", self.baskets)):
            digest.update(label.encode())
            for user in sorted(table):
                digest.update(("\x1f".join([user, *table[user]]) + "\x1e").encode())
        return digest.hexdigest()[:16]

    @cached_property
    def title_keys(self) -> list[str]:
        return [normalize_title(item.title) for item in self.items]

    @cached_property
    def items_by_title(self) -> dict[str, list[int]]:
        table: dict[str, list[int]] = {}
        for position, key in enumerate(self.title_keys):
            table.setdefault(key, []).append(position)
        return table

    @cached_property
    def title_word_index(self) -> dict[str, np.ndarray]:
        """Title word (see :func:`title_words`) -> positions of the items whose title has it."""
        table: dict[str, list[int]] = {}
        for position, key in enumerate(self.title_keys):
            for word in title_words(key):
                table.setdefault(word, []).append(position)
        return {word: np.array(p, dtype=np.int64) for word, p in table.items()}

    def numeric_column(self, name: str) -> np.ndarray:
        """Float array over items (NaN where missing); dates become ordinal day numbers."""
        return self._columns[name]

    @cached_property
    def _columns(self) -> dict[str, np.ndarray]:
        columns = {}
        for spec in self.fields_of(FieldKind.NUMERIC, FieldKind.DATE):
            values = np.full(len(self.items), np.nan)
            for position, item in enumerate(self.items):
                value = item.fields.get(spec.name)
                if value is None:
                    continue
                values[position] = value.toordinal() if spec.kind is FieldKind.DATE else float(value)
            columns[spec.name] = values
        columns["popularity"] = self.popularity.astype(float)
        return columns

    @cached_property
    def value_index(self) -> dict[str, dict[str, np.ndarray]]:
        """For list and categorical fields: value -> positions of the items holding it.

        Positions rather than boolean masks: a maker field can have ten thousand values.
        """
        table: dict[str, dict[str, np.ndarray]] = {}
        for spec in self.fields_of(FieldKind.LIST, FieldKind.CATEGORICAL):
            positions: dict[str, list[int]] = {}
            for position, item in enumerate(self.items):
                value = item.fields.get(spec.name)
                if value is None:
                    continue
                for v in value if spec.kind is FieldKind.LIST else [value]:
                    positions.setdefault(str(v), []).append(position)
            table[spec.name] = {v: np.array(p, dtype=np.int64) for v, p in positions.items()}
        return table

    def value_mask(self, name: str, value: str) -> np.ndarray:
        """Boolean mask of the items whose field ``name`` holds ``value``."""
        mask = np.zeros(len(self.items), dtype=bool)
        mask[self.value_index[name].get(value, [])] = True
        return mask

    def vocabulary(self, name: str) -> list[tuple[str, int]]:
        """Values of a list/categorical field with their item counts, most frequent first."""
        return self._vocabularies[name]

    @cached_property
    def _vocabularies(self) -> dict[str, list[tuple[str, int]]]:
        return {
            name: sorted(((v, len(p)) for v, p in positions.items()), key=lambda pair: (-pair[1], pair[0]))
            for name, positions in self.value_index.items()
        }

    @cached_property
    def popularity(self) -> np.ndarray:
        """Interactions per item, counted without each user's last item (it is a test target)."""
        counts = np.zeros(len(self.items), dtype=np.int64)
        for ids in self.training_histories().values():
            for item_id in ids:
                counts[self.index[item_id]] += 1
        return counts

    def training_histories(self) -> dict[str, list[str]]:
        """Each user's history without the last item, which is held out for testing."""
        return {u: h[:-1] for u, h in self.histories.items()}

    @cached_property
    def last_items(self) -> dict[str, str]:
        return {u: h[-1] for u, h in self.histories.items() if h}


def dedupe_history(ids: Iterable[str]) -> list[str]:
    """Keep the first interaction with each item: a re-rated item is not a new event."""
    seen: set[str] = set()
    ordered = []
    for item_id in ids:
        if item_id not in seen:
            seen.add(item_id)
            ordered.append(item_id)
    return ordered
