"""Training throughput of itemlib versus a plain sentence-transformers run, side by side.

Same data (the first N generated MovieLens training examples, one epoch, so both runs see every
example once), same model (MiniLM), same batch shape (a query, its positive and 7 negatives, batch
8), same trainer. itemlib: ``itemlib.training.train`` with ItemInfoNCELoss (in-batch off); plain:
``MultipleNegativesRankingLoss``. Prints examples/s, non-padding tokens/s and the ratio (aim >= 0.95).

Run: ``python benchmarks/bench_train.py [--data DIR] [--steps 30]`` (generates MovieLens data
into a temporary directory when ``--data`` is not given).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from itemlib.datasets import load_movielens
from itemlib.generate import generate
from itemlib.models import load_encoder
from itemlib.training import TrainConfig, build_dataset, load_training_records, train

BATCH, NEGATIVES, MAX_LENGTH = 8, 7, 96


def plain_sentence_transformers(records: list[dict], out: Path) -> float:
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = load_encoder("minilm", max_seq_length=MAX_LENGTH)
    dataset = build_dataset(records, NEGATIVES).remove_columns("label")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=BATCH,
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


def non_padding_tokens(records: list[dict]) -> int:
    tokenizer = load_encoder("minilm", max_seq_length=MAX_LENGTH).tokenizer
    texts = [t for r in records for t in [r["query"], r["pos"][0], *r["neg"][:NEGATIVES]]]
    encoded = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)
    return sum(len(ids) for ids in encoded["input_ids"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", help="directory written by `itemlib generate` (default: generate MovieLens now)")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        data = Path(args.data) if args.data else scratch / "generated"
        if not args.data:
            generate(load_movielens(), data, progress=False)
        records, _ = load_training_records(data, TrainConfig(negatives=NEGATIVES))
        records = records[:: max(1, len(records) // (args.steps * BATCH))][: args.steps * BATCH]  # all tasks
        subset = scratch / "subset"
        (subset / "train").mkdir(parents=True)
        with (subset / "train" / "FA2I.jsonl").open("w") as handle:  # one file: training reads by task name
            handle.writelines(json.dumps(r) + "\n" for r in records)
        shutil.copy(data / "stats.json", subset / "stats.json")  # training refuses data without its record
        tokens = non_padding_tokens(records)

        started = time.perf_counter()
        train(
            subset,
            scratch / "itemlib",
            TrainConfig(
                model="minilm",
                negatives=NEGATIVES,
                batch_size=BATCH,
                epochs=1,
                max_seq_length=MAX_LENGTH,
                progress=False,
                logging_steps=1000,
            ),
        )
        ours = time.perf_counter() - started
        plain = plain_sentence_transformers(records, scratch / "plain")
    examples = len(records)
    print(
        f"{examples} examples x (1 query + 1 positive + {NEGATIVES} negatives), batch {BATCH}, "
        f"{tokens} non-padding tokens"
    )
    print(f"  plain sentence-transformers MNRL  {examples / plain:7.2f} examples/s  {tokens / plain:9.0f} tokens/s")
    print(f"  itemlib ItemInfoNCELoss           {examples / ours:7.2f} examples/s  {tokens / ours:9.0f} tokens/s")
    print(
        f"  ratio itemlib/plain               {plain / ours:7.2f}   "
        "(itemlib's time includes loading data and saving the model)"
    )


if __name__ == "__main__":
    main()
