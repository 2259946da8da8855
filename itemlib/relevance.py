"""Relevance predicates: what a query asserts (its ``spec``) and which items satisfy it.

One predicate serves three jobs, so they can never disagree: verifying training negatives,
filtering in-batch negatives, and Coverage@K at test time. A spec is plain JSON:

``{"ids": [...], "constraints": [...]}`` -- an item is relevant when its id is listed (a user's
whole sequence, an item's co-occurrence neighbours) **or**, when constraints are given, it
satisfies all of them. Constraint operators (dates are ISO strings, compared by day):

=============  =====================================  =====================================
op             fields                                 holds when
=============  =====================================  =====================================
``has_all``    list / categorical, ``values``         the item holds every value
``has_none``   list / categorical, ``values``         the item holds none of them
``lt``/``gt``  numeric / date / ``popularity``,       value strictly below / above
               ``value``
``between``    numeric / date, ``low``, ``high``      low <= value <= high
``title_eq``   ``value`` (a normalised title)         same title, case and spacing ignored
``contains``   free text, ``value``                   the text contains the phrase
=============  =====================================  =====================================

An item missing a field fails every positive condition on it and passes ``has_none``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np

from itemlib.catalog import Catalog, CatalogError, FieldKind, title_words

Spec = Mapping[str, object]
#: The constraint operators of the table above.
OPERATORS = ("has_all", "has_none", "lt", "gt", "between", "title_eq", "contains")


def spec_problem(spec: object) -> str | None:
    """What is wrong with the shape of a stored ``spec`` (None: nothing), said before any scoring so
    a reader can name the file and line: ``ids`` a list, ``constraints`` a list of objects each with a
    ``field`` and a known ``op``."""
    if not isinstance(spec, Mapping):
        return "spec is not an object"
    if not isinstance(spec.get("ids", []), list):
        return "spec ids is not a list"
    constraints = spec.get("constraints") or []
    if not isinstance(constraints, list):
        return "spec constraints is not a list"
    for constraint in constraints:
        if not isinstance(constraint, Mapping) or not isinstance(constraint.get("field"), str):
            return f"constraint {constraint!r} is not an object with a field"
        if constraint.get("op") not in OPERATORS:
            return f"unknown constraint operator {constraint.get('op')!r} (operators: {', '.join(OPERATORS)})"
    return None


def _number(catalog: Catalog, field: str, value: object) -> float:
    spec = catalog.schema.get(field)
    if spec is not None and spec.kind is FieldKind.DATE:
        return float(dt.date.fromisoformat(str(value)).toordinal())
    return float(value)  # type: ignore[arg-type]


def constraint_mask(catalog: Catalog, constraint: Mapping[str, object]) -> np.ndarray:
    """Boolean mask over the catalog's items of those satisfying one constraint."""
    op, field = constraint.get("op"), str(constraint.get("field"))
    if op in ("has_all", "has_none"):
        if field not in catalog.value_index:
            raise CatalogError(f"constraint on {field!r}: not a list or categorical field of {catalog.name!r}")
        held = [catalog.value_mask(field, str(v)) for v in constraint["values"]]  # type: ignore[union-attr]
        if not held:
            return np.ones(len(catalog), dtype=bool)
        return np.logical_and.reduce(held) if op == "has_all" else ~np.logical_or.reduce(held)
    if op in ("lt", "gt", "between"):
        try:
            column = catalog.numeric_column(field)
        except KeyError:
            raise CatalogError(f"constraint on {field!r}: not a numeric or date field of {catalog.name!r}") from None
        with np.errstate(invalid="ignore"):
            if op == "lt":
                return column < _number(catalog, field, constraint["value"])
            if op == "gt":
                return column > _number(catalog, field, constraint["value"])
            low, high = _number(catalog, field, constraint["low"]), _number(catalog, field, constraint["high"])
            return (column >= low) & (column <= high)
    if op == "title_eq":
        mask = np.zeros(len(catalog), dtype=bool)
        mask[catalog.items_by_title.get(str(constraint["value"]), [])] = True
        return mask
    if op == "contains":
        phrase = str(constraint["value"]).lower()
        return np.array([phrase in str(item.fields.get(field, "")).lower() for item in catalog.items])
    raise CatalogError(f"unknown constraint operator {op!r} in {dict(constraint)}")


