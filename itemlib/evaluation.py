"""Evaluate a retriever (encoder or baseline) on a generated test directory.

Per task: embed or score the queries, retrieve the masked top-20, judge each retrieved item with
the task's relevance (positives for Hit/Recall/NDCG/MRR; for Coverage of constraint tasks, the
query's constraints), and report every metric at K in {1, 5, 10, 20}. Out-of-domain evaluation is
the same call with another catalog's test directory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm  # not tqdm.auto: in a kernel without ipywidgets it warns on import

from itemlib.catalog import Catalog, CatalogError
from itemlib.metrics import coverage_at_k, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank
from itemlib.publish import published_dir, require_complete
from itemlib.relevance import relevant_mask
from itemlib.retrieval import Retriever, id_ranks, search_records
from itemlib.taskinfo import TASK_NAMES, task_info

KS = (1, 5, 10, 20)
HEADLINE_K = 5


@dataclass
class Evaluation:
    """``metrics``: tidy table (task, metric, k, value, queries); ``headline``: one row per task.

    ``per_query`` keeps each query's headline value (task, query = row in the test file, value), so
    two models scored on the same queries can be compared pairwise (see ``paired_difference``).
    """

    model: str
    catalog: str
    metrics: pd.DataFrame
    headline: pd.DataFrame
    per_query: pd.DataFrame

    def save(self, out_dir: str | Path) -> None:
        """Write the tables and ``metrics.json`` (last) into ``out_dir``, published whole."""
        with published_dir(out_dir, "metrics.json") as out:
            self.metrics.to_csv(out / "metrics.csv", index=False)
            self.headline.to_csv(out / "headline.csv", index=False)
            self.per_query.to_csv(out / "per_query.csv", index=False)
            payload = {
                "model": self.model,
                "catalog": self.catalog,
                "headline": self.headline.to_dict(orient="records"),
                "metrics": self.metrics.to_dict(orient="records"),
            }
            (out / "metrics.json").write_text(json.dumps(payload, indent=1) + "\n")


def load_tests(tests_dir: str | Path, catalog: Catalog, tasks: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """Test records per task; every id is checked against the catalog (file and line named).

    ``tests_dir`` is a folder written by ``itemlib generate`` or ``itemlib validation-split`` (or
    its ``test/`` folder); one without its completion record ``stats.json`` is refused.
    """
    directory = Path(tests_dir)
    if directory.name == "test" and not (directory / "test").is_dir():
        directory = directory.parent
    require_complete(directory, "stats.json", "run `itemlib generate` (or `itemlib validation-split`) again")
    test_dir = directory / "test"
    names = [task_info(t).name for t in (tasks or TASK_NAMES)]
    found: dict[str, list[dict]] = {}
    for name in names:
        path = test_dir / f"{name}.jsonl"
        if not path.exists():
            if tasks:
                raise CatalogError(f"{path}: no test file for task {name}")
            continue
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                record = json.loads(line)
            except ValueError:
                raise CatalogError(f"{path}:{number}: malformed JSON line") from None
            missing = [key for key in ("query", "pos_ids", "spec") if not isinstance(record, dict) or key not in record]
            if missing:
                raise CatalogError(f"{path}:{number}: test record lacks {', '.join(missing)}")
            unknown = [i for i in record["pos_ids"] + record.get("mask_ids", []) if i not in catalog.index]
            if unknown:
                raise CatalogError(
                    f"{path}:{number}: item {unknown[0]!r} is not in catalog {catalog.name!r} (wrong --catalog?)"
                )
            records.append(record)
        found[name] = records
    if not found:
        raise CatalogError(f"{test_dir}: no test files (<TASK>.jsonl) found")
    return found


def judge(catalog: Catalog, task: str, records: list[dict], ranked: np.ndarray) -> dict[str, np.ndarray]:
    """Relevance matrices of the retrieved items and positive counts for one task."""
    spec_task = task_info(task)
    relevant = np.zeros(ranked.shape, dtype=bool)
    satisfying = np.zeros(ranked.shape, dtype=bool)
    n_positive = np.zeros(len(records), dtype=int)
    for row, record in enumerate(records):
        masked = np.array([catalog.index[i] for i in record.get("mask_ids", [])], dtype=int)
        if spec_task.headline == "coverage":
            satisfied = relevant_mask(catalog, {"constraints": record["spec"].get("constraints", [])})
            satisfied[masked] = False
            satisfying[row] = satisfied[ranked[row]]
        if spec_task.positives_from_spec:
            relevant[row] = satisfying[row]
            n_positive[row] = int(satisfied.sum())
        else:
            positives = {catalog.index[i] for i in record["pos_ids"]}
            relevant[row] = [p in positives for p in ranked[row]]
            n_positive[row] = len(positives)
    coverage = satisfying if spec_task.headline == "coverage" else relevant
    return {"relevant": relevant, "coverage": coverage, "n_positive": n_positive}


def evaluate(
    retriever: Retriever,
    catalog: Catalog,
    tests_dir: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    ks: Sequence[int] = KS,
    backend: str = "exact",
    progress: bool = True,
) -> Evaluation:
    """Score ``retriever`` on every task of ``tests_dir`` (see the module docstring)."""
    tests = load_tests(tests_dir, catalog, tasks)
    retriever.index(catalog)
    ranks = id_ranks(catalog)
    depth = max(ks)
    rows = []
    per_query = []
    for task, records in tqdm(tests.items(), desc=f"evaluating {getattr(retriever, 'name', '')}", disable=not progress):
        if not records:
            continue
        ranked = search_records(retriever, catalog, records, depth, ranks=ranks, backend=backend)
        judged = judge(catalog, task, records, ranked)
        for k in ks:
            for metric, values in (
                ("hit", hit_at_k(judged["relevant"], k)),
                ("coverage", coverage_at_k(judged["coverage"], k)),
                ("recall", recall_at_k(judged["relevant"], judged["n_positive"], k)),
                ("ndcg", ndcg_at_k(judged["relevant"], judged["n_positive"], k)),
            ):
                rows.append(
                    {"task": task, "metric": metric, "k": k, "value": float(values.mean()), "queries": len(records)}
                )
                if metric == task_info(task).headline and k == HEADLINE_K:
                    per_query.append(
                        pd.DataFrame({"task": task, "query": np.arange(len(records)), "value": values.astype(float)})
                    )
        rows.append(
            {
                "task": task,
                "metric": "mrr",
                "k": depth,
                "value": float(reciprocal_rank(judged["relevant"]).mean()),
                "queries": len(records),
            }
        )
        base_rates = [r.get("base_rate", r.get("n_relevant", len(r["pos_ids"])) / len(catalog)) for r in records]
        rows.append({"task": task, "metric": "base_rate", "k": 0, "value": float(np.mean(base_rates)),
                     "queries": len(records)})  # fmt: skip
    metrics = pd.DataFrame(rows, columns=["task", "metric", "k", "value", "queries"])
    per_query_table = (
        pd.concat(per_query, ignore_index=True) if per_query else pd.DataFrame(columns=["task", "query", "value"])
    )
    return Evaluation(
        getattr(retriever, "name", "model"), catalog.name, metrics, headline_table(metrics), per_query_table
    )


def paired_difference(
    tuned: Sequence[float], baseline: Sequence[float], seed: int = 0, resamples: int = 2000
) -> dict[str, float]:
    """Mean per-query difference ``tuned - baseline`` with a 95% bootstrap interval.

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
        return {"difference": 0.0, "low": 0.0, "high": 0.0}
    interval = stats.bootstrap(
        (diff,),
        np.mean,
        n_resamples=resamples,
        confidence_level=0.95,
        method="percentile",
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    return {"difference": float(diff.mean()), "low": float(interval.low), "high": float(interval.high)}


#: How a paired difference is judged, by where its 95% interval lies.
VERDICTS = ("better", "within noise", "worse")


def verdict(low: float, high: float) -> str:
    """``better`` when the 95% interval of a difference lies above zero, ``worse`` below, else ``within noise``."""
    return "better" if low > 0 else "worse" if high < 0 else "within noise"


def headline_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """The paper's headline per task: Hit@5 (behaviour, AS2I, NM2I) or Coverage@5 (constraint tasks),
    with the mean base rate of its queries (the share of the catalog that answers one: what a random
    ranking scores)."""
    rows = []
    for task in [t for t in TASK_NAMES if t in set(metrics.task)]:
        metric = task_info(task).headline
        match = metrics[(metrics.task == task) & (metrics.metric == metric) & (metrics.k == HEADLINE_K)]
        base = metrics[(metrics.task == task) & (metrics.metric == "base_rate")]
        rows.append(
            {
                "task": task,
                "metric": f"{metric}@{HEADLINE_K}",
                "value": float(match.value.iloc[0]),
                "queries": int(match.queries.iloc[0]),
                "base_rate": float(base.value.iloc[0]) if len(base) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["task", "metric", "value", "queries", "base_rate"])
