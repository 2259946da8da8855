"""Before and after, side by side: what each model retrieves for a few test queries of each task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog
from itemlib.evaluation import judge, load_tests
from itemlib.jsonl import strict_loads
from itemlib.retrieval import Retriever, id_ranks, search_records


def side_by_side(retrievers: Mapping[str, Retriever], catalog: Catalog, tests_dir: str | Path, per_task: int = 1,
                 k: int = 5, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """For ``per_task`` test queries of each task (drawn with ``seed``): each model's top ``k``, a
    row per rank, with ✓ where the item is right (a positive, or for constraint tasks an item that
    satisfies the query) as the evaluation judges it."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, records in load_tests(tests_dir, catalog).items():
        chosen = [records[i] for i in sorted(rng.choice(len(records), min(per_task, len(records)), replace=False))]
        for label, retriever in retrievers.items():
            retriever.index(catalog)
            ranked = search_records(retriever, catalog, chosen, k, ranks=id_ranks(catalog))
            judged = judge(catalog, task, chosen, ranked).satisfying
            for record, items, right in zip(chosen, ranked, judged):
                for rank, (position, ok) in enumerate(zip(items, right), start=1):
                    rows.append({"task": task, "query": record["query"], "rank": rank, "model": label,
                                 "item": f"{'✓' if ok else '✗'} {catalog.items[position].title}"})  # fmt: skip
    table = pd.DataFrame(rows)
    return table.pivot_table(index=["task", "query", "rank"], columns="model", values="item", aggfunc="first",
                             sort=False)  # fmt: skip


#: The generation counts the generate pages show, as ``generate()`` names them and as the page heads them.
GENERATION_COUNTS = {"train_examples": "training examples", "test_examples": "test queries",
                     "negatives_verified": "negatives verified", "train_duplicates_removed": "duplicates removed",
                     "train_leaked_removed": "test leaks removed"}  # fmt: skip


def generation_counts(stats: Mapping) -> pd.DataFrame:
    """Per task (a row), what ``generate()`` wrote and removed, from the stats it returns, as integers."""
    table = pd.DataFrame(stats["tasks"]).T[list(GENERATION_COUNTS)]
    return table.rename(columns=GENERATION_COUNTS).astype(int)


def first_examples(data_dir: str | Path, tasks: Sequence[str]) -> pd.DataFrame:
    """Per task (a row), the first training example (query, positive, first verified negative, "" when it
    has none) and the first test query written under ``data_dir``; a task lacking either is left out."""
    rows = []
    for task in tasks:
        train, test = (_first_record(Path(data_dir) / split / f"{task}.jsonl") for split in ("train", "test"))
        if train and test:
            rows.append({"task": task, "training query": train["query"], "positive": train["pos"][0],
                         "negative": train["neg"][0] if train["neg"] else "", "test query": test["query"]})  # fmt: skip
    columns = ["task", "training query", "positive", "negative", "test query"]
    return pd.DataFrame(rows, columns=columns).set_index("task")


def _first_record(path: Path) -> dict | None:
    """The first record of a JSONL file, ``None`` when the file is empty or absent."""
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as handle:
        line = handle.readline()
    return strict_loads(line) if line.strip() else None
