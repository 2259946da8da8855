"""Catalog embedding in fp32 versus int8, speed and rankings side by side in one run.

The int8 model is PyTorch's dynamic quantization of every ``nn.Linear`` (int8 weights, activations
quantized per batch; ``torch.ao.quantization.quantize_dynamic``), which needs no new dependency.
sentence-transformers' own ONNX and OpenVINO backends need ``optimum``, whose releases on the
registry pin an older transformers (or, for OpenVINO, pull a CUDA build of another PyTorch), so
they do not install beside this package's requirements.

Prints catalog items/s of both, then the headline metric per task of both on a validation split
with the paired 95% interval of int8 − fp32. The study would embed its catalogs in int8 only if
that interval contains zero on every task (rankings that agree within query noise).

Run: ``python benchmarks/bench_embed.py --model work/cpu/models/movielens --catalog movielens``
(the tests default to ``MODEL-validation``, the split the study's train run writes).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from itemlib.comparison import interval_text, paired_comparison
from itemlib.datasets import load_catalog
from itemlib.evaluation import evaluate
from itemlib.models import encode_items, load_encoder
from itemlib.retrieval import EncoderRetriever


class Embedded(EncoderRetriever):
    """An encoder retriever over item embeddings computed beforehand, so that only the encoding is timed."""

    def __init__(self, name: str, model, items: np.ndarray) -> None:
        super().__init__(model)
        self.name, self.item_embeddings = name, items

    def index(self, catalog) -> None:
        """Nothing to do: the items were embedded (and timed) before."""


def int8(model):
    """``model`` with every linear layer quantized to int8 (dynamic activations)."""
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="work/cpu/models/movielens", help="model folder, preset or Hub id")
    parser.add_argument("--catalog", default="movielens")
    parser.add_argument("--tests", help="validation split in the test format (default: MODEL-validation)")
    args = parser.parse_args()
    tests = args.tests or f"{args.model.rstrip('/')}-validation"
    if not os.path.exists(os.path.join(tests, "stats.json")):
        parser.error(f"{tests}: no validation split (run the study's train step, or pass --tests)")
    catalog = load_catalog(args.catalog)
    retrievers, seconds = {}, {}
    fp32 = load_encoder(args.model)
    for name, model in (("fp32", fp32), ("int8", int8(fp32))):  # int8() quantizes a copy
        started = time.perf_counter()
        with torch.inference_mode():
            items = encode_items(model, catalog.texts)
        seconds[name] = time.perf_counter() - started
        retrievers[name] = Embedded(name, model, items)
    print(f"catalog embedding, {args.catalog} ({len(catalog.texts):,} items), {torch.get_num_threads()} threads")
    for name, elapsed in seconds.items():
        print(f"  {name}  {len(catalog.texts) / elapsed:8.1f} items/s  ({elapsed:.1f} s)")
    print(f"  int8/fp32 {seconds['fp32'] / seconds['int8']:.2f}x the items/s")
    agreement = float(np.mean(np.sum(retrievers["fp32"].item_embeddings * retrievers["int8"].item_embeddings, axis=1)))
    print(f"  mean cosine between an item's fp32 and int8 embeddings: {agreement:.4f}")

    results = {name: evaluate(retriever, catalog, tests, progress=False) for name, retriever in retrievers.items()}
    values = {name: dict(tuple(result.per_query.groupby("task", sort=False))) for name, result in results.items()}
    print(f"\nheadline @5 on {tests}, int8 − fp32 with its 95% paired interval")
    agree = 0
    for task, fp32 in values["fp32"].items():
        quantized = values["int8"][task]
        diff = paired_comparison(quantized.value.to_numpy(), fp32.value.to_numpy())
        agree += diff["verdict"] == "within noise"
        print(f"  {task:5s} {len(fp32):4d} queries  fp32 {fp32.value.mean():.3f}  int8 {quantized.value.mean():.3f}  "
              f"{interval_text(diff['difference'], diff['low'], diff['high'])}  {diff['verdict']}")  # fmt: skip
    print(f"  within noise on {agree} of {len(values['fp32'])} tasks")


if __name__ == "__main__":
    main()
