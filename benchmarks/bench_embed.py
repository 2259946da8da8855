"""Catalog embedding in fp32 versus int8 and bf16, speed and rankings side by side in one run.

The int8 model is PyTorch's dynamic quantization of every ``nn.Linear`` (int8 weights, activations
quantized per batch; ``torch.ao.quantization.quantize_dynamic``), which needs no new dependency.
bf16 is the library's own low precision (:data:`itemlib.models.INFERENCE_PRECISIONS`): bf16
autocast, the same weights, matrix products in bf16 (native on CPUs with AVX512-BF16 or AMX).
sentence-transformers' own ONNX and OpenVINO backends need ``optimum``, whose releases on the
registry pin an older transformers (or, for OpenVINO, pull a CUDA build of another PyTorch), so
they do not install beside this package's requirements.

Prints catalog items/s of each, then the headline metric per task of each on a validation split
with the paired 95% interval of it − fp32. The study embeds its catalogs in a precision other than
fp32 only if that interval contains zero on every task (rankings that agree within query noise),
for every encoder it would embed with (the tuned models and the untuned references), a criterion
fixed before any of these figures were seen.

Run: ``python benchmarks/bench_embed.py --model work/cpu/models/movielens --catalog movielens``
(the tests default to ``MODEL-validation``, the split the study's train run writes);
``--precisions fp32,bf16`` leaves int8 out (fp32 is always measured, as the reference).
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
    """An encoder retriever over item embeddings computed beforehand, so that only the encoding is
    timed; its queries are embedded in the same precision (a model object: never remembered)."""

    def __init__(self, name: str, model, items: np.ndarray, precision: str) -> None:
        super().__init__(model, precision=precision)
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
    parser.add_argument("--precisions", default="fp32,int8,bf16", help="comma-separated, among fp32, int8, bf16")
    args = parser.parse_args()
    asked = ["fp32", *(p for p in args.precisions.split(",") if p != "fp32")]
    if unknown := set(asked) - {"fp32", "int8", "bf16"}:
        parser.error(f"unknown precisions {sorted(unknown)}")
    tests = args.tests or f"{args.model.rstrip('/')}-validation"
    if not os.path.exists(os.path.join(tests, "stats.json")):
        parser.error(f"{tests}: no validation split (run the study's train step, or pass --tests)")
    catalog = load_catalog(args.catalog)
    retrievers, seconds = {}, {}
    fp32 = load_encoder(args.model)
    models = {"fp32": lambda: (fp32, "fp32"), "int8": lambda: (int8(fp32), "fp32"), "bf16": lambda: (fp32, "bf16")}
    for name in asked:
        model, precision = models[name]()  # int8() quantizes a copy
        started = time.perf_counter()
        with torch.inference_mode():
            items = encode_items(model, catalog.texts, precision=precision)
        seconds[name] = time.perf_counter() - started
        retrievers[name] = Embedded(name, model, items, precision)
    print(f"catalog embedding, {args.model} on {args.catalog} ({len(catalog.texts):,} items), "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for name, elapsed in seconds.items():
        print(f"  {name}  {len(catalog.texts) / elapsed:8.1f} items/s  ({elapsed:.1f} s)")
    for name in asked[1:]:
        cosine = np.sum(retrievers["fp32"].item_embeddings * retrievers[name].item_embeddings, axis=1)
        print(f"  {name}/fp32 {seconds['fp32'] / seconds[name]:.2f}x the items/s; cosine of an item's {name} and fp32 "
              f"embeddings: mean {cosine.mean():.5f}, least {cosine.min():.5f}")  # fmt: skip

    results = {name: evaluate(retriever, catalog, tests, progress=False) for name, retriever in retrievers.items()}
    values = {name: dict(tuple(result.per_query.groupby("task", sort=False))) for name, result in results.items()}
    for name in asked[1:]:
        print(f"\nheadline @5 on {tests}, {name} − fp32 with its 95% paired interval")
        agree = 0
        for task, reference in values["fp32"].items():
            other = values[name][task]
            diff = paired_comparison(other.value.to_numpy(), reference.value.to_numpy())
            agree += diff["verdict"] == "within noise"
            print(f"  {task:5s} {len(reference):4d} queries  fp32 {reference.value.mean():.3f}  "
                  f"{name} {other.value.mean():.3f}  "
                  f"{interval_text(diff['difference'], diff['low'], diff['high'])}  {diff['verdict']}")  # fmt: skip
        print(f"  {name}: within noise on {agree} of {len(values['fp32'])} tasks")


if __name__ == "__main__":
    main()
