"""A catalog's item embeddings, computed once per (model weights, item texts) and cached on disk;
query embeddings, remembered within a process.

Retrieval (:class:`itemlib.retrieval.EncoderRetriever`) and training with a frozen item side
(:func:`itemlib.training.train`) both embed whole catalogs; they share this one cache, so a
catalog is embedded once per model across evaluation, chat, diagnosis and training. The cache lives
in ``$ITEMLIB_CACHE/embeddings`` (default ``~/.cache/itemlib/embeddings``); a file is published by
an atomic rename, so an interrupted run never leaves a half-written array where a reader looks.

Queries are remembered in memory only (:func:`embed_queries`): a study's evaluation ranks the same
test queries with the tuned model alone, with its popularity prior and with its collaborative
blend, three retrievers over one set of weights.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from itemlib.catalog import Catalog
from itemlib.config import cache_root
from itemlib.models import document_modules, encode_items, encode_queries, resolve
from itemlib.publish import replace_file

logger = logging.getLogger(__name__)


def cache_file(cache_dir: Path, catalog_name: str, key: str) -> Path:
    """Where a catalog's embeddings are cached; the name is cut to safe characters, so that a catalog
    called ``../../x`` never writes outside ``cache_dir``."""
    return cache_dir / f"{re.sub(r'[^A-Za-z0-9_-]+', '_', catalog_name)[:60]}-{key}.npy"


def default_cache_dir() -> Path:
    return cache_root() / "embeddings"


def model_fingerprint(model) -> str:
    """Hash of the weights that embed items, their length limit and the prompts: a fine-tuned model never
    reuses the base's cache, unless only its query side was trained (its items keep the base weights)."""
    items = document_modules(model)
    length = getattr(items[0], "max_seq_length", None)  # texts cut at another length embed differently
    digest = hashlib.sha256(repr((sorted((model.prompts or {}).items()), length)).encode())
    for name, tensor in items.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def stored_weights_key(name: str) -> str | None:
    """A key for the weights an encoder loads from ``name`` (preset, folder): its resolved folder and
    the size and modification time of every file in it, so a folder written again gets a new key
    without hashing gigabytes; None for a name that is no local folder (a Hub id)."""
    folder = Path(resolve(name)[0])
    if not folder.is_dir():
        return None
    files = sorted(f for f in folder.rglob("*") if f.is_file() and "checkpoints" not in f.parts)
    stats = [(str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(repr((str(folder.resolve()), stats)).encode()).hexdigest()[:16]


#: The most bytes of query embeddings a process keeps (:func:`embed_queries`); the oldest go first.
QUERY_MEMO_BYTES = 256 * 2**20
_QUERY_MEMO: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()


def embed_queries(
    model, queries: Sequence[str], batch_size: int = 64, fingerprint: str | None = None, precision: str = "fp32"
) -> np.ndarray:
    """Unit-norm embeddings of ``queries`` by ``model``'s query side, in ``precision``
    (:data:`itemlib.models.INFERENCE_PRECISIONS`). With ``fingerprint`` (a key of the model's weights,
    e.g. :func:`stored_weights_key`, which the caller vouches for: weights that change must not keep
    it), the same queries embedded by the same weights in the same precision earlier in this process
    are returned from memory instead of embedded again."""
    import torch

    if fingerprint is None:
        with torch.inference_mode():
            return encode_queries(model, list(queries), batch_size, precision=precision)
    key = (fingerprint, precision, hashlib.sha256("\x1f".join(queries).encode()).hexdigest())
    if key in _QUERY_MEMO:
        _QUERY_MEMO.move_to_end(key)
        return _QUERY_MEMO[key]
    with torch.inference_mode():
        embeddings = encode_queries(model, list(queries), batch_size, precision=precision)
    embeddings.setflags(write=False)  # shared by every caller: nobody may change it in place
    _QUERY_MEMO[key] = embeddings
    while sum(e.nbytes for e in _QUERY_MEMO.values()) > QUERY_MEMO_BYTES and len(_QUERY_MEMO) > 1:
        _QUERY_MEMO.popitem(last=False)
    return embeddings


def embed_catalog(
    model,
    catalog: Catalog,
    *,
    batch_size: int = 64,
    cache_dir: Path | None = None,
    progress: bool = False,
    precision: str = "fp32",
) -> np.ndarray:
    """The (items x dim) unit-norm embeddings of ``catalog.texts`` by ``model``'s item side in
    ``precision``, read from the cache when this model has embedded these texts in that precision
    before, else computed and cached."""
    import torch

    texts = catalog.texts
    weights = model_fingerprint(model) + ("" if precision == "fp32" else f"@{precision}")  # fp32 keys as before
    key = hashlib.sha256((weights + "\x00" + "\x1f".join(texts)).encode()).hexdigest()[:24]
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():  # said before minutes of embedding, not after
        raise ValueError(f"the embedding cache {folder} is a file, not a folder (check $ITEMLIB_CACHE)")
    path = cache_file(folder, catalog.name, key)
    if path.exists():
        cached = _read_cached(path, len(texts))
        if cached is not None:
            return cached
    if progress:  # minutes on a CPU for a large model: said beside the progress bar, before it starts
        print(f"embedding the {len(texts):,} items of {catalog.name} once (cached in {folder} for later runs)",
              file=sys.stderr)  # fmt: skip
    with torch.inference_mode():
        embeddings = encode_items(model, texts, batch_size, progress, precision)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, partial(_save_array, embeddings))
    except OSError as error:  # a full disk or a read-only cache costs the cache, not the result
        logger.warning("could not cache the embeddings in %s (%s); continuing without", path, error.strerror or error)
    return embeddings


def _save_array(array: np.ndarray, path: Path) -> None:
    with path.open("wb") as handle:  # a file object: np.save would add ".npy" to a name without it
        np.save(handle, array)


def _read_cached(path: Path, rows: int) -> np.ndarray | None:
    """The cached embeddings at ``path``, or None (the file removed, with a warning) when it is
    truncated or of another shape: the cache is derived data, recomputed rather than trusted."""
    try:
        cached = np.load(path)
    except (OSError, ValueError, EOFError) as error:
        reason = f"unreadable ({error})"
    else:
        if cached.ndim == 2 and len(cached) == rows:
            return cached
        reason = f"shape {cached.shape}, expected {rows} rows"
    logger.warning("embedding cache %s is %s: removed, embedding again", path, reason)
    path.unlink(missing_ok=True)
    return None
