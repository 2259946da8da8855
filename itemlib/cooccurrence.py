"""Item-to-item neighbours from co-occurrence, the ground truth of I2I.

sim(i, j) = c(i, j) / (sqrt(d_i * d_j) + 10), where c counts the users who interacted with both
items and d_i the users of item i; the +10 damps pairs of rare items. Each user's last item is
held out for testing and is never counted (neither in the user's history nor in the same user's
unordered basket), so I2I ground truth cannot leak the UH2I/US2I/UQ2I test targets.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from itemlib.catalog import Catalog


def interaction_matrix(catalog: Catalog) -> sp.csr_matrix:
    """Binary user x item matrix of histories (without last items) and baskets."""
    rows: list[int] = []
    cols: list[int] = []
    users = catalog.training_histories()
    for user, ids in catalog.baskets.items():
        last = catalog.last_items.get(user)
        kept = [i for i in ids if i != last]
        users[f"basket:{user}"] = kept
    for row, user in enumerate(sorted(users)):
        positions = sorted({catalog.index[i] for i in users[user]})
        rows.extend([row] * len(positions))
        cols.extend(positions)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(users), len(catalog)))


def item_neighbours(catalog: Catalog, top_k: int = 20) -> dict[int, list[int]]:
    """Item position -> positions of its top-``top_k`` co-occurring items (ties by position)."""
    matrix = interaction_matrix(catalog)
    counts = (matrix.T @ matrix).tocsr()
    degree = np.asarray(matrix.sum(axis=0)).ravel()
    neighbours: dict[int, list[int]] = {}
    for item in range(counts.shape[0]):
        start, end = counts.indptr[item], counts.indptr[item + 1]
        others, together = counts.indices[start:end], counts.data[start:end]
        keep = others != item
        others, together = others[keep], together[keep]
        if len(others) == 0:
            continue
        similarity = together / (np.sqrt(degree[item] * degree[others]) + 10.0)
        order = np.lexsort((others, -similarity))[:top_k]
        neighbours[item] = [int(o) for o in others[order]]
    return neighbours
