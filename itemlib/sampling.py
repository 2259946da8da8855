"""Sampling and phrasing of what a query asserts: attributes, typos, numeric/date conditions,
exclusions and search requests.

Every sampler returns :class:`Clause` objects that pair the words shown to the model with the
constraint (see :mod:`itemlib.relevance`) that makes them checkable, so a phrase can never assert
something its spec does not. All randomness comes from the ``random.Random`` passed in, and
values are drawn from sorted sequences only, so a seed fixes the output byte for byte.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
from dataclasses import dataclass

import numpy as np

from itemlib.catalog import Catalog, Field, FieldKind, Item, normalize_title
from itemlib.relevance import constraint_mask


@dataclass(frozen=True)
class Clause:
    """One assertion about an item: ``keyed`` ("genres: Drama"), ``bare`` ("Drama") and
    ``natural`` ("a Drama movie" fragment) wordings, and the constraint it stands for."""

    constraint: dict
    keyed: str
    bare: str
    natural: str


MAKER_WORDS = ("developer", "publisher", "director", "studio", "author", "brand", "maker", "artist")
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour_keys() -> dict[str, str]:
    table = {}
    for row in KEYBOARD_ROWS:
        for i, key in enumerate(row):
            table[key] = row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    return table


NEIGHBOUR_KEYS = _neighbour_keys()


def misspell(title: str, rng: random.Random, p: float = 0.1) -> str:
    """A typo'd title: per letter, with probability ``p``, delete it, replace it at random, hit an
    adjacent key, or swap it with the next one. At least one typo is always made."""
    chars = list(title)
    letters = [i for i, c in enumerate(chars) if c.isalpha()]
    if not letters:
        return title
    forced = rng.choice(letters)
    out: list[str] = []
    i = 0
    while i < len(chars):
        c = chars[i]
        if c.isalpha() and (i == forced or rng.random() < p):
            kind = rng.choice(("delete", "replace", "adjacent", "swap"))
            if kind == "delete":
                i += 1
                continue
            if kind == "swap" and i + 1 < len(chars) and chars[i + 1] != c:
                out.extend([chars[i + 1], c])
                i += 2
                continue
            pool = NEIGHBOUR_KEYS.get(c.lower(), "") if kind == "adjacent" else ""
            replacement = rng.choice(pool or string.ascii_lowercase.replace(c.lower(), ""))
            out.append(replacement.upper() if c.isupper() else replacement)
        else:
            out.append(c)
        i += 1
    typo = "".join(out)
    return typo if normalize_title(typo) != normalize_title(title) else misspell(title, rng, p)


def is_maker(spec: Field) -> bool:
    """Fields naming who made an item read as "by X" in requests and summaries."""
    return any(word in spec.display.lower() for word in MAKER_WORDS)


def _date_span(spec: Field, value: dt.date) -> tuple[str, str]:
    if spec.year_only:
        return dt.date(value.year, 1, 1).isoformat(), dt.date(value.year, 12, 31).isoformat()
    return value.isoformat(), value.isoformat()


def attribute_clause(spec: Field, value: object, rng: random.Random, max_list_values: int | None) -> Clause:
    """The exact-match clause for one field of an item (used by FA2I, SA2I, UQ2I)."""
    name = spec.display
    if spec.kind is FieldKind.LIST:
        values = list(value)  # type: ignore[call-overload]
        upper = len(values) if max_list_values is None else min(max_list_values, len(values))
        chosen = rng.sample(values, rng.randint(1, upper))
        words = ", ".join(chosen)
        return Clause(
            {"field": spec.name, "op": "has_all", "values": chosen}, f"{name}: {words}", words, " and ".join(chosen)
        )
    if spec.kind is FieldKind.CATEGORICAL:
        text = str(value)
        natural = f"by {text}" if is_maker(spec) else f"with {name} {text}"
        return Clause({"field": spec.name, "op": "has_all", "values": [text]}, f"{name}: {text}", text, natural)
    if spec.kind is FieldKind.NUMERIC:
        text = spec.format_value(value)
        constraint = {"field": spec.name, "op": "between", "low": float(value), "high": float(value)}  # type: ignore[arg-type]
        bare = text if spec.unit else f"{name} {text}"  # "118 minutes" says what it is; a bare "6.9" does not
        return Clause(constraint, f"{name}: {text}", bare, f"with {name} {text}")
    if spec.kind is FieldKind.DATE:
        assert isinstance(value, dt.date)
        low, high = _date_span(spec, value)
        text = spec.format_value(value)
        return Clause(
            {"field": spec.name, "op": "between", "low": low, "high": high}, f"{name}: {text}", text, f"from {text}"
        )
    words = str(value).split()
    start = rng.randint(0, max(0, len(words) - 6))
    snippet = " ".join(words[start : start + rng.randint(3, 6)])
    return Clause(
        {"field": spec.name, "op": "contains", "value": snippet}, f"{name}: {snippet}", snippet, f"about {snippet}"
    )


def title_clause(item: Item) -> Clause:
    return Clause(
        {"field": "title", "op": "title_eq", "value": normalize_title(item.title)},
        f"title: {item.title}",
        item.title,
        f"titled {item.title}",
    )


def sample_attributes(
    catalog: Catalog,
    item: Item,
    rng: random.Random,
    *,
    max_fields: int | None,
    title_probability: float,
    allow_text: bool,
    max_list_values: int | None,
    min_fields: int = 1,
) -> list[Clause]:
    """A random subset of the item's fields (``min_fields``..``max_fields`` of them, fewer when the
    item has fewer), the title with the given probability; at least one clause is always returned.
    A value two list fields share (Steam's genre and tag "Indie") is stated once."""
    fields = [
        spec
        for spec in catalog.query_fields()
        if spec.name in item.fields and (allow_text or spec.kind is not FieldKind.TEXT)
    ]
    use_title = rng.random() < title_probability or not fields
    budget = len(fields) if max_fields is None else max(0, max_fields - int(use_title))
    lowest = min(max(min_fields, 0 if use_title else 1), budget, len(fields))
    count = rng.randint(lowest, min(budget, len(fields))) if fields and budget else 0
    chosen = rng.sample(fields, count)
    clauses = [title_clause(item)] if use_title else []
    clauses += unique_clauses(chosen, item, rng, max_list_values)
    return clauses


def unsaid(spec: Field, value: object, said: set[str]) -> object | None:
    """``value`` without what an earlier clause stated (``said``, lower case): a list keeps its other
    values, a categorical value already said is dropped; None when nothing is left to say. So a value
    two fields share (Steam's genre and tag "Indie", a developer that is also the publisher) is said once."""
    if spec.kind is FieldKind.LIST:
        return [v for v in value if str(v).lower() not in said] or None  # type: ignore[union-attr]
    if spec.kind is FieldKind.CATEGORICAL and str(value).lower() in said:
        return None
    return value


def remember(said: set[str], clause: Clause) -> Clause:
    """Note the values ``clause`` states in ``said`` (see :func:`unsaid`) and return it."""
    said.update(str(v).lower() for v in clause.constraint.get("values", []))
    return clause


def unique_clauses(fields: list[Field], item: Item, rng: random.Random, max_list_values: int | None) -> list[Clause]:
    """Exact-match clauses of ``fields``, no value said twice (:func:`unsaid`)."""
    clauses: list[Clause] = []
    said: set[str] = set()
    for spec in fields:
        value = unsaid(spec, item.fields[spec.name], said)
        if value is not None:
            clauses.append(remember(said, attribute_clause(spec, value, rng, max_list_values)))
    return clauses


def nice_step(value: float) -> float:
    magnitude = 10 ** math.floor(math.log10(abs(value))) if value else 1.0
    return magnitude / 2 if abs(value) / magnitude < 5 else magnitude


def nice_above(value: float, rng: random.Random) -> float:
    """A round threshold strictly above ``value`` (20 for 17.99, 120 for 104)."""
    step = nice_step(value)
    return (math.floor(value / step) + rng.randint(1, 2)) * step


def nice_below(value: float, rng: random.Random) -> float | None:
    """A round threshold strictly below ``value``, or None when there is none above zero."""
    step = nice_step(value)
    threshold = (math.ceil(value / step) - rng.randint(1, 2)) * step
    return threshold if 0 < threshold < value else None


def _number_phrase(spec: Field, op: str, threshold: float) -> str:
    amount = spec.format_value(threshold)
    if spec.is_price:
        return {"lt": f"under {amount}", "gt": f"over {amount}"}[op]
    if spec.unit == "$":
        return {"lt": f"with a {spec.display} under {amount}", "gt": f"with a {spec.display} over {amount}"}[op]
    if spec.unit:
        return {"lt": f"shorter than {amount}" if "minute" in spec.unit else f"under {amount}", "gt": f"over {amount}"}[
            op
        ]
    return {"lt": f"with {spec.display} below {amount}", "gt": f"with {spec.display} above {amount}"}[op]


def _date_verb(spec: Field) -> str:
    label = spec.display.lower()
    return "released" if "release" in label or "year" in label else f"with {spec.display}"


def numeric_condition(spec: Field, value: float, rng: random.Random) -> Clause | None:
    """ "under $20" / "over 90 minutes": a threshold condition the item's value satisfies."""
    ops = ["lt", "gt"] if value > 0 else ["lt"]
    op = rng.choice(ops)
    threshold = nice_above(value, rng) if op == "lt" or value <= 0 else nice_below(value, rng)
    if threshold is None:
        op, threshold = "lt", nice_above(value, rng)
    text = _number_phrase(spec, op, threshold)
    return Clause({"field": spec.name, "op": op, "value": threshold}, text, text, text)


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def date_condition(spec: Field, value: dt.date, rng: random.Random) -> Clause:
    """ "released after 2012" / "released before March 2016": holds for the item's date."""
    verb = _date_verb(spec)
    if rng.random() < 0.5:
        year = value.year - rng.randint(1, 10)
        text = f"{verb} after {year}"
        constraint = {"field": spec.name, "op": "gt", "value": dt.date(year, 12, 31).isoformat()}
    elif spec.year_only:
        year = value.year + rng.randint(1, 10)
        text = f"{verb} before {year}"
        constraint = {"field": spec.name, "op": "lt", "value": dt.date(year, 1, 1).isoformat()}
    else:
        months = value.year * 12 + value.month - 1 + rng.randint(1, 24)
        year, month = divmod(months, 12)
        text = f"{verb} before {MONTHS[month]} {year}"
        constraint = {"field": spec.name, "op": "lt", "value": dt.date(year, month + 1, 1).isoformat()}
    return Clause(constraint, text, text, text)


def decade_clause(spec: Field, value: dt.date) -> Clause:
    decade = value.year // 10 * 10
    text = f"from the {decade}s"
    constraint = {
        "field": spec.name,
        "op": "between",
        "low": dt.date(decade, 1, 1).isoformat(),
        "high": dt.date(decade + 9, 12, 31).isoformat(),
    }
    return Clause(constraint, text, text, text)


def relative_conditions(catalog: Catalog, item: Item) -> list[Clause]:
    """Relative requests the item satisfies: cheap / expensive (bottom / top 20% of a price),
    recent (newest 10% of a date field), popular (top 5% by interactions). Their natural form is a
    relative clause ("games that are cheap"), as a bare adjective after the noun is not English."""
    position = catalog.index[item.id]
    clauses = []
    for spec in catalog.query_fields(FieldKind.NUMERIC, FieldKind.DATE):
        column = catalog.numeric_column(spec.name)
        value = column[position]
        present = column[~np.isnan(column)]
        if np.isnan(value) or len(present) < 20:
            continue
        if spec.kind is FieldKind.NUMERIC and spec.is_price:
            low, high = np.percentile(present, [20, 80])
            if value < low:
                clauses.append(
                    Clause(
                        {"field": spec.name, "op": "lt", "value": float(low)},
                        "that are cheap",
                        "cheap",
                        "that are cheap",
                    )
                )
            if value > high:
                clauses.append(
                    Clause(
                        {"field": spec.name, "op": "gt", "value": float(high)},
                        "that are expensive",
                        "expensive",
                        "that are expensive",
                    )
                )
        if spec.kind is FieldKind.DATE:
            recent = float(np.percentile(present, 90))
            if value > recent:
                iso = dt.date.fromordinal(int(recent)).isoformat()
                clauses.append(
                    Clause(
                        {"field": spec.name, "op": "gt", "value": iso}, "that are recent", "recent", "that are recent"
                    )
                )
    if catalog.histories:
        threshold = float(np.percentile(catalog.popularity, 95))
        if catalog.popularity[position] > threshold:
            clauses.append(
                Clause(
                    {"field": "popularity", "op": "gt", "value": threshold},
                    "that are popular",
                    "popular",
                    "that are popular",
                )
            )
    return clauses


#: The largest share of the catalog a VC2I query may accept. A condition most items meet ("released
#: after 1898") measures nothing: a random ranking would satisfy it. The paper sets no such bound.
MAX_CONDITION_SHARE = 0.5


def sample_conditions(catalog: Catalog, item: Item, rng: random.Random) -> list[Clause]:
    """One or two vague numeric/date conditions, sometimes a relative one, all true of ``item``;
    each, and the two together, accept at most :data:`MAX_CONDITION_SHARE` of the catalog."""
    candidates = [
        clause
        for clause in _condition_candidates(catalog, item, rng)
        if constraint_mask(catalog, clause.constraint).mean() <= MAX_CONDITION_SHARE
    ]
    if not candidates:
        return []
    return rng.sample(candidates, 1 if rng.random() < 0.6 else min(2, len(candidates)))


def _condition_candidates(catalog: Catalog, item: Item, rng: random.Random) -> list[Clause]:
    candidates: list[Clause] = []
    for spec in catalog.query_fields(FieldKind.NUMERIC, FieldKind.DATE):
        value = item.fields.get(spec.name)
        if value is None:
            continue
        if spec.kind is FieldKind.DATE:
            candidates.append(date_condition(spec, value, rng))  # type: ignore[arg-type]
        else:
            candidates.append(numeric_condition(spec, float(value), rng))  # type: ignore[arg-type]
    relative = relative_conditions(catalog, item)
    if relative and rng.random() < 0.3:
        candidates.append(rng.choice(relative))
    return candidates


EXCLUSION_WORDINGS = (
    "not including {label}: {values}",
    "without any of these {label}: {values}",
    "excluding {label} {values}",
    "with no {values} in its {label}",
)


def sample_exclusion(catalog: Catalog, item: Item, rng: random.Random, vocabulary_size: int = 30) -> Clause | None:
    """ "not including tags: Horror, Indie": 1-3 frequent values of a list/categorical field that
    ``item`` does not hold (the item has the field, so the exclusion is informative)."""
    fields = [s for s in catalog.query_fields(FieldKind.LIST, FieldKind.CATEGORICAL) if s.name in item.fields]
    if not fields:
        return None
    spec = rng.choice(fields)
    held = item.fields[spec.name]
    held_values = set(held) if spec.kind is FieldKind.LIST else {held}  # type: ignore[arg-type]
    vocabulary = [v for v, _ in catalog.vocabulary(spec.name)[:vocabulary_size] if v not in held_values]
    if not vocabulary:
        return None
    chosen = rng.sample(vocabulary, min(len(vocabulary), rng.randint(1, 3)))
    text = rng.choice(EXCLUSION_WORDINGS).format(label=spec.display, values=", ".join(chosen))
    return Clause({"field": spec.name, "op": "has_none", "values": chosen}, text, ", ".join(chosen), text)


#: The largest share of the catalog an NA2I request's wanted value may cover, so that the request
#: (what is wanted, minus what is excluded) accepts few items and a random ranking cannot pass it.
MAX_WANTED_SHARE = 0.4
EXCLUSION_JOINS = (" ", ", but ")


def sample_wanted_and_excluded(catalog: Catalog, item: Item, rng: random.Random) -> tuple[Clause, Clause, str] | None:
    """NA2I as users ask it: what they want and what they exclude ("a Strategy game, but not
    including tags: Horror, Survival"). The wanted value is one the item holds, of a list or
    categorical field, held by at most :data:`MAX_WANTED_SHARE` of the catalog; the exclusion is as
    :func:`sample_exclusion` makes it. Returns (wanted, excluded, request text) or None."""
    excluded = sample_exclusion(catalog, item, rng)
    if excluded is None:
        return None
    options = []
    for spec in catalog.query_fields(FieldKind.LIST, FieldKind.CATEGORICAL):
        value = item.fields.get(spec.name)
        if value is None:
            continue
        held = value if spec.kind is FieldKind.LIST else [value]
        for v in held:  # type: ignore[union-attr]
            if (
                str(v) not in excluded.constraint["values"]
                and 0 < catalog.value_mask(spec.name, str(v)).mean() <= MAX_WANTED_SHARE
            ):
                options.append((spec, str(v)))
    if not options:
        return None
    spec, value = rng.choice(options)
    wanted = attribute_clause(spec, [value] if spec.kind is FieldKind.LIST else value, rng, 1)
    text = lexicalise_request(catalog, [wanted]) + rng.choice(EXCLUSION_JOINS) + excluded.natural
    return wanted, excluded, text


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


#: A request's threshold that this share or more of the items with the field meet says nothing
#: ("with IMDb rating below 10", "released after 1900"): it is left out of the request.
MAX_REQUEST_SHARE = 0.95


def _says_something(catalog: Catalog, clause: Clause) -> bool:
    """Whether a numeric or date ``clause`` excludes more than a sliver of the items that have its field."""
    field = clause.constraint["field"]
    present = ~np.isnan(catalog.numeric_column(field))
    return bool(present.any()) and constraint_mask(catalog, clause.constraint)[present].mean() < MAX_REQUEST_SHARE


def request_clauses(catalog: Catalog, item: Item, rng: random.Random) -> list[Clause]:
    """2-4 facts about ``item`` that a search request can paraphrase without naming it."""
    clauses: list[Clause] = []
    said: set[str] = set()  # no value said twice (unsaid)
    for spec in catalog.query_fields():
        value = item.fields.get(spec.name)
        if value is None or spec.kind is FieldKind.TEXT:
            continue
        if spec.kind in (FieldKind.LIST, FieldKind.CATEGORICAL):
            fresh = unsaid(spec, value, said)
            if fresh is not None:
                max_values = 2 if spec.kind is FieldKind.LIST else None
                clauses.append(remember(said, attribute_clause(spec, fresh, rng, max_values)))
        elif spec.kind is FieldKind.NUMERIC:
            clause = numeric_condition(spec, float(value), rng)  # type: ignore[arg-type]
            if clause and _says_something(catalog, clause):
                clauses.append(clause)
        else:
            clause = decade_clause(spec, value) if rng.random() < 0.6 else date_condition(spec, value, rng)  # type: ignore[arg-type]
            if _says_something(catalog, clause):
                clauses.append(clause)
    if not clauses:
        return []
    return rng.sample(clauses, min(len(clauses), rng.randint(2, 4)))


def lexicalise_request(catalog: Catalog, clauses: list[Clause]) -> str:
    """ "an Action and Thriller movie from the 1990s under 120 minutes": list values become
    modifiers before the noun, everything else follows it."""
    modifiers = [
        c.natural
        for c in clauses
        if c.constraint["op"] == "has_all" and catalog.schema[c.constraint["field"]].kind is FieldKind.LIST
    ]
    rest = [c.natural for c in clauses if c.natural not in modifiers]
    head = " ".join(modifiers + [catalog.noun])
    return ", ".join([f"{article(head)} {head}"] + rest)
