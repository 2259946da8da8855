"""Requests people wrote: every arm on ReDial's recommendation dialogues over the MovieLens catalog.

The study's own dialogues are generated; ReDial's seekers wrote theirs (:mod:`itemlib.datasets.redial`
links them to the catalog and applies the field's protocol). Each arm ranks the whole catalog for
each case with the movies mentioned earlier masked, scored by Hit@K and Recall@K at the field's
cut-offs, and judged against the untuned encoder by paired 95% intervals. The collaborative-filtering
references read the movies mentioned earlier (none in a dialogue's first case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog
from itemlib.comparison import judged_text, paired_comparison
from itemlib.datasets.redial import load_redial
from itemlib.metrics import hit_at_k, recall_at_k
from itemlib.retrieval import make_retriever, search_records
from itemlib.study.arms import Arm

#: The cut-offs of the conversational-recommendation literature on ReDial.
REDIAL_KS = (10, 50)


@dataclass
class RedialResult:
    """``table``: each arm's mean Hit@K and Recall@K; ``intervals``: each arm − untuned per metric,
    with interval and verdict; ``per_case``: every arm's per-case values; ``report``: what the
    loader linked and counted."""

    split: str
    report: dict[str, int]
    table: pd.DataFrame
    intervals: pd.DataFrame
    per_case: dict[str, dict[str, list[float]]]
    arms: list[dict]  # Arm.to_dict() of each arm ranked, so that readers of the record know each one's role

    def metrics(self) -> dict:
        """What a run records of it in its metrics.json."""
        return {"split": self.split, "report": self.report, "table": self.table.reset_index().to_dict(orient="records"),
                "intervals": self.intervals.to_dict(orient="records"), "per_case": self.per_case,
                "arms": self.arms}  # fmt: skip


def run_redial(catalog: Catalog, arms: Sequence[Arm], split: str = "valid", seed: int = 0) -> RedialResult:
    """Every arm on the ReDial ``split`` over ``catalog`` (module docstring)."""
    loaded = load_redial(catalog, split)
    cases = loaded.cases
    n_positive = np.array([len(case["pos_ids"]) for case in cases])
    per_case: dict[str, dict[str, list[float]]] = {}
    for arm in arms:
        retriever = make_retriever(arm.model)
        retriever.index(catalog)
        ranked = search_records(retriever, catalog, cases, max(REDIAL_KS))
        relevant = np.array([[catalog.items[p].id in case["pos_ids"] for p in row] for row, case in zip(ranked, cases)])
        per_case[arm.label] = {}
        for k in REDIAL_KS:
            per_case[arm.label][f"hit@{k}"] = hit_at_k(relevant, k).tolist()
            per_case[arm.label][f"recall@{k}"] = recall_at_k(relevant, n_positive, k).tolist()
    table = pd.DataFrame(
        {label: {m: float(np.mean(v)) for m, v in metrics.items()} for label, metrics in per_case.items()}
    ).T
    rows = []
    for label in [a.label for a in arms if a.label != "untuned" and "untuned" in per_case]:
        for metric, values in per_case[label].items():
            comparison = paired_comparison(values, per_case["untuned"][metric], seed=seed)
            rows.append({"arm": label, "metric": metric, **comparison, "vs untuned [95% CI]": judged_text(comparison)})
    return RedialResult(split, loaded.report, table.rename_axis("arm"), pd.DataFrame(rows), per_case,
                        [arm.to_dict() for arm in arms])  # fmt: skip
