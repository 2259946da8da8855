"""Retrievers and masked exact top-K search.

Every retriever, learned or not, has one small interface: ``index(catalog)`` once, then
``score(queries)`` -> a (queries x items) float32 matrix. The collaborative-filtering references
(:mod:`itemlib.collaborative`) read no text: they score the item ids a test record was written
from (``score_items``), which :func:`search_records` hands them. :func:`search` turns score chunks into
top-K lists with per-query masks (the user's history, the I2I source item) and breaks equal scores
by item id (string order), so rankings are reproducible. Encoders also expose their embeddings, so
the optional faiss backend returns the same lists for very large catalogs.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from itemlib.catalog import Catalog
from itemlib.collaborative import COLLABORATIVE, ReadsItemsError
from itemlib.embedding import embed_catalog, embed_queries, stored_weights_key
from itemlib.models import ModelError, inference_precision, load_encoder, require_precision
from itemlib.querykind import KINDS, TitleMatcher


class Retriever(Protocol):
    name: str

    def index(self, catalog: Catalog) -> None: ...

    def score(self, queries: Sequence[str]) -> np.ndarray: ...


class EncoderRetriever:
    """A text encoder (preset, path or Hub id): cosine similarity of unit-norm embeddings.

    An encoder loaded here from its name has weights nobody else holds, so its query embeddings
    are remembered within the process (:func:`itemlib.embedding.embed_queries`); a model object
    handed in may still be trained, so its queries are always embedded afresh."""

    def __init__(
        self,
        model: str | object,
        *,
        batch_size: int = 64,
        cache_dir: Path | None = None,
        progress: bool = False,
        precision: str | None = None,
    ) -> None:
        self.model = load_encoder(model) if isinstance(model, str) else model
        self.name = model if isinstance(model, str) else type(model).__name__
        self.fingerprint = stored_weights_key(model) if isinstance(model, str) else None
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.progress = progress
        #: fp32 or bf16 (:data:`itemlib.models.INFERENCE_PRECISIONS`); None: ``$ITEMLIB_PRECISION``, else fp32
        self.precision = require_precision(precision) if precision is not None else inference_precision()
        self.item_embeddings: np.ndarray | None = None

    def index(self, catalog: Catalog) -> None:
        """Embed the catalog once per (model weights, precision, item texts), cached on disk
        (:mod:`itemlib.embedding`)."""
        self.item_embeddings = embed_catalog(
            self.model,
            catalog,
            batch_size=self.batch_size,
            cache_dir=self.cache_dir,
            progress=self.progress,
            precision=self.precision,
        )

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        return embed_queries(self.model, queries, self.batch_size, self.fingerprint, self.precision)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        assert self.item_embeddings is not None, "call index(catalog) first"
        return self.embed_queries(queries) @ self.item_embeddings.T


class BM25Retriever:
    """Lexical baseline: BM25 (``bm25s``) over the same item texts the encoders see, as the field runs
    it: Lucene's scoring with k1 = 1.5 and b = 0.75 (bm25s' defaults), English stop words removed
    (bm25s' list) and words reduced to their Snowball stems (PyStemmer), so "toys" finds "Toy Story"
    and "animated" finds "Animation"."""

    name = "bm25"
    k1, b = 1.5, 0.75

    def index(self, catalog: Catalog) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self.retriever = bm25s.BM25(k1=self.k1, b=self.b)
        tokens = bm25s.tokenize(catalog.texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        self.retriever.index(tokens, show_progress=False)
        self.size = len(catalog)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        tokenized = self._bm25s.tokenize(
            list(queries), stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return np.stack(
            [self.retriever.get_scores(tokens) if tokens else np.zeros(self.size) for tokens in tokenized]
        ).astype(np.float32)


class PopularityRetriever:
    """Every query gets the most interacted-with items (counted without users' last items)."""

    name = "popularity"

    def index(self, catalog: Catalog) -> None:
        self.popularity = catalog.popularity.astype(np.float32)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(queries), len(self.popularity))).copy()


