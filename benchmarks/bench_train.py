"""Training throughput: itemlib versus plain sentence-transformers, and the study's recipes, side by side.

Same data (N generated MovieLens training examples spread over all tasks, one epoch, so every run
sees each of them once), same model (MiniLM), same trainer, one process, run one after another.

1. The loss at equal batch shape (a query, its positive and 7 negatives, batch 8, in-batch
   negatives off): ``itemlib.training.train`` with ItemInfoNCELoss against
   ``MultipleNegativesRankingLoss`` (aim: ratio >= 0.95).
2. The ``cpu`` profile's recipes: the one published before (3 verified negatives, batch 8,
   filtered in-batch negatives), the adopted one (no verified negatives, batch 32, filtered), and
   plain MNRL at the adopted one's batch (query and positive, batch 32).
3. Padding: the adopted recipe with each column embedded in one pass (padded to its longest text)
   against chunks of texts of similar length (``chunk_rows``; the same loss and gradients up to
   rounding and dropout draws, tests/test_training.py), with the share of computed tokens that are text.

Prints examples/s and non-padding tokens/s; itemlib's times include loading the data and saving the
model. Run: ``python benchmarks/bench_train.py [--catalog steam] [--data DIR] [--examples 320]``
(generates the catalog's data into a temporary directory when ``--data`` is not given; the study's
data is in ``work/cpu/data/CATALOG`` after a cpu pass).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from itemlib.catalog import Catalog
from itemlib.datasets import load_catalog
from itemlib.generate import generate
from itemlib.models import load_encoder
from itemlib.study.profiles import PROFILES
from itemlib.training import TrainConfig, build_dataset, load_training_records, train

MAX_LENGTH = 96


def plain_sentence_transformers(records: list[dict], negatives: int, batch: int, out: Path) -> float:
    """Seconds of one epoch of plain MNRL over ``records`` (query, positive and ``negatives``)."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = load_encoder("minilm", max_seq_length=MAX_LENGTH)
    dataset = build_dataset(records, negatives).remove_columns("label")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        num_train_epochs=1,
        learning_rate=2e-5,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=MultipleNegativesRankingLoss(model, scale=100.0)
    )
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def itemlib_seconds(data: Path, out: Path, config: TrainConfig, catalog: Catalog) -> float:
    """Seconds of one epoch of ``itemlib.training.train`` with ``config`` over ``data``."""
    config = replace(config, epochs=1, max_steps=-1, validation_share=0.0, save_steps=0, logging_steps=1000,
                     progress=False)  # fmt: skip
    started = time.perf_counter()
    train(data, out, config, catalog=catalog)
    return time.perf_counter() - started


@functools.cache
def tokenizer():
    return load_encoder("minilm", max_seq_length=MAX_LENGTH).tokenizer


def non_padding_tokens(records: list[dict], negatives: int) -> int:
    texts = [t for r in records for t in [r["query"], r["pos"][0], *r["neg"][:negatives]]]
    encoded = tokenizer()(texts, truncation=True, max_length=MAX_LENGTH)
    return sum(len(ids) for ids in encoded["input_ids"])


