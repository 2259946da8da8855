"""Item-to-item neighbours from co-occurrence, and the user groups that keep I2I's ground truth
independent of everything that is trained or fitted.

sim(i, j) = c(i, j) / (sqrt(d_i * d_j) + 10), where c counts the users who interacted with both
items and d_i the users of item i; the +10 damps pairs of rare items. Each user's last item is
held out for testing and is never counted (neither in the user's history nor in the same user's
unordered basket), so no co-occurrence leaks the UH2I/US2I/UQ2I test targets.

A fixed quarter of the users, the *judges* (:func:`is_judge`), are held out from training: I2I's
test answers are the neighbours among the judges' items, while I2I training examples, the other
behaviour tasks' training examples and the collaborative-filtering references
(:mod:`itemlib.collaborative`) see only the other users. Without that split an item-kNN reference
computed from the same counts would answer I2I perfectly by construction.

Another quarter, the *validation judges* (:func:`is_validation_judge`), play that part for a
validation split (:mod:`itemlib.validation`): their co-occurrences answer the split's I2I queries
(:func:`validation_neighbours`), whose sources, like the test's, are never trained on, and the
references fitted to choose a blend on that split leave them out. They stay in training (the text
model's I2I positives of other sources count them), so the split is a little kinder to text than
to the references on I2I, never the other way round.
"""

from __future__ import annotations

import zlib

import numpy as np
import scipy.sparse as sp

from itemlib.catalog import Catalog

#: One user in ``JUDGE_MODULUS`` (by a hash of the user id) is a judge of I2I.
JUDGE_MODULUS = 4


def is_judge(user: str) -> bool:
    """Whether ``user``'s items judge I2I (and are therefore never trained or fitted on)."""
    return zlib.crc32(user.encode()) % JUDGE_MODULUS == 0


def is_validation_judge(user: str) -> bool:
    """Whether ``user``'s items judge I2I on a validation split (never a test judge)."""
    return zlib.crc32(user.encode()) % JUDGE_MODULUS == 1


#: How :func:`training_rows` names a user's basket row: the prefix, then the user.
BASKET_PREFIX = "basket:"


def training_rows(catalog: Catalog, *, judges: bool, validation_judges: bool | None = None) -> dict[str, list[str]]:
    """The judges' (or the other users') items without their last ones: histories, and baskets as
    their own rows (``basket:USER``); ``validation_judges`` keeps, of those users, only the validation
    judges (True) or only the others (False)."""

    def kept(user: str) -> bool:
        in_group = validation_judges is None or is_validation_judge(user) == validation_judges
        return is_judge(user) == judges and in_group

    rows = {u: ids for u, ids in catalog.training_histories().items() if kept(u)}
    for user, ids in catalog.baskets.items():
        if kept(user):
            last = catalog.last_items.get(user)
            rows[f"{BASKET_PREFIX}{user}"] = [i for i in ids if i != last]
    return rows


def interaction_matrix(catalog: Catalog, *, judges: bool = False) -> sp.csr_matrix:
    """Binary (rows of :func:`training_rows`, in sorted order) x item matrix."""
    return rows_matrix(catalog, training_rows(catalog, judges=judges))


def rows_matrix(catalog: Catalog, users: dict[str, list[str]]) -> sp.csr_matrix:
    """Binary (``users`` in sorted order) x item matrix."""
    rows: list[int] = []
    cols: list[int] = []
    for row, user in enumerate(sorted(users)):
        positions = sorted({catalog.index[i] for i in users[user]})
        rows.extend([row] * len(positions))
        cols.extend(positions)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(users), len(catalog)))


def item_neighbours(catalog: Catalog, top_k: int = 20, *, judges: bool = False) -> dict[int, list[int]]:
    """Item position -> positions of its top-``top_k`` co-occurring items (ties by position), counted
    over the judges' items or the other users'."""
    return neighbours_in(interaction_matrix(catalog, judges=judges), top_k)


def validation_neighbours(catalog: Catalog, top_k: int = 20) -> dict[int, list[int]]:
    """Item position -> its top-``top_k`` neighbours among the validation judges' items: what a
    validation split's I2I query is answered by, as the judges' answer a test query."""
    return neighbours_in(rows_matrix(catalog, training_rows(catalog, judges=False, validation_judges=True)), top_k)


def neighbours_in(matrix: sp.csr_matrix, top_k: int = 20) -> dict[int, list[int]]:
    """Item position -> positions of its top-``top_k`` co-occurring items in the rows of ``matrix``
    (binary rows x items), by the similarity of the module docstring, ties by position."""
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
