"""A catalog's item embeddings, computed once per (model weights, item texts) and cached on disk.

Retrieval (:class:`itemlib.retrieval.EncoderRetriever`) and training with a frozen item side
(:func:`itemlib.training.train`) both embed whole catalogs; they share this one cache, so a
catalog is embedded once per model across evaluation, chat, diagnosis and training. The cache lives
in ``$ITEMLIB_CACHE/embeddings`` (default ``~/.cache/itemlib/embeddings``); a file is published by
an atomic rename, so an interrupted run never leaves a half-written array where a reader looks.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from itemlib.catalog import Catalog
from itemlib.models import document_modules, encode_items


def cache_file(cache_dir: Path, catalog_name: str, key: str) -> Path:
    """Where a catalog's embeddings are cached; the name is cut to safe characters, so that a catalog
    called ``../../x`` never writes outside ``cache_dir``."""
    return cache_dir / f"{re.sub(r'[^A-Za-z0-9_-]+', '_', catalog_name)[:60]}-{key}.npy"


def default_cache_dir() -> Path:
    return Path(os.environ.get("ITEMLIB_CACHE", Path.home() / ".cache" / "itemlib")) / "embeddings"


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


def embed_catalog(
    model, catalog: Catalog, *, batch_size: int = 64, cache_dir: Path | None = None, progress: bool = False
) -> np.ndarray:
    """The (items x dim) unit-norm embeddings of ``catalog.texts`` by ``model``'s item side, read from
    the cache when this model has embedded these texts before, else computed and cached."""
    import torch

    texts = catalog.texts
    key = hashlib.sha256((model_fingerprint(model) + "\x00" + "\x1f".join(texts)).encode()).hexdigest()[:24]
    path = cache_file(cache_dir if cache_dir is not None else default_cache_dir(), catalog.name, key)
    if path.exists():
        return np.load(path)
    with torch.inference_mode():
        embeddings = encode_items(model, texts, batch_size, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, embeddings)
    os.replace(partial, path)
    return embeddings
