"""Command line: ``itemlib generate`` (further verbs arrive with training and evaluation)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from itemlib.catalog import CatalogError
from itemlib.datasets import load_catalog
from itemlib.generate import DEFAULT_NEGATIVES, DEFAULT_PER_TASK, DEFAULT_TEST_PER_TASK, generate
from itemlib.tasks import TASKS
from itemlib.writers import ChatWriter, OfflineWriter, WriterError


def _generate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    writer = ChatWriter(args.llm_url, args.llm_model) if args.writer == "llm" else OfflineWriter()
    stats = generate(
        catalog,
        args.out,
        seed=args.seed,
        per_task=args.per_task,
        test_per_task=args.test_per_task,
        negatives=args.negatives,
        tasks=args.tasks,
        writer=writer,
        progress=not args.quiet,
    )
    table = {name: (s["train_examples"], s["test_examples"]) for name, s in stats["tasks"].items()}
    print(f"{catalog!r} -> {args.out}")
    for name, (train, test) in table.items():
        print(f"  {name:5s} train {train:6d}  test {test:5d}")
    if catalog.report.skipped:
        print("  skipped while loading (see stats.json):", json.dumps(dict(catalog.report.skipped)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itemlib", description="Align text embedders to item catalogs.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    gen = verbs.add_parser("generate", help="write train/test data of the ten tasks for a catalog")
    gen.add_argument("--catalog", required=True, help="movielens | steam | steam:DIR | a Steam directory | items.csv/.jsonl")
    gen.add_argument("--out", required=True, help="output directory")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--per-task", type=int, default=DEFAULT_PER_TASK, help="training examples per task (before leakage and duplicate removal)")
    gen.add_argument("--test-per-task", type=int, default=DEFAULT_TEST_PER_TASK)
    gen.add_argument("--negatives", type=int, default=DEFAULT_NEGATIVES, help="verified negatives per training example")
    gen.add_argument("--tasks", nargs="+", choices=list(TASKS), help="subset of tasks (default: all ten)")
    gen.add_argument("--writer", choices=["offline", "llm"], default="offline", help="who writes US2I summaries and AS2I requests")
    gen.add_argument("--llm-url", help="OpenAI-compatible base URL (default $ITEMLIB_LLM_URL)")
    gen.add_argument("--llm-model", help="chat model name (default $ITEMLIB_LLM_MODEL)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CatalogError, WriterError, ValueError) as error:
        print(f"itemlib {args.verb}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