class RandomRetriever:
    """Random scores, seeded by the query text: the floor every method must beat."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def index(self, catalog: Catalog) -> None:
        self.size = len(catalog)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        rows = [
            np.random.default_rng([self.seed, zlib.crc32(q.encode())]).random(self.size, dtype=np.float32)
            for q in queries
        ]
        return np.stack(rows) if rows else np.zeros((0, self.size), np.float32)


def weights_per_kind(weight: float | Mapping[str, float], what: str) -> dict[str, float]:
    """``weight`` as one float per kind of query (:data:`itemlib.querykind.KINDS`): one number for
    every kind, or a mapping that names each kind; each finite and >= 0 (``what`` names the weights
    in the error)."""
    weights = dict(weight) if isinstance(weight, Mapping) else dict.fromkeys(KINDS, weight)
    if set(weights) != set(KINDS):
        raise ValueError(f"{what} weights are given per kind of query ({', '.join(KINDS)}), got {sorted(weights)}")
    for value in weights.values():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"a {what} weight must be a finite number >= 0, got {value}")
    return {kind: float(weights[kind]) for kind in KINDS}


#: ``MODEL+popularity`` (the weight chosen for MODEL) or ``MODEL+popularity=W`` names a :class:`PopularityPrior`.
POPULARITY_SUFFIX = "+popularity"
#: Where a model folder keeps its chosen popularity weight (and the validation scores that chose it).
WEIGHT_FILE = "popularity_weight.json"


class PopularityPrior:
    """A text retriever plus the practitioner's popularity prior (beyond the paper): ``base``'s
    scores plus a weight · log(1 + interactions of the item).

    ``weight`` is one number for every query, or a weight per kind of query
    (:data:`itemlib.querykind.KINDS`: a history, one named item, a description), the kind read from
    the query's words (:class:`itemlib.querykind.TitleMatcher`). The weights of a fine-tuned model
    are chosen on a validation split of its own training data
    (:func:`itemlib.validation.choose_popularity_weight`) and stored beside it in
    :data:`WEIGHT_FILE`, so ``make_retriever("MODEL+popularity")`` ranks with them.
    """

    def __init__(self, base: Retriever, weight: float | Mapping[str, float], name: str | None = None) -> None:
        self.base, self.weights = base, weights_per_kind(weight, "popularity")
        self.name = name or f"{getattr(base, 'name', 'model')}{POPULARITY_SUFFIX}"

    def index(self, catalog: Catalog) -> None:
        self.base.index(catalog)
        self.prior = np.log1p(catalog.popularity).astype(np.float32)
        self.matcher = TitleMatcher(catalog) if len(set(self.weights.values())) > 1 else None

    def query_weights(self, queries: Sequence[str]) -> np.ndarray:
        """Each query's weight, by its kind."""
        if self.matcher is None:
            return np.full(len(queries), self.weights[KINDS[0]], dtype=np.float32)
        return np.array([self.weights[self.matcher.kind(q)] for q in queries], dtype=np.float32)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        return self.base.score(queries) + self.query_weights(queries)[:, None] * self.prior


#: ``SPEC+cf`` names a :class:`CollaborativeBlend` of the text retriever SPEC (a model folder, or one
#: with ``+popularity``) and the collaborative-filtering references and weights chosen for it (one per kind).
BLEND_SUFFIX = "+cf"
#: Where a model folder keeps its blend's choice (and the validation scores that made it).
BLEND_FILE = "collaborative_blend.json"


def standardized(scores: np.ndarray, left_out: np.ndarray | None = None) -> np.ndarray:
    """Each row minus its mean, over its standard deviation (a constant row becomes zeros); with a
    boolean ``left_out`` mask, mean and deviation are those of the other entries of the row."""
    scores = np.asarray(scores, dtype=np.float32)
    kept = scores if left_out is None else np.ma.masked_array(scores, mask=left_out)
    mean = np.asarray(kept.mean(axis=1, keepdims=True), dtype=np.float32)
    spread = np.asarray(kept.std(axis=1, keepdims=True), dtype=np.float32)
    return np.divide(scores - mean, spread, out=np.zeros_like(scores), where=spread > 0)


