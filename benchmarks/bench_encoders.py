"""Catalog embedding throughput of the study's encoders side by side: MiniLM (22M) and mpnet (110M).

The same item texts (a seeded sample of a catalog), the same batch size and length limit, each
encoder timed twice in alternating order after a warm-up batch; prints items/s of each and how many
times slower mpnet is, and what the whole catalog would cost each: the ``cpu`` profile embeds each
catalog once per model, cached (itemlib.embedding).

Run: ``python benchmarks/bench_encoders.py [--catalog movielens] [--items 2000]`` on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from itemlib.datasets import load_catalog
from itemlib.models import encode_items, load_encoder

ENCODERS = ("minilm", "mpnet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="movielens")
    parser.add_argument("--items", type=int, default=2000, help="item texts embedded per timing")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    catalog = load_catalog(args.catalog)
    texts = catalog.subset(min(args.items, len(catalog)), 0).texts
    models = {name: load_encoder(name) for name in ENCODERS}
    seconds: dict[str, list[float]] = {name: [] for name in ENCODERS}
    with torch.inference_mode():
        for model in models.values():
            encode_items(model, texts[: args.batch_size], args.batch_size)  # warm-up
        for order in (ENCODERS, ENCODERS[::-1]):
            for name in order:
                started = time.perf_counter()
                encode_items(models[name], texts, args.batch_size)
                seconds[name].append(time.perf_counter() - started)
    print(f"catalog embedding, {args.catalog}: {len(texts):,} item texts, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    rate = {name: len(texts) / min(times) for name, times in seconds.items()}
    for name in ENCODERS:
        print(f"  {name:7s} {rate[name]:8.1f} items/s  (best of {len(seconds[name])}: {min(seconds[name]):.1f} s)")
    print(f"  mpnet/minilm: {rate['minilm'] / rate['mpnet']:.2f}x the time per item")
    size = len(catalog)
    minutes = {name: size / rate[name] / 60 for name in ENCODERS}
    print(f"  the whole {args.catalog} catalog ({size:,} items) at these rates: minilm {minutes['minilm']:.1f} min, "
          f"mpnet {minutes['mpnet']:.1f} min")  # fmt: skip


if __name__ == "__main__":
    main()
