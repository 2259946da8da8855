"""Diagnoses of where fine-tuning hurts: how retrieved items fail, beyond a headline metric.

``condition_breakdown``: which retrieved items break which numeric or date condition. Coverage@K
of VC2I says how often the top K satisfy a query such as "released before 2007"; it does not say
*how* the others fail. This module splits every (query, condition) pair of a constraint test set by
field and operator and reports, for the top K of a retriever, the share that satisfies
the condition, the share that lacks the field, and the share that sits on the boundary: the very
value the query names ("2007" in "before 2007"; for dates, the same calendar year). A model that
matches the number in the query as a word rather than as a limit fills its top K with boundary
items, which fail strict "before" / "after" / "below" / "above" conditions.

``target_concentration``: how much of each behaviour task's test answers are among the catalog's
most popular items; where most are, "most popular" is a strong reference by construction.

``popular_share``: how much of the top K comes from the catalog's most popular items. Behaviour
tasks (predict the next item of a history) reward a popularity prior; this measures whether that
prior leaks into queries where popularity is irrelevant, such as a misspelled title.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog, FieldKind
from itemlib.relevance import constraint_mask
from itemlib.retrieval import Retriever, search_records
from itemlib.taskinfo import task_info

COMPARISONS = ("lt", "gt")
#: How the diagnosis page and the results page name each comparison (dates: before / after).
COMPARISON_NAMES = {"lt": "before / below", "gt": "after / above"}


def _boundary(catalog: Catalog, field: str, values: np.ndarray, threshold: object) -> np.ndarray:
    """Which ``values`` (the catalog's numeric column) equal the threshold a query names."""
    spec = catalog.schema.get(field)  # None for derived columns such as popularity
    if spec is not None and spec.kind is FieldKind.DATE:
        year = dt.date.fromisoformat(str(threshold)).year
        return np.array([not np.isnan(v) and dt.date.fromordinal(int(v)).year == year for v in values])
    return values == float(threshold)  # type: ignore[arg-type]


def condition_breakdown(retriever: Retriever, catalog: Catalog, records: Sequence[dict], k: int = 5) -> pd.DataFrame:
    """One row per (query, "lt"/"gt" condition) of ``records`` (a constraint task's test records):
    field, op, and the shares of the top ``k`` that satisfy it, lack the field or sit on its
    boundary, beside the share of the whole catalog that satisfies it (what random retrieval gets)."""
    retriever.index(catalog)
    ranked = search_records(retriever, catalog, records, k)
    rows = []
    for record, top in zip(records, ranked):
        for condition in record["spec"].get("constraints", []):
            if condition.get("op") not in COMPARISONS:
                continue
            field = str(condition["field"])
            satisfied = constraint_mask(catalog, condition)
            values = catalog.numeric_column(field)[top]
            rows.append(
                {
                    "field": field,
                    "op": condition["op"],
                    "satisfied": float(satisfied[top].mean()),
                    "missing field": float(np.isnan(values).mean()),
                    "on the boundary": float(_boundary(catalog, field, values, condition["value"]).mean()),
                    "catalog rate": float(satisfied.mean()),
                }
            )
    return pd.DataFrame(rows, columns=["field", "op", "satisfied", "missing field", "on the boundary", "catalog rate"])


def popular_share(
    retriever: Retriever, catalog: Catalog, records: Sequence[dict], k: int = 5, top_fraction: float = 0.01
) -> np.ndarray:
    """Per test record: the share of its top ``k`` among the ``top_fraction`` most interacted-with
    items of the catalog (users' held-out last items not counted)."""
    if not 0 < top_fraction < 1:
        raise ValueError(f"top_fraction must be between 0 and 1, got {top_fraction}")
    popular = catalog.popularity >= np.quantile(catalog.popularity, 1 - top_fraction)
    retriever.index(catalog)
    ranked = search_records(retriever, catalog, records, k)
    return popular[ranked].mean(axis=1)


def _list_values(catalog: Catalog) -> list[set[tuple[str, str]]]:
    """Per item (catalog position): its (field, value) pairs over every list field (genres, tags)."""
    fields = [name for name, spec in catalog.schema.items() if spec.kind is FieldKind.LIST]
    return [{(name, str(v)) for name in fields for v in (item.fields.get(name) or [])} for item in catalog.items]


def shared_content(retriever: Retriever | None, catalog: Catalog, records: Sequence[dict], k: int = 5) -> np.ndarray:
    """Per I2I test record: the share of the top ``k`` (with ``retriever`` None: of the record's own
    answers, its source's co-occurrence neighbours) that shares a genre or tag with the source item.
    A text encoder that ranks by content scores high; answers drawn from behaviour need not."""
    values = _list_values(catalog)
    sources = [values[catalog.index[r["mask_ids"][0]]] for r in records]
    if retriever is None:
        lists = [[catalog.index[i] for i in r["pos_ids"]] for r in records]
    else:
        retriever.index(catalog)
        lists = search_records(retriever, catalog, records, k).tolist()
    return np.array([np.mean([bool(values[p] & source) for p in positions]) if positions else np.nan
                     for positions, source in zip(lists, sources)])  # fmt: skip


#: How many of the most popular items :func:`target_concentration` counts.
POPULAR_TOP = 50


def target_concentration(catalog: Catalog, tests: dict[str, list[dict]], top: int = POPULAR_TOP) -> dict[str, float]:
    """Per behaviour task of ``tests`` (:func:`itemlib.evaluation.load_tests`): the share of its test
    answers (every positive of every query) among the ``top`` most interacted-with items, users'
    held-out last items not counted; ties at the cut by item position."""
    popular = set(np.argsort(-catalog.popularity, kind="stable")[:top].tolist())
    shares = {}
    for task, records in tests.items():
        if task_info(task).group != "behaviour" or not records:
            continue
        answers = [catalog.index[i] for record in records for i in record["pos_ids"]]
        shares[task] = round(sum(a in popular for a in answers) / len(answers), 4)
    return shares
