"""Train/test builders: run the ten tasks, enforce the leakage rules, attach verified negatives,
and write the interchange files.

Output directory layout::

    train/<TASK>.jsonl  {"task", "query", "pos": [text], "neg": [text, ...], "pos_ids", "neg_ids",
                         "core", "spec", "user"}          (FlagEmbedding's format plus ids)
    test/<TASK>.jsonl   {"task", "query", "core", "pos_ids", "spec", "mask_ids", "n_relevant", "user"}
    validation/<TASK>.jsonl  the test format, user-history tasks (and I2I with ``i2i_validation_sources``)
                             only, when ``validation_per_task`` asks
    stats.json          counts per task, removed duplicates and leaks, the catalog's load report

For constraint tasks (FA2I, SA2I, VC2I, NA2I) every item satisfying ``spec`` is relevant;
``pos_ids`` holds the item the query was drawn from and ``n_relevant`` counts all of them.
Leakage rules: test cores (queries without their template) never equal a training core; test is
built first and training examples that collide are dropped and counted. The same seed writes
byte-identical files (no set iteration, no clocks, seeded ``random.Random`` per task and split).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm  # not tqdm.auto: in a kernel without ipywidgets it warns on import

from itemlib.catalog import Catalog
from itemlib.config import Config, option
from itemlib.negatives import sample_negatives
from itemlib.publish import published_dir
from itemlib.relevance import relevant_mask
from itemlib.taskinfo import TASK_NAMES, task_info, task_option
from itemlib.tasks import Context, Example, Task, get_task
from itemlib.writers import OfflineWriter, Writer


@dataclass
class GenerateConfig(Config):
    """What ``itemlib generate`` makes of a catalog (the writer and progress bar are not part of it)."""

    seed: int = option(0, help="fixes the generated files byte for byte")
    test_seed: int | None = option(
        None,
        help="draws the test queries apart from the training data (default: --seed); a fresh one is a test "
        "set no earlier decision has seen",
    )
    per_task: int = option(2000, minimum=0, help="training examples per task (before leakage and duplicate removal)")
    behaviour_per_task: int | None = option(
        None, minimum=0, help="training examples per behaviour task (UH2I, I2I, US2I, UQ2I; default: per-task)"
    )
    test_per_task: int = option(500, minimum=0, help="held-out test queries per task")
    validation_per_task: int = option(
        0,
        minimum=0,
        help="validation queries per user-history task (UH2I, US2I, UQ2I; and I2I with --i2i-validation-sources) "
        "drawn as the test draws its own: a validation judge's next item after their history, a held-out "
        "source's neighbours among the validation judges (validation/<TASK>.jsonl; never trained on)",
    )
    i2i_validation_sources: bool = option(
        False,
        help="keep a fixed quarter of the items (those with 5 or more neighbours among the validation judges) "
        "out of I2I training, as test sources are, so that I2I's validation queries ask what the test asks "
        "(changes the I2I training file; tried and not adopted by the study: the method page says why)",
    )
    negatives: int = option(7, minimum=0, help="verified negatives per training example")
    tasks: list[str] | None = task_option("subset of tasks (default: all ten)")

    def training_examples(self, task: str) -> int:
        """Training examples drawn for ``task``: ``behaviour_per_task`` for a behaviour task when set."""
        behaviour = self.behaviour_per_task is not None and task_info(task).group == "behaviour"
        return self.behaviour_per_task if behaviour else self.per_task  # type: ignore[return-value]


def normalise_core(core: str) -> str:
    return " ".join(core.lower().split())


def test_record(catalog: Catalog, example: Example) -> dict:
    """The stored form of a test (or validation) query: what evaluation needs to judge it.

    ``base_rate`` is the share of the catalog that answers the query (for constraint tasks, every
    item its constraints accept): what a random ranking scores on it, the floor of its task.
    """
    coverage = task_info(example.task).headline == "coverage"
    n_relevant = (
        int(relevant_mask(catalog, {"constraints": example.spec.get("constraints", [])}).sum())
        if coverage
        else len(example.pos_ids)
    )
    return {
        "task": example.task,
        "query": example.query,
        "core": example.core,
        "pos_ids": example.pos_ids,
        "spec": example.spec,
        "mask_ids": example.mask_ids,
        "n_relevant": n_relevant,
        "base_rate": round(n_relevant / len(catalog), 6),
        "user": example.user,
    }


def build_task(
    context: Context,
    task_name: str,
    *,
    seed: int,
    per_task: int,
    test_per_task: int,
    negatives: int,
    test_seed: int | None = None,
    validation_per_task: int = 0,
) -> tuple[list[dict], list[dict], dict, list[dict]]:
    """Training and test records of one task, its statistics, and its validation records. The test
    queries are drawn with ``test_seed`` (default ``seed``); training examples whose core a test
    query has are removed whatever seeds drew them. A user-history task (and I2I where the context
    keeps its validation sources out of training) draws up to
    ``validation_per_task`` validation queries shaped like its test queries
    (:meth:`~itemlib.tasks.Task.validation_examples`) with a random stream of their own, so
    the training and test files are the same with or without them; a validation query whose core a
    test query has, or whose query a training example has, is left out and counted."""
    catalog = context.catalog
    task = get_task(task_name)
    drawn = seed if test_seed is None else test_seed
    raw_test = task.build(context, "test", test_per_task, random.Random(f"{drawn}:{task.name}:test"))
    raw_train = task.build(context, "train", per_task, random.Random(f"{seed}:{task.name}:train"))

    test: list[Example] = []
    test_cores: set[str] = set()
    for example in raw_test:
        key = normalise_core(example.core)
        if key not in test_cores:
            test_cores.add(key)
            test.append(example)
    train: list[Example] = []
    seen_queries: set[str] = set()
    leaked = duplicates = 0
    for example in raw_train:
        if normalise_core(example.core) in test_cores:
            leaked += 1
            continue
        key = normalise_core(example.query)
        if key in seen_queries:
            duplicates += 1
            continue
        seen_queries.add(key)
        train.append(example)

    rng = random.Random(f"{seed}:{task.name}:negatives")
    train_records = []
    short = 0
    for example in train:
        negative_ids = sample_negatives(catalog, example.spec, example.pos_ids, negatives, rng)
        short += len(negative_ids) < negatives
        train_records.append(
            {
                "task": example.task,
                "query": example.query,
                "pos": [catalog.texts[catalog.index[i]] for i in example.pos_ids],
                "neg": [catalog.texts[catalog.index[i]] for i in negative_ids],
                "pos_ids": example.pos_ids,
                "neg_ids": negative_ids,
                "core": example.core,
                "spec": example.spec,
                "user": example.user,
            }
        )
    test_records = [test_record(catalog, example) for example in test]
    shaped = bool(validation_per_task) and task.draws_validation(context)
    validation, validation_removed = (
        _validation(context, task, validation_per_task, seed, raw_train, test_cores, seen_queries)
        if shaped
        else ([], 0)
    )
    stats = {
        "headline": task.info.headline,
        "train_examples": len(train_records),
        "test_examples": len(test_records),
        "negatives_verified": sum(len(r["neg_ids"]) for r in train_records),
        "train_with_fewer_negatives": short,
        "train_duplicates_removed": duplicates,
        "train_leaked_removed": leaked,
        "test_duplicates_removed": len(raw_test) - len(test),
    }
    if shaped:
        stats |= {"validation_examples": len(validation), "validation_removed": validation_removed}
    return train_records, test_records, stats, [test_record(catalog, example) for example in validation]


def _validation(
    context: Context,
    task: Task,
    count: int,
    seed: int,
    raw_train: list[Example],
    test_cores: set[str],
    train_queries: set[str],
) -> tuple[list[Example], int]:
    """Up to ``count`` test-shaped validation examples of a task that draws them, and how many were
    left out: a core a test query has, a query a training example (or an earlier validation one) has."""
    rng = random.Random(f"{seed}:{task.name}:validation")
    drawn = task.validation_examples(context, count, rng, raw_train)
    kept: list[Example] = []
    seen = set(train_queries)
    for example in drawn:
        key = normalise_core(example.query)
        if normalise_core(example.core) in test_cores or key in seen:
            continue
        seen.add(key)
        kept.append(example)
    return kept, len(drawn) - len(kept)


def write_jsonl(path: Path, records: Sequence[dict]) -> None:
    """One JSON record per line. Callers write into a scratch folder that :func:`itemlib.publish.published_dir`
    moves into place whole, so a file needs no atomic write of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def generate(
    catalog: Catalog,
    out_dir: str | Path,
    config: GenerateConfig | None = None,
    *,
    writer: Writer | None = None,
    progress: bool = True,
    **settings: object,
) -> dict:
    """Generate train and test files of the configured tasks (default: all ten) into ``out_dir``.

    ``settings`` override fields of ``config`` (``generate(catalog, out, seed=1)``). The folder is
    built aside and replaces ``out_dir`` only when complete, ``stats.json`` last, so an interrupted
    or failed run (a dead LLM endpoint) leaves ``out_dir`` as it was. A task the catalog cannot
    give (no interactions, no numeric field, ...) writes no files; ``stats.json`` says why. Returns
    the statistics also written to ``stats.json``.
    """
    config = replace(config or GenerateConfig(), **settings)  # type: ignore[arg-type]
    names = config.tasks or list(TASK_NAMES)
    context = Context(catalog, writer or OfflineWriter(), validation_sources=config.i2i_validation_sources)
    per_task_stats: dict[str, dict] = {}
    with published_dir(out_dir, "stats.json", "generate") as scratch:
        for name in tqdm(names, desc=f"generating {catalog.name}", unit="task", disable=not progress):
            reason = get_task(name).unavailable(context)
            if reason is None:
                train, test, stats, validation = build_task(
                    context, name, seed=config.seed, per_task=config.training_examples(name),
                    test_per_task=config.test_per_task, negatives=config.negatives, test_seed=config.test_seed,
                    validation_per_task=config.validation_per_task,
                )  # fmt: skip
                if train or test:
                    write_jsonl(scratch / "train" / f"{name}.jsonl", train)
                    write_jsonl(scratch / "test" / f"{name}.jsonl", test)
                    if validation:
                        write_jsonl(scratch / "validation" / f"{name}.jsonl", validation)
                    per_task_stats[name] = stats
                    continue
                reason = "no item of the catalog gave an example"
            per_task_stats[name] = {"unavailable": reason, "train_examples": 0, "test_examples": 0}
        summary = {
            "catalog": catalog.name,
            "catalog_fingerprint": catalog.fingerprint,
            "items": len(catalog),
            "users_with_history": len(catalog.histories),
            "seed": config.seed,
            "test_seed": config.seed if config.test_seed is None else config.test_seed,
            "per_task": config.per_task,
            "behaviour_per_task": config.behaviour_per_task,
            "test_per_task": config.test_per_task,
            "validation_per_task": config.validation_per_task,
            "i2i_validation_sources": config.i2i_validation_sources,
            "negatives": config.negatives,
            "writer": type(context.writer).__name__,
            "tasks": per_task_stats,
            "catalog_report": catalog.report.to_dict(),
        }
        text = json.dumps(summary, indent=1, ensure_ascii=False) + "\n"
        (scratch / "stats.json").write_text(text, encoding="utf-8")  # the completion record, written last
    return summary
