"""Hit@K of a retriever on a dialogue test set, overall and by the number of user turns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog
from itemlib.metrics import hit_at_k
from itemlib.retrieval import Retriever, search_records


def evaluate_dialogues(
    retriever: Retriever, catalog: Catalog, dialogues: Sequence[dict], ks: Sequence[int] = (5, 10, 20)
) -> pd.DataFrame:
    """Hit@K overall and by number of user turns: rows (turns, k, hit, dialogues)."""
    retriever.index(catalog)
    ranked = search_records(retriever, catalog, dialogues, max(ks))
    relevant = np.array([[catalog.items[p].id in d["pos_ids"] for p in row] for d, row in zip(dialogues, ranked)])
    turns = np.array([d["user_turns"] for d in dialogues])
    rows = []
    for group in ["all", *sorted(set(turns.tolist()))]:
        selected = np.ones(len(turns), bool) if group == "all" else turns == group
        for k in ks:
            rows.append(
                {
                    "turns": str(group),
                    "k": k,
                    "hit": float(hit_at_k(relevant[selected], k).mean()),
                    "dialogues": int(selected.sum()),
                }
            )
    return pd.DataFrame(rows)
