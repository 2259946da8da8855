"""Ranking metrics on binary relevance, computed per query.

In plain terms: a ranking is a row of retrieved items, and ``relevant[q, r]`` says whether the item
at rank ``r`` of query ``q`` is relevant. Every metric is a function of that boolean matrix (and,
for recall and NDCG, of how many relevant items exist), so each is testable on hand-made arrays.

================  =============================================================================
metric            per query
================  =============================================================================
Hit@K             1 if any of the top K is relevant (ir-measures: Success@K)
Coverage@K        share of the top K that is relevant. With relevance = "is a positive" this is
                  |top-K ∩ positives| / K (id tasks); with relevance = "satisfies the query's
                  constraints" it is the paper's Coverage@K of FA2I, SA2I, VC2I and NA2I
Recall@K          |top-K ∩ positives| / |positives|
NDCG@K            DCG@K / ideal DCG@K, gains 1/log2(rank + 1), ideal = min(|positives|, K) hits
MRR               1 / rank of the first relevant item within the retrieved depth, else 0
                  (ir-measures: RR@depth)
================  =============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _check(relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    relevant = np.asarray(relevant, dtype=bool)
    if relevant.ndim != 2:
        raise ValueError(f"relevant must be a (queries x ranks) matrix, got shape {relevant.shape}")
    if k is not None and not 1 <= k <= relevant.shape[1]:
        raise ValueError(f"k must be in 1..{relevant.shape[1]} (the retrieved depth), got {k}")
    return relevant


def hit_at_k(relevant: np.ndarray, k: int) -> np.ndarray:
    return _check(relevant, k)[:, :k].any(axis=1).astype(float)


def coverage_at_k(relevant: np.ndarray, k: int) -> np.ndarray:
    return _check(relevant, k)[:, :k].sum(axis=1) / k


def recall_at_k(relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    n = np.asarray(n_relevant, dtype=float)
    hits = _check(relevant, k)[:, :k].sum(axis=1)
    return np.divide(hits, n, out=np.zeros_like(n), where=n > 0)


def ndcg_at_k(relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    relevant = _check(relevant, k)[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (relevant * discounts).sum(axis=1)
    ideal_hits = np.minimum(np.asarray(n_relevant, dtype=int), k)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_hits]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def reciprocal_rank(relevant: np.ndarray) -> np.ndarray:
    relevant = _check(relevant)
    first = relevant.argmax(axis=1)
    return np.where(relevant.any(axis=1), 1.0 / (first + 1), 0.0)


@dataclass(frozen=True)
class Judgements:
    """What a task's relevance says about the retrieved lists of its queries (``itemlib.evaluation.judge``).

    Attributes:
        relevant: (queries x depth) bool, the retrieved item is one of the query's positives.
        satisfying: (queries x depth) bool, the retrieved item satisfies the query's constraints
            (Coverage tasks); equal to ``relevant`` for the others.
        n_positive: (queries,) how many positives each query has in the catalog.
        n_satisfying: (queries,) how many items of the catalog satisfy the query's constraints, the
            masked ones left out (Coverage tasks); equal to ``n_positive`` for the others.
    """

    relevant: np.ndarray
    satisfying: np.ndarray
    n_positive: np.ndarray
    n_satisfying: np.ndarray


def ceiling(judged: Judgements, metric: str, k: int) -> np.ndarray:
    """Per query, the best ``metric``@``k`` a perfect ranking reaches: Hit is 1 when the query has a
    positive; Coverage is min(satisfying items, k) / k, below 1 for a query few items satisfy."""
    if metric == "coverage":
        return np.minimum(judged.n_satisfying, k) / k
    if metric == "hit":
        return (judged.n_positive > 0).astype(float)
    raise ValueError(f"no ceiling for {metric!r}")


#: The metrics reported at every cut-off K, by name, in the order tables list them: each maps a
#: task's judgements and K to one value per query. A new metric is one entry here.
METRICS_AT_K: dict[str, Callable[[Judgements, int], np.ndarray]] = {
    "hit": lambda judged, k: hit_at_k(judged.relevant, k),
    "coverage": lambda judged, k: coverage_at_k(judged.satisfying, k),
    "recall": lambda judged, k: recall_at_k(judged.relevant, judged.n_positive, k),
    "ndcg": lambda judged, k: ndcg_at_k(judged.relevant, judged.n_positive, k),
}
#: The metrics over the whole retrieved depth, by name.
METRICS_AT_DEPTH: dict[str, Callable[[Judgements], np.ndarray]] = {
    "mrr": lambda judged: reciprocal_rank(judged.relevant),
}
