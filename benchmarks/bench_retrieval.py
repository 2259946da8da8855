"""Retrieval speed, measured side by side in one run.

1. Catalog embedding, items/s: itemlib's ``EncoderRetriever.index`` (sentence-transformers encode,
   inference mode, no cache) versus a raw transformers forward + mean pooling + normalisation over
   the same MovieLens item texts and batch size. Aim: ratio >= 0.9.
2. Exact top-20 with per-query masks on a 100,000 x 384 random catalog and 1,000 queries:
   itemlib's chunked exact search versus faiss ``IndexFlatIP`` (over-fetching for the masks).

Run: ``python benchmarks/bench_retrieval.py [--items N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from itemlib.catalog import Catalog
from itemlib.datasets import load_movielens
from itemlib.models import load_encoder, resolve
from itemlib.retrieval import EncoderRetriever, chunked_top_k, faiss_top_k


def raw_forward(texts: list[str], batch_size: int) -> np.ndarray:
    path = resolve("minilm")[0]
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out)


def bench_embedding(count: int, batch_size: int = 64) -> None:
    full = load_movielens()
    catalog = Catalog("movielens-head", full.items[:count], list(full.schema.values()))
    texts = catalog.texts
    started = time.perf_counter()
    raw = raw_forward(texts, batch_size)
    raw_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as cache:
        retriever = EncoderRetriever(load_encoder("minilm"), batch_size=batch_size, cache_dir=Path(cache))
        started = time.perf_counter()
        retriever.index(catalog)
        ours_seconds = time.perf_counter() - started
    agreement = float(np.mean(np.sum(raw * retriever.item_embeddings, axis=1)))
    print(f"catalog embedding, {count} MovieLens item texts, batch {batch_size}:")
    print(f"  raw transformers  {count / raw_seconds:8.1f} items/s")
    print(f"  itemlib           {count / ours_seconds:8.1f} items/s")
    print(f"  ratio itemlib/raw {raw_seconds / ours_seconds:8.2f}   (mean cosine between the two: {agreement:.4f})")


def bench_search(items: int = 100_000, queries: int = 1_000, dim: int = 384, k: int = 20) -> None:
    rng = np.random.default_rng(0)
    item_embeddings = rng.standard_normal((items, dim), dtype=np.float32)
    item_embeddings /= np.linalg.norm(item_embeddings, axis=1, keepdims=True)
    query_embeddings = rng.standard_normal((queries, dim), dtype=np.float32)
    query_embeddings /= np.linalg.norm(query_embeddings, axis=1, keepdims=True)
    masks = [rng.choice(items, 20, replace=False).tolist() for _ in range(queries)]
    ranks = np.arange(items)
    started = time.perf_counter()
    exact = chunked_top_k(lambda rows: query_embeddings[rows] @ item_embeddings.T, queries, masks, k, ranks)
    exact_seconds = time.perf_counter() - started
    started = time.perf_counter()
    approx = faiss_top_k(query_embeddings, item_embeddings, masks, k, ranks)
    faiss_seconds = time.perf_counter() - started
    print(f"masked exact top-{k}, {items:,} x {dim} catalog, {queries:,} queries:")
    print(f"  itemlib exact        {exact_seconds:7.2f} s")
    print(f"  faiss IndexFlatIP    {faiss_seconds:7.2f} s")
    print(
        f"  ratio faiss/itemlib  {faiss_seconds / exact_seconds:7.2f}   "
        f"(identical top-{k}: {np.array_equal(exact, approx)})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000, help="MovieLens item texts to embed")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    bench_embedding(args.items)
    bench_search()