class CollaborativeBlend:
    """A text retriever plus a collaborative-filtering reference over the items a request names
    (beyond the paper).

    A request that names items ("I liked Toy Story (1995) and Babe (1995)") tells a recommender what
    it needs: those items' ids. The blend finds them by their titles
    (:meth:`itemlib.querykind.TitleMatcher.named_items`), asks ``reference`` (item-kNN or ALS,
    :mod:`itemlib.collaborative`) to score the catalog from them, and adds that to ``base``'s scores,
    each row standardised first so that neither scale decides::

        score = z(base) + weight[kind] · z(reference given the named items)

    A reference scores a named item's neighbours, not the item, and a request that names the item it
    wants (about half the attribute queries do) must not see the neighbours lifted above it: a named
    item gets its row's best standardised reference score, and the row is standardised over the other
    items (a few named items, scored highest by most references, would otherwise set the scale and
    flatten what the reference says about the rest). A request that names nothing
    is ranked by ``base`` alone. The weight, and the reference, are one per kind of query
    (:data:`itemlib.querykind.KINDS`: a reference good at a history's next item need not be good at
    an item's neighbours), chosen on a validation split (:func:`itemlib.validation.choose_blend`) and
    stored beside the model in :data:`BLEND_FILE`, so ``make_retriever("MODEL+popularity+cf")`` ranks
    with them.

    Args:
        base: the text retriever (an encoder, or one with its popularity prior).
        reference: a :class:`itemlib.collaborative.CollaborativeRetriever`, or one per kind of query.
        weight: one number for every kind of query, or one per kind.
        name: how tables name it (default: base's name with ``+cf``).
    """

    def __init__(self, base: Retriever, reference, weight: float | Mapping[str, float], name: str | None = None):
        references = dict(reference) if isinstance(reference, Mapping) else dict.fromkeys(KINDS, reference)
        if set(references) != set(KINDS):
            raise ValueError(f"blend references are given per kind of query ({', '.join(KINDS)}), "
                             f"got {sorted(references)}")  # fmt: skip
        for each in references.values():
            if not reads_items(each):
                raise ValueError(f"{getattr(each, 'name', each)} is not a collaborative-filtering reference")
        self.base, self.references, self.weights = base, references, weights_per_kind(weight, "blend")
        self.name = name or f"{getattr(base, 'name', 'model')}{BLEND_SUFFIX}"

    def index(self, catalog: Catalog) -> None:
        self.base.index(catalog)
        for kind, reference in self.references.items():
            if self.weights[kind]:  # a reference weighted 0 changes no score: not fitted
                reference.index(catalog)
        self.matcher = TitleMatcher(catalog)

    def parts(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The standardised text scores, the standardised reference scores (zeros where a query
        names no item or its kind's weight is 0) and each query's kind."""
        readings = [self.matcher.read(q) for q in queries]  # each query's titles found once
        named, kinds = [items for items, _ in readings], [kind for _, kind in readings]
        text = standardized(self.base.score(queries))
        collaborative = np.zeros_like(text)
        for kind, reference in self.references.items():
            rows = [row for row, items in enumerate(named) if items and kinds[row] == kind and self.weights[kind]]
            if not rows:
                continue
            scores = np.array(reference.score_items([named[row] for row in rows]), dtype=np.float32)
            is_named = np.zeros(scores.shape, dtype=bool)
            for at, row in enumerate(rows):
                is_named[at, named[row]] = True
            others = standardized(scores, left_out=is_named)
            best = np.where(is_named, -np.inf, others).max(axis=1, keepdims=True)
            collaborative[rows] = np.where(is_named, np.maximum(best, 0), others)
        return text, collaborative, kinds

    def score(self, queries: Sequence[str]) -> np.ndarray:
        text, collaborative, kinds = self.parts(queries)
        weights = np.array([self.weights[kind] for kind in kinds], dtype=np.float32)
        return text + weights[:, None] * collaborative


#: The references that read no text, by name.
BASELINES = {"bm25": BM25Retriever, "popularity": PopularityRetriever, "random": RandomRetriever}


def with_popularity(spec: str, **options) -> PopularityPrior:
    """The retriever of ``"MODEL+popularity"`` (the weight chosen for MODEL) or ``"MODEL+popularity=W"``;
    ``options`` go to MODEL's encoder."""
    model, _, weight = spec.partition(POPULARITY_SUFFIX)
    if weight.startswith("="):
        return PopularityPrior(make_retriever(model, **options), float(weight[1:]), name=spec)
    path = Path(model) / WEIGHT_FILE
    if not path.exists():
        raise ModelError(f"{model}: no {WEIGHT_FILE}; choose a weight with `itemlib popularity-weight` "
                         f"or give one: {model}{POPULARITY_SUFFIX}=0.02")  # fmt: skip
    choice = json.loads(path.read_text())
    weights = choice["weights"] if "weights" in choice else choice["weight"]  # one weight: an older version's file
    _require_current_kinds(path, weights, f"itemlib popularity-weight --model {model}")
    return PopularityPrior(make_retriever(model, **options), weights, name=spec)


def _require_current_kinds(path: Path, per_kind, command: str) -> None:
    """A file's choice per kind of query must name this version's kinds: one chosen under an
    older rule (three kinds, before ``request``) is chosen again, not guessed."""
    if isinstance(per_kind, Mapping) and set(per_kind) != set(KINDS):
        raise ModelError(f"{path} was chosen for the kinds of query {', '.join(per_kind)} (an older rule); "
                         f"this version reads {', '.join(KINDS)}: choose again with `{command}`")  # fmt: skip


def model_of(spec: str) -> str:
    """The encoder (preset, folder, Hub id) or baseline of a retriever spec: MODEL of ``MODEL+popularity+cf``."""
    return spec.removesuffix(BLEND_SUFFIX).partition(POPULARITY_SUFFIX)[0]


def with_collaborative(spec: str, **options) -> CollaborativeBlend:
    """The retriever of ``"TEXT+cf"``: TEXT (``MODEL`` or ``MODEL+popularity``) blended with the
    references and weights chosen for it (one per kind of query) and stored in ``MODEL/`` :data:`BLEND_FILE`."""
    text, model = spec.removesuffix(BLEND_SUFFIX), model_of(spec)
    path = Path(model) / BLEND_FILE
    if not path.exists():
        raise ModelError(f"{model}: no {BLEND_FILE}; choose the blend with `itemlib popularity-weight --blend`")
    choice = json.loads(path.read_text())
    if choice["base"] != text.removeprefix(model):
        raise ModelError(f"{path} was chosen for {model}{choice['base']}, not for {text}")
    for key in ("reference", "weights"):
        _require_current_kinds(path, choice[key], f"itemlib popularity-weight --model {model} --blend")
    return CollaborativeBlend(make_retriever(text, **options), blend_references(choice["reference"]),
                              choice["weights"], name=spec)  # fmt: skip


def reference_per_kind(names: str | Mapping[str, str]) -> dict[str, str]:
    """A blend file's ``reference``: the name per kind of query (one name for every kind in an older
    version's file)."""
    return dict.fromkeys(KINDS, names) if isinstance(names, str) else dict(names)


def blend_references(names: str | Mapping[str, str], make: Callable[[str], object] | None = None) -> dict[str, object]:
    """The references a blend's file names, one per kind of query (one name for all kinds: an older
    version's file), each made by ``make(name)`` (default: the reference of that name, unfitted); a
    reference named for several kinds is made once (and fitted once)."""
    names = reference_per_kind(names)
    unknown = sorted(set(names.values()) - set(COLLABORATIVE))
    if unknown:
        raise ModelError(f"unknown collaborative-filtering reference {', '.join(unknown)}: "
                         f"choose among {', '.join(COLLABORATIVE)}")  # fmt: skip
    make = make or (lambda name: COLLABORATIVE[name]())
    made = {name: make(name) for name in dict.fromkeys(names.values())}
    return {kind: made[name] for kind, name in names.items()}


def make_retriever(name: str, **options) -> Retriever:
    """A baseline by name (bm25, popularity, random), a collaborative-filtering reference (itemknn,
    als: :data:`itemlib.collaborative.COLLABORATIVE`), an encoder (preset, path or Hub id), or a
    text retriever with a popularity prior: ``MODEL+popularity`` (:class:`PopularityPrior`), and either
    blended with collaborative filtering over the items a request names: ``MODEL+popularity+cf``
    (:class:`CollaborativeBlend`).
    ``options`` go to an encoder (:class:`EncoderRetriever`: ``progress``, ``batch_size``,
    ``cache_dir``); a baseline takes none."""
    if name in BASELINES:
        return BASELINES[name]()
    if name in COLLABORATIVE:
        return COLLABORATIVE[name]()
    if name.endswith(BLEND_SUFFIX):
        return with_collaborative(name, **options)
    if POPULARITY_SUFFIX in name:
        return with_popularity(name, **options)
    return EncoderRetriever(name, **options)


def reads_items(retriever: Retriever) -> bool:
    """Whether ``retriever`` scores item ids (a collaborative-filtering reference) rather than text."""
    return getattr(retriever, "reads_items", False)


def require_text(retriever: Retriever) -> None:
    """Refuse, before any work, a retriever that cannot read free text."""
    if reads_items(retriever):
        raise ReadsItemsError(retriever.name)


def id_ranks(catalog: Catalog) -> np.ndarray:
    """Position of each item's id in string order: the tie-breaker of every ranking."""
    order = sorted(range(len(catalog)), key=lambda p: catalog.items[p].id)
    ranks = np.empty(len(catalog), dtype=np.int64)
    ranks[order] = np.arange(len(catalog))
    return ranks


def top_k_from_scores(scores: np.ndarray, masks: Sequence[Sequence[int]], k: int, ranks: np.ndarray) -> np.ndarray:
    """Item positions of the top ``k`` per row, masked positions excluded, ties by id rank.

    One partition finds each row's k-th best score; every item scoring at least that is a candidate,
    and a single sort of all rows' candidates (row, then score descending, then id rank) orders them.
    ``scores`` is copied once (a retriever may hand out scores it keeps).
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    for row, masked in enumerate(masks):
        if len(masked):
            scores[row, list(masked)] = -np.inf
    rows, width = scores.shape
    k = min(k, width)
    if not rows or not k:
        return np.zeros((rows, k), dtype=np.int64)
    kth = np.partition(scores, width - k, axis=1)[:, width - k]
    candidate_rows, candidate_items = np.nonzero(scores >= kth[:, None])
    order = np.lexsort((ranks[candidate_items], -scores[candidate_rows, candidate_items], candidate_rows))
    starts = np.searchsorted(candidate_rows[order], np.arange(rows))
    return candidate_items[order][starts[:, None] + np.arange(k)]


def chunked_top_k(
    score_chunk: Callable[[slice], np.ndarray],
    count: int,
    masks: Sequence[Sequence[int]],
    k: int,
    ranks: np.ndarray,
    chunk_size: int = 256,
) -> np.ndarray:
    """Masked exact top-K over ``count`` queries, scoring ``chunk_size`` queries at a time so a
    (queries x items) matrix never has to fit in memory at once."""
    parts = [
        top_k_from_scores(score_chunk(slice(start, start + chunk_size)), masks[start : start + chunk_size], k, ranks)
        for start in range(0, count, chunk_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)


def search(
    retriever: Retriever,
    queries: Sequence[str],
    masks: Sequence[Sequence[int]],
    k: int,
    *,
    ranks: np.ndarray,
    chunk_size: int = 256,
    backend: str = "exact",
) -> np.ndarray:
    """Top-``k`` item positions for each free-text query (exact by chunked scoring, or faiss for encoders)."""
    require_text(retriever)
    if backend == "faiss":
        if not isinstance(retriever, EncoderRetriever):
            raise ValueError("the faiss backend needs an encoder retriever")
        return faiss_top_k(retriever.embed_queries(queries), retriever.item_embeddings, masks, k, ranks)
    if backend != "exact":
        raise ValueError(f"backend must be 'exact' or 'faiss', not {backend!r}")
    queries = list(queries)
    return chunked_top_k(lambda rows: retriever.score(queries[rows]), len(queries), masks, k, ranks, chunk_size)


def search_records(
    retriever: Retriever,
    catalog: Catalog,
    records: Sequence[dict],
    k: int,
    *,
    ranks: np.ndarray | None = None,
    backend: str = "exact",
) -> np.ndarray:
    """``search`` for test records (``query`` and optional ``mask_ids``): one place that turns a
    record's masked ids into catalog positions, for evaluation, dialogues and diagnostics alike.
    A collaborative-filtering reference reads those masked items (the history, the I2I source)
    instead of the query text."""
    masks = [[catalog.index[i] for i in r.get("mask_ids", [])] for r in records]
    if reads_items(retriever):
        ranks = id_ranks(catalog) if ranks is None else ranks
        return chunked_top_k(lambda rows: retriever.score_items(masks[rows]), len(masks), masks, k, ranks)  # type: ignore[attr-defined]
    return search(
        retriever,
        [r["query"] for r in records],
        masks,
        k,
        ranks=id_ranks(catalog) if ranks is None else ranks,
        backend=backend,
    )


def faiss_top_k(
    query_embeddings: np.ndarray, item_embeddings: np.ndarray, masks, k: int, ranks: np.ndarray
) -> np.ndarray:
    """faiss ``IndexFlatIP`` search, over-fetched by the largest mask, then masked and tie-sorted
    like the exact search."""
    import faiss

    index = faiss.IndexFlatIP(item_embeddings.shape[1])
    index.add(np.ascontiguousarray(item_embeddings, dtype=np.float32))
    extra = max((len(m) for m in masks), default=0)
    fetch = min(len(item_embeddings), k + extra + 16)
    scores, found = index.search(np.ascontiguousarray(query_embeddings, dtype=np.float32), fetch)
    out = np.empty((len(found), min(k, len(item_embeddings))), dtype=np.int64)
    for row in range(len(found)):
        masked = set(masks[row])
        keep = [j for j in range(fetch) if found[row, j] >= 0 and found[row, j] not in masked]
        candidates, values = found[row, keep], scores[row, keep]
        order = np.lexsort((ranks[candidates], -values))
        out[row] = candidates[order[: out.shape[1]]]
    return out
