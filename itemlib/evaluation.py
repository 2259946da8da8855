"""Evaluate a retriever (encoder or baseline) on a generated test directory.

Per task: embed or score the queries, retrieve the masked top-20, judge each retrieved item with
the task's relevance (positives for Hit/Recall/NDCG/MRR; for Coverage of constraint tasks, the
query's constraints), and report every metric at K in {1, 5, 10, 20}. A collaborative-filtering
reference is scored on the behaviour tasks only (it reads item ids, which only they carry). Out-of-domain evaluation is
the same call with another catalog's test directory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm  # not tqdm.auto: in a kernel without ipywidgets it warns on import

from itemlib.catalog import Catalog, CatalogError
from itemlib.collaborative import ReadsItemsError
from itemlib.config import Config, option
from itemlib.jsonl import is_text_list, jsonl_lines, strict_loads
from itemlib.metrics import METRICS_AT_DEPTH, METRICS_AT_K, Judgements, ceiling
from itemlib.publish import published_dir, require_catalog, require_complete
from itemlib.relevance import relevant_mask, spec_problem
from itemlib.retrieval import Retriever, id_ranks, reads_items, search_records
from itemlib.taskinfo import TASK_NAMES, task_info, task_option

#: Every metric is reported at these cut-offs; the deepest is the retrieval depth.
KS = (1, 5, 10, 20)
#: The cut-off of the paper's headline per task (Hit@5 or Coverage@5).
HEADLINE_K = 5
#: How tables and plots label the headline metric of a task.
HEADLINE_LABEL = f"headline @{HEADLINE_K}"
#: Search backends: exact masked top-K, or faiss over an encoder's embeddings (the same lists).
BACKENDS = ("exact", "faiss")


@dataclass
class EvaluateConfig(Config):
    """How a retriever is scored on a test set."""

    tasks: list[str] | None = task_option("tasks to score (default: all found)")
    backend: str = option("exact", choices=BACKENDS, help="exact masked top-K, or faiss for very large catalogs")
    progress: bool = option(True, flag="--quiet", help="no progress bar")


@dataclass
class Evaluation:
    """``metrics``: tidy table (task, metric, k, value, queries); ``headline``: one row per task.

    ``per_query`` keeps each query's headline value (task, query = row in the test file, value), so
    two models scored on the same queries can be compared pairwise (see :func:`itemlib.comparison.paired_comparison`).
    """

    model: str
    catalog: str
    metrics: pd.DataFrame
    headline: pd.DataFrame
    per_query: pd.DataFrame

    def save(self, out_dir: str | Path) -> None:
        """Write the tables and ``metrics.json`` (last) into ``out_dir``, published whole."""
        with published_dir(out_dir, "metrics.json", "evaluate") as out:
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


def load_tests(
    tests_dir: str | Path, catalog: Catalog, tasks: Sequence[str] | None = None, *, folder: str = "test"
) -> dict[str, list[dict]]:
    """Test records per task; every id is checked against the catalog (file and line named).

    ``tests_dir`` is a folder written by ``itemlib generate`` or ``itemlib validation-split`` (or
    its ``test/`` folder); one without its completion record ``stats.json`` is refused. ``folder``
    names the subfolder read: ``validation`` reads the test-shaped validation queries ``itemlib
    generate --validation-per-task`` wrote (none: an empty result).
    """
    directory = Path(tests_dir)
    if directory.name == folder and not (directory / folder).is_dir():
        directory = directory.parent
    stats = require_complete(directory, "stats.json", "run `itemlib generate` (or `itemlib validation-split`) again")
    require_catalog(directory, stats, catalog)
    test_dir = directory / folder
    if folder != "test" and not test_dir.is_dir():
        return {}
    names = [task_info(t).name for t in (tasks or TASK_NAMES)]
    found: dict[str, list[dict]] = {}
    for name in names:
        path = test_dir / f"{name}.jsonl"
        if not path.exists():
            if tasks:
                raise CatalogError(f"{path}: no test file for task {name}")
            continue
        records = []
        for number, line in enumerate(jsonl_lines(path.read_text(encoding="utf-8")), start=1):
            try:
                record = strict_loads(line)
            except ValueError as error:
                raise CatalogError(f"{path}:{number}: malformed JSON line ({error})") from None
            missing = [key for key in ("query", "pos_ids", "spec") if not isinstance(record, dict) or key not in record]
            if missing:
                raise CatalogError(f"{path}:{number}: test record lacks {', '.join(missing)}")
            typed = isinstance(record["query"], str) and isinstance(record["spec"], dict)
            if problem := spec_problem(record["spec"]):
                raise CatalogError(f"{path}:{number}: {problem}")
            if not (typed and is_text_list(record["pos_ids"]) and is_text_list(record.get("mask_ids", []))):
                raise CatalogError(f"{path}:{number}: test record has a field of the wrong type (query a text, "
                                   "pos_ids and mask_ids lists of ids, spec an object)")  # fmt: skip
            unknown = [i for i in record["pos_ids"] + record.get("mask_ids", []) if i not in catalog.index]
            if unknown:
                raise CatalogError(
                    f"{path}:{number}: item {unknown[0]!r} is not in catalog {catalog.name!r} (wrong --catalog?)"
                )
            records.append(record)
        found[name] = records
    if not found and folder == "test":
        raise CatalogError(f"{test_dir}: no test files (<TASK>.jsonl) found")
    return found


#: The two parts of FA2I's and SA2I's queries whose headline is also reported apart (:func:`names_title`).
TITLE_PARTS = ("title named", "title not named")


def part_ceiling(part: str) -> str:
    """The metric name of a title part's ceiling: what a perfect ranking scores on that part alone."""
    return f"ceiling, {part}"