def padded_share(records: list[dict], batch: int, chunk_rows: int, seed: int = 0) -> float:
    """Share of the tokens a model computes that are text, query and positive columns, batches of
    ``batch`` drawn in a seeded random order, each column padded per chunk of ``chunk_rows``
    (0: per column) of similar length, as :func:`itemlib.losses.embed_columns_by_length` does."""
    import random

    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    text = computed = 0
    for column in ("query", "pos"):
        texts = [records[i][column] if column == "query" else records[i][column][0] for i in order]
        lengths = [len(ids) for ids in tokenizer()(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]]
        for start in range(0, len(lengths), batch):
            rows = sorted(lengths[start : start + batch])
            size = chunk_rows or len(rows)
            text += sum(rows)
            computed += sum(len(rows[i : i + size]) * max(rows[i : i + size]) for i in range(0, len(rows), size))
    return text / computed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", help="directory written by `itemlib generate` (default: generate MovieLens now)")
    parser.add_argument("--examples", type=int, default=320, help="training examples per run (a multiple of 32)")
    parser.add_argument("--catalog", default="movielens", help="movielens or steam (its data: --data)")
    args = parser.parse_args()
    catalog = load_catalog(args.catalog)
    adopted = PROFILES["cpu"].training
    earlier = replace(adopted, negatives=3, batch_size=8)  # the recipe published before (method page, appendix)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        data = Path(args.data) if args.data else scratch / "generated"
        if not args.data:
            generate(catalog, data, progress=False)
        records, _ = load_training_records(data, TrainConfig(negatives=7))
        records = records[:: max(1, len(records) // args.examples)][: args.examples]  # all tasks
        subset = scratch / "subset"
        (subset / "train").mkdir(parents=True)
        with (subset / "train" / "FA2I.jsonl").open("w") as handle:  # one file: training reads by task name
            handle.writelines(json.dumps(r) + "\n" for r in records)
        shutil.copy(data / "stats.json", subset / "stats.json")  # training refuses data without its record

        def report(title: str, arms: list) -> list[float]:
            """Run each arm in turn, print its throughput; returns the seconds of each."""
            print(f"{title} ({len(records)} examples, one epoch each)")
            seconds = []
            for name, negatives, batch, run in arms:
                seconds.append(run())
                tokens = non_padding_tokens(records, negatives)
                print(f"  {name:36s} {negatives} neg, batch {batch:2d}  {len(records) / seconds[-1]:7.2f} examples/s  "
                      f"{tokens / seconds[-1]:9.0f} non-padding tokens/s")  # fmt: skip
            return seconds

        plain, ours = report("1. the loss at equal batch shape", [
            ("plain sentence-transformers MNRL", 7, 8,
             lambda: plain_sentence_transformers(records, 7, 8, scratch / "p7")),
            ("itemlib ItemInfoNCELoss", 7, 8, lambda: itemlib_seconds(
                subset, scratch / "i7", TrainConfig(model="minilm", negatives=7, batch_size=8), catalog)),
        ])  # fmt: skip
        print(f"  ratio itemlib/plain {plain / ours:.2f}")
        before, after, plain = report("2. the cpu profile's recipes", [
            ("earlier recipe (filtered in-batch)", earlier.negatives, earlier.batch_size,
             lambda: itemlib_seconds(subset, scratch / "earlier", earlier, catalog)),
            ("adopted recipe (filtered in-batch)", adopted.negatives, adopted.batch_size,
             lambda: itemlib_seconds(subset, scratch / "adopted", adopted, catalog)),
            ("plain sentence-transformers MNRL", adopted.negatives, adopted.batch_size,
             lambda: plain_sentence_transformers(records, adopted.negatives, adopted.batch_size, scratch / "p0")),
        ])  # fmt: skip
        print(
            f"  adopted/earlier {before / after:.2f}x the examples/s; adopted/plain at equal batch {plain / after:.2f}"
        )
        chunks = sorted({adopted.chunk_rows, 4, 8, 16} - {0})
        seconds = report("3. padding: the adopted recipe, each column in one pass or in chunks of similar length", [
            (f"chunk_rows {rows}" + (" (adopted)" if rows == adopted.chunk_rows else ""), 0, adopted.batch_size,
             functools.partial(itemlib_seconds, subset, scratch / f"chunks{rows}", replace(adopted, chunk_rows=rows),
                               catalog))
            for rows in [0, *chunks]
        ])  # fmt: skip
        whole = padded_share(records, adopted.batch_size, 0)
        for rows, took in zip(chunks, seconds[1:]):
            share = padded_share(records, adopted.batch_size, rows)
            print(f"  chunk_rows {rows}: {seconds[0] / took:.2f}x the examples/s of one pass per column; text is "
                  f"{share:.0%} of the tokens computed, against {whole:.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
