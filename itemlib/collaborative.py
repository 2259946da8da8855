"""Collaborative-filtering references: what a recommender does with the same interactions.

They read no text. A query is the ids of the items it was written from (a behaviour query's
history, an I2I query's source item: a test record's ``mask_ids``), so they answer the behaviour
tasks only (:data:`itemlib.taskinfo.tasks_in` ``("behaviour")``); on free text they refuse. Both
come from `implicit <https://github.com/benfred/implicit>`_ and are fitted on the same training
rows the generators learn from (:func:`itemlib.cooccurrence.interaction_matrix`: every user's
history without its last item, baskets, I2I judges left out), and score a query by folding its
items in, so a test user needs no row of the fitted matrix.

- ``itemknn``: item-based kNN with cosine similarity, each item keeping its K nearest items
  (``implicit.nearest_neighbours.CosineRecommender``); a query's score for an item is the sum of
  its similarities to the query's items.
- ``als``: matrix factorisation for implicit feedback (Hu, Koren and Volinsky, 2008;
  ``implicit.cpu.als.AlternatingLeastSquares``), the query's factors solved against the fitted item
  factors (``recalculate_user``).

Each chooses its hyper-parameters from a small grid declared on its class, by Hit@5 on a
validation split of the same training rows (:func:`validation_rows`: every history's last training
item held out, the rest fitted), then refits on all of them: a reference tuned as the field
tunes one, never on a test query. The grid's scores are cached per catalog
(``$ITEMLIB_CACHE/collaborative``), so later runs fit only the chosen setting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from itemlib.catalog import Catalog
from itemlib.config import cache_root
from itemlib.cooccurrence import BASKET_PREFIX, interaction_matrix, rows_matrix, training_rows
from itemlib.publish import write_text_whole

logger = logging.getLogger(__name__)


class ReadsItemsError(ValueError):
    """A collaborative-filtering reference was given text."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is a collaborative-filtering reference: it reads the items a query was written from, not "
            "text, so it answers only the behaviour tasks of a test set (UH2I, I2I, US2I, UQ2I)"
        )


def query_matrix(item_lists: Sequence[Sequence[int]], size: int) -> sp.csr_matrix:
    """Binary (queries x items) matrix of each query's item positions."""
    rows = [row for row, items in enumerate(item_lists) for _ in set(items)]
    cols = [item for items in item_lists for item in sorted(set(items))]
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(item_lists), size))


#: The cut-off of the validation score that chooses a reference's hyper-parameters (the headline's).
VALIDATION_K = 5


def validation_rows(catalog: Catalog) -> tuple[sp.csr_matrix, list[list[int]], np.ndarray]:
    """The training rows with each history's last training item held out (from its basket too),
    as the test holds out the last item: the fitted matrix, each validation query's items (the
    history before the held-out item) and the held-out items. Users with fewer than 3 training
    items are fitted whole and not queried."""
    rows = training_rows(catalog, judges=False)
    queries, held = [], []
    for user, ids in sorted(catalog.training_histories().items()):
        if user in rows and len(ids) >= 3:
            rows[user] = ids[:-1]
            if f"{BASKET_PREFIX}{user}" in rows:
                rows[f"{BASKET_PREFIX}{user}"] = [i for i in rows[f"{BASKET_PREFIX}{user}"] if i != ids[-1]]
            queries.append([catalog.index[i] for i in ids[:-1]])
            held.append(catalog.index[ids[-1]])
    return rows_matrix(catalog, rows), queries, np.array(held, dtype=np.int64)


