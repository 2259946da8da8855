"""Examples generated per second for MovieLens and Steam at the default sizes.

Loading is timed apart from generation; generation covers all ten tasks, leakage filtering,
verified negatives and writing the files. Run: ``python benchmarks/bench_generate.py``.
"""

from __future__ import annotations

import tempfile
import time

from itemlib.catalog import CatalogError
from itemlib.datasets import load_catalog
from itemlib.generate import generate


def measure(name: str) -> None:
    started = time.perf_counter()
    try:
        catalog = load_catalog(name)
    except CatalogError as error:
        print(f"{name:10s} skipped: {error}")
        return
    loaded = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        stats = generate(catalog, out, progress=False)
    done = time.perf_counter()
    examples = sum(t["train_examples"] + t["test_examples"] for t in stats["tasks"].values())
    seconds = done - loaded
    print(
        f"{name:10s} load {loaded - started:6.1f} s  generate {seconds:6.1f} s  "
        f"{examples:7d} examples  {examples / seconds:8.0f} examples/s"
    )


if __name__ == "__main__":
    for catalog_name in ("movielens", "steam"):
        measure(catalog_name)
