"""The paired comparison every claim, table and recipe choice of itemlib rests on, written once.

Two retrievers scored on the same queries in the same order are compared by the mean per-query
difference of their scores and its 95% paired bootstrap interval; the verdict says where the
interval lies: ``better`` (above zero), ``worse`` (below) or ``within noise``. The results page,
Chat-Rec, recipe validation and the benchmarks all call :func:`paired_comparison`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def paired_difference(
    tuned: Sequence[float], baseline: Sequence[float], seed: int = 0, resamples: int = 2000
) -> dict[str, float]:
    """Mean per-query difference ``tuned - baseline`` with a 95% bootstrap interval, and the two-sided
    p-value of a paired randomisation test (each query's difference flipped in sign at random), which
    :func:`holm` corrects when many comparisons are read together.

    Both models must be scored on the same queries in the same order; pairing removes the spread
    between easy and hard queries, so a difference whose interval excludes 0 is not query noise.
    """
    tuned, baseline = np.asarray(tuned, dtype=float), np.asarray(baseline, dtype=float)
    if tuned.ndim != 1 or tuned.shape != baseline.shape or len(tuned) < 2:
        raise ValueError(
            "paired_difference needs two equal-length score lists of at least 2 queries, "
            f"got shapes {tuned.shape} and {baseline.shape}"
        )
    diff = tuned - baseline
    if not diff.any():
        return {"difference": 0.0, "low": 0.0, "high": 0.0, "p": 1.0}
    flips = stats.permutation_test(
        (diff,), np.mean, permutation_type="samples", n_resamples=resamples, alternative="two-sided",
        random_state=np.random.default_rng(seed),
    )  # fmt: skip
    interval = stats.bootstrap(
        (diff,),
        np.mean,
        n_resamples=resamples,
        confidence_level=0.95,
        method="percentile",
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    return {"difference": float(diff.mean()), "low": float(interval.low), "high": float(interval.high),
            "p": float(flips.pvalue)}  # fmt: skip


#: How a paired difference is judged, by where its 95% interval lies.
VERDICTS = ("better", "within noise", "worse")


def verdict(low: float, high: float) -> str:
    """``better`` when the 95% interval of a difference lies above zero, ``worse`` below, else ``within noise``."""
    return "better" if low > 0 else "worse" if high < 0 else "within noise"


def paired_comparison(
    first: Sequence[float], second: Sequence[float], seed: int = 0, resamples: int = 2000
) -> dict[str, float | str]:
    """``first - second`` per query: the mean ``difference``, its 95% interval (``low``, ``high``) and
    its ``verdict``, for one table row."""
    difference = paired_difference(first, second, seed=seed, resamples=resamples)
    return difference | {"verdict": verdict(difference["low"], difference["high"])}


def compare_per_task(
    ours: pd.DataFrame, theirs: pd.DataFrame, labels: tuple[str, str], seed: int = 0
) -> list[dict[str, Any]]:
    """Per task of two evaluations' per-query tables (columns task and value, the same queries in the
    same order): the task, its queries, both means (under ``labels``: ours, theirs) and the paired
    comparison ours − theirs, rounded to four decimals: one row of a validation table each."""
    rows = []
    for task, group in theirs.groupby("task", sort=False):
        values = ours[ours.task == task].value.to_numpy()
        comparison = paired_comparison(values, group.value.to_numpy(), seed=seed)
        rows.append({"task": task, "queries": len(group), labels[1]: round(float(group.value.mean()), 4),
                     labels[0]: round(float(values.mean()), 4),
                     **{k: round(v, 4) if isinstance(v, float) else v for k, v in comparison.items()}})  # fmt: skip
    return rows


def interval_text(difference: float, low: float, high: float) -> str:
    """``+0.012 [-0.004, +0.030]``: a signed difference and its interval, as tables and claims print them."""
    return f"{difference:+.3f} [{low:+.3f}, {high:+.3f}]"


def judged_text(comparison: Mapping[str, Any]) -> str:
    """``+0.012 [-0.004, +0.030] within noise``: a comparison (its difference, low, high and verdict, as
    :func:`paired_comparison` returns them, or a table row of them) as an interval table's cell."""
    return f"{interval_text(comparison['difference'], comparison['low'], comparison['high'])} {comparison['verdict']}"


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (Holm 1979): it controls the chance of any
    false "better" or "worse" among them at the level the adjusted values are read at."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def corrected_verdict(difference: float, adjusted_p: float, level: float = 0.05) -> str:
    """The verdict after a multiplicity correction: the difference's direction where the adjusted
    p-value is below ``level``, else ``within noise``."""
    if adjusted_p >= level or difference == 0:
        return "within noise"
    return "better" if difference > 0 else "worse"