@contextlib.contextmanager
def _fitting() -> Iterator[None]:
    """One BLAS thread (implicit runs its own threads) and no warning about the sparse format it
    converts, while a reference fits."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expects CSR input.*")
        yield


#: Fitted references of this process, by (class, catalog fingerprint, seed): a fit reads nothing
#: but the catalog's training rows, so a second retriever of the same kind need not refit.
_FITTED: dict[tuple, dict] = {}


class CollaborativeRetriever:
    """Base of the references that read a query's item ids (``score_items``) instead of its text.

    ``grid`` lists the hyper-parameter settings tried on the validation rows; ``chosen`` is the one
    kept and ``validation`` each setting's Hit@5, after :meth:`index`.
    """

    name: ClassVar[str]
    grid: ClassVar[tuple[dict, ...]]
    #: Tells :func:`itemlib.retrieval.search_records` to hand this retriever item positions.
    reads_items: ClassVar[bool] = True

    def index(self, catalog: Catalog) -> None:
        """Choose the setting on the validation rows and refit on all training rows; done once per
        process for a reference and catalog (the blend and the reference itself share the fit)."""
        key = (type(self).__name__, catalog.fingerprint, getattr(self, "seed", None))
        if key in _FITTED:
            self.__dict__.update(_FITTED[key])
            return
        self._fit_catalog(catalog)
        _FITTED[key] = dict(self.__dict__)

    def fit_rows(self, catalog: Catalog, rows: dict[str, list[str]]) -> None:
        """Fit the setting :meth:`index` chooses on ``rows`` (:func:`itemlib.cooccurrence.training_rows`
        form) instead of every training row: how a reference is fitted to be judged on a validation
        split (:func:`itemlib.validation.reference_rows`)."""
        self.index(catalog)
        matrix = rows_matrix(catalog, rows)
        if not matrix.nnz:
            raise ValueError(f"{self.name}: no training interactions left to fit on in catalog {catalog.name!r} "
                             "once a validation split's users are held out")  # fmt: skip
        with _fitting():
            self.fit(matrix, **self.chosen)

    def _fit_catalog(self, catalog: Catalog) -> None:
        self.size = len(catalog)
        interactions = interaction_matrix(catalog)
        if not interactions.nnz:
            raise ValueError(f"{self.name}: catalog {catalog.name!r} has no training interactions to fit on "
                             "(histories without their last items, I2I judges left out)")  # fmt: skip
        with _fitting():
            self.validation = self._grid_scores(catalog)
            best = max(self.validation, key=lambda key: (self.validation[key], -list(self.validation).index(key)))
            self.chosen = json.loads(best)
            self.fit(interactions, **self.chosen)

    def _grid_scores(self, catalog: Catalog) -> dict[str, float]:
        """Each grid setting's validation Hit@5, read from ``$ITEMLIB_CACHE/collaborative`` when this
        reference (name, seed, grid, library version) scored this catalog's training rows before: the
        fits are deterministic, and the study's train, evaluate and chat runs need the same choice."""
        from importlib.metadata import version

        identity = [self.name, catalog.fingerprint, getattr(self, "seed", None), getattr(self, "iterations", None),
                    list(self.grid), version("implicit")]  # fmt: skip
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
        path = cache_root() / "collaborative" / f"{self.name}-{key}.json"
        try:
            return json.loads(path.read_text())["validation"]
        except (OSError, ValueError, KeyError):
            pass
        fitted, queries, held = validation_rows(catalog)
        scores = {}
        for setting in self.grid:
            self.fit(fitted, **setting)
            scores[json.dumps(setting, sort_keys=True)] = self.hit_rate(queries, held)
        try:  # derived data: a cache that cannot be written costs the next run a grid, nothing else
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_whole(path, json.dumps({"identity": identity, "validation": scores}, indent=1))
        except OSError as error:
            logger.warning("could not cache %s's grid scores in %s (%s)", self.name, path, error)
        return scores

    def hit_rate(self, queries: list[list[int]], held: np.ndarray) -> float:
        """Hit@5 of the held-out items, each query's own items masked."""
        if not queries:
            return 0.0
        scores = self.score_items(queries)
        for row, items in enumerate(queries):
            scores[row, items] = -np.inf
        top = np.argpartition(-scores, VALIDATION_K, axis=1)[:, :VALIDATION_K]
        return float((top == held[:, None]).any(axis=1).mean())

    def fit(self, interactions: sp.csr_matrix, **setting: float) -> None:
        raise NotImplementedError

    def score_items(self, item_lists: Sequence[Sequence[int]]) -> np.ndarray:
        raise NotImplementedError

    def score(self, queries: Sequence[str]) -> np.ndarray:
        raise ReadsItemsError(self.name)


class ItemKNNRetriever(CollaborativeRetriever):
    """Item-based kNN, cosine similarity, ``K`` neighbours per item (see the module docstring)."""

    name = "itemknn"
    grid = tuple({"K": k} for k in (20, 50, 100, 200))

    def fit(self, interactions: sp.csr_matrix, *, K: int) -> None:  # noqa: N803 (implicit's name)
        from implicit.nearest_neighbours import CosineRecommender

        model = CosineRecommender(K=K, num_threads=1)
        model.fit(interactions, show_progress=False)
        self.similarity = model.similarity.tocsr().astype(np.float32)

    def score_items(self, item_lists: Sequence[Sequence[int]]) -> np.ndarray:
        return np.asarray((query_matrix(item_lists, self.size) @ self.similarity).todense(), dtype=np.float32)


class ALSRetriever(CollaborativeRetriever):
    """Implicit-feedback ALS (see the module docstring); ``seed`` fixes the initial factors."""

    name = "als"
    iterations = 15
    grid = tuple(
        {"factors": f, "regularization": r, "alpha": a}
        for f in (32, 128)
        for r in (0.01, 1.0)
        for a in (1.0, 10.0, 40.0, 160.0)
    )

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, interactions: sp.csr_matrix, *, factors: int, regularization: float, alpha: float) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=1,
        )
        self.model.fit(interactions, show_progress=False)

    def score_items(self, item_lists: Sequence[Sequence[int]]) -> np.ndarray:
        queries = query_matrix(item_lists, self.size)
        factors = self.model.recalculate_user(np.arange(len(item_lists)), queries)
        return np.asarray(factors @ self.model.item_factors.T, dtype=np.float32)


#: The collaborative-filtering references, by name.
COLLABORATIVE = {"itemknn": ItemKNNRetriever, "als": ALSRetriever}
