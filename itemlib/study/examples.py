"""Before and after, side by side: what each model retrieves for a few test queries of each task."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog
from itemlib.evaluation import judge, load_tests
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