def ids_mask(catalog: Catalog, ids: Sequence[str]) -> np.ndarray:
    mask = np.zeros(len(catalog), dtype=bool)
    mask[[catalog.index[i] for i in ids if i in catalog.index]] = True
    return mask


def relevant_mask(catalog: Catalog, spec: Spec) -> np.ndarray:
    """Boolean mask of the items relevant to a query with this spec."""
    mask = ids_mask(catalog, spec.get("ids", []))  # type: ignore[arg-type]
    constraints = spec.get("constraints") or []
    if constraints:
        satisfied = np.logical_and.reduce([constraint_mask(catalog, c) for c in constraints])  # type: ignore[union-attr]
        mask |= satisfied
    return mask


#: Share of the catalog a near miss is drawn from: the failing items closest to a threshold.
NEAR_MISS_SHARE = 0.02
#: Title words held by more than this share of titles ("love", "with") do not make a title similar.
COMMON_TITLE_WORD_SHARE = 0.01


def near_miss_mask(catalog: Catalog, constraint: Mapping[str, object]) -> np.ndarray:
    """Items that fail ``constraint`` yet look as if they met it: the hard negatives it needs.

    A threshold query's positive sits just inside the threshold (generators draw the threshold a
    few steps beyond the item's value), so random negatives teach "the value near the number in the
    query" rather than "on the right side of it". Near misses are the failing items closest to the
    threshold (the nearest :data:`NEAR_MISS_SHARE` of the catalog, ties kept): "released after 2012"
    gets films from 2012. A title lookup's near misses share a distinctive title word ("Toy Story"
    for "Toy Stroy 2"). Other operators have none.
    """
    op, field = constraint.get("op"), str(constraint.get("field"))
    mask = np.zeros(len(catalog), dtype=bool)
    if op in ("lt", "gt"):
        failing = ~constraint_mask(catalog, constraint)
        column = catalog.numeric_column(field)
        distance = np.abs(column - _number(catalog, field, constraint["value"]))
        candidates = np.flatnonzero(failing & ~np.isnan(column))
        if len(candidates):
            nearest = min(len(candidates), max(1, int(len(catalog) * NEAR_MISS_SHARE)))
            limit = np.partition(distance[candidates], nearest - 1)[nearest - 1]
            mask[candidates[distance[candidates] <= limit]] = True
    elif op == "title_eq":
        index = catalog.title_word_index
        common = COMMON_TITLE_WORD_SHARE * len(catalog)
        for word in title_words(str(constraint["value"])):
            positions = index.get(word)
            if positions is not None and len(positions) <= common:
                mask[positions] = True
        mask &= ~constraint_mask(catalog, constraint)
    return mask


def partial_mask(catalog: Catalog, spec: Spec) -> np.ndarray:
    """Items meeting at least one constraint: the hard negatives of an attribute query."""
    constraints = spec.get("constraints") or []
    if not constraints:
        return np.zeros(len(catalog), dtype=bool)
    return np.logical_or.reduce([constraint_mask(catalog, c) for c in constraints])  # type: ignore[union-attr]


def hard_negative_pool(catalog: Catalog, spec: Spec) -> np.ndarray:
    """Items that meet part of the query or narrowly miss one of its constraints (not yet
    excluding the relevant ones: the caller removes those)."""
    constraints = spec.get("constraints") or []
    pool = partial_mask(catalog, spec)
    for constraint in constraints:  # type: ignore[union-attr]
        pool |= near_miss_mask(catalog, constraint)
    return pool