def names_title(record: dict) -> bool:
    """Whether a test query states its item's title (a ``title`` constraint): about half of FA2I's
    and SA2I's do, as the paper's full and sparse attributes may include the title; the evaluation
    reports the headline of those queries and of the others apart (metrics "title named" and
    "title not named"), each beside its ceiling ("ceiling, title named", ...): a named title often
    leaves its item the only one that satisfies the query."""
    return any(c.get("field") == "title" for c in record["spec"].get("constraints", []))


def judge(catalog: Catalog, task: str, records: list[dict], ranked: np.ndarray) -> Judgements:
    """Relevance matrices of the retrieved items and positive counts for one task."""
    spec_task = task_info(task)
    relevant = np.zeros(ranked.shape, dtype=bool)
    satisfying = np.zeros(ranked.shape, dtype=bool)
    n_positive = np.zeros(len(records), dtype=int)
    n_satisfying = np.zeros(len(records), dtype=int)
    for row, record in enumerate(records):
        masked = np.array([catalog.index[i] for i in record.get("mask_ids", [])], dtype=int)
        if spec_task.headline == "coverage":
            satisfied = relevant_mask(catalog, {"constraints": record["spec"].get("constraints", [])})
            satisfied[masked] = False
            satisfying[row] = satisfied[ranked[row]]
            n_satisfying[row] = int(satisfied.sum())
        if spec_task.positives_from_spec:
            relevant[row] = satisfying[row]
            n_positive[row] = int(satisfied.sum())
        else:
            positives = {catalog.index[i] for i in record["pos_ids"]}
            relevant[row] = [p in positives for p in ranked[row]]
            n_positive[row] = len(positives)
    if spec_task.headline != "coverage":
        return Judgements(relevant, relevant, n_positive, n_positive)
    return Judgements(relevant, satisfying, n_positive, n_satisfying)


def evaluate(
    retriever: Retriever,
    catalog: Catalog,
    tests_dir: str | Path,
    config: EvaluateConfig | None = None,
    *,
    ks: Sequence[int] = KS,
    **settings: Any,
) -> Evaluation:
    """Score ``retriever`` on every task of ``tests_dir`` (see the module docstring); ``settings``
    are fields of :class:`EvaluateConfig` that override ``config`` (``progress=False``)."""
    config = dataclasses.replace(config or EvaluateConfig(), **settings)
    tests = load_tests(tests_dir, catalog, config.tasks)
    if reads_items(retriever):  # a collaborative-filtering reference answers the behaviour tasks only
        tests = {task: records for task, records in tests.items() if task_info(task).group == "behaviour"}
        if not tests:
            raise ReadsItemsError(retriever.name)
    retriever.index(catalog)
    ranks = id_ranks(catalog)
    depth = max(ks)
    rows = []
    per_query = []
    for task, records in tqdm(
        tests.items(), desc=f"evaluating {getattr(retriever, 'name', '')}", disable=not config.progress
    ):
        if not records:
            continue
        ranked = search_records(retriever, catalog, records, depth, ranks=ranks, backend=config.backend)
        judged = judge(catalog, task, records, ranked)
        for k in ks:
            for metric, measure in METRICS_AT_K.items():
                values = measure(judged, k)
                rows.append(
                    {"task": task, "metric": metric, "k": k, "value": float(values.mean()), "queries": len(records)}
                )
                if metric == task_info(task).headline and k == HEADLINE_K:
                    per_query.append(
                        pd.DataFrame({"task": task, "query": np.arange(len(records)), "value": values.astype(float)})
                    )
        for metric, measure in METRICS_AT_DEPTH.items():
            rows.append({"task": task, "metric": metric, "k": depth, "value": float(measure(judged).mean()),
                         "queries": len(records)})  # fmt: skip
        best = ceiling(judged, task_info(task).headline, HEADLINE_K)
        named = np.array([names_title(r) for r in records])
        if named.any() and not named.all():  # FA2I, SA2I: a query that names the title is partly a title lookup
            values = per_query[-1].value.to_numpy()  # this task's headline per query, computed above
            for metric, part in zip(TITLE_PARTS, (named, ~named)):
                for name, scores in ((metric, values), (part_ceiling(metric), best)):
                    rows.append({"task": task, "metric": name, "k": HEADLINE_K, "value": float(scores[part].mean()),
                                 "queries": int(part.sum())})  # fmt: skip
        rows.append({"task": task, "metric": "ceiling", "k": HEADLINE_K, "value": float(best.mean()),
                     "queries": len(records)})  # fmt: skip
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


def headline_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """The headline per task: Hit@5 (behaviour tasks, NM2I) or Coverage@5 (the tasks whose queries
    state constraints: FA2I, SA2I, AS2I, VC2I, NA2I), with the mean base rate of its queries (the
    share of the catalog that answers one: what a random ranking scores) and its ceiling (what a
    perfect ranking scores: below 1 for Coverage where few items satisfy a query)."""
    rows = []
    for task in [t for t in TASK_NAMES if t in set(metrics.task)]:
        metric = task_info(task).headline
        match = metrics[(metrics.task == task) & (metrics.metric == metric) & (metrics.k == HEADLINE_K)]
        base = metrics[(metrics.task == task) & (metrics.metric == "base_rate")]
        best = metrics[(metrics.task == task) & (metrics.metric == "ceiling")]
        rows.append(
            {
                "task": task,
                "metric": f"{metric}@{HEADLINE_K}",
                "value": float(match.value.iloc[0]),
                "queries": int(match.queries.iloc[0]),
                "base_rate": float(base.value.iloc[0]) if len(base) else float("nan"),
                "ceiling": float(best.value.iloc[0]) if len(best) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["task", "metric", "value", "queries", "base_rate", "ceiling"])
