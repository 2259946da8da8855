"""A validation split for choosing recipe settings without the test set.

A training run may draw only part of the generated training examples, and one of a whole epoch or
more holds some out (``validation_share``; the ``cpu`` profile: the last tenth of each task). The
rest are examples of the same tasks, phrasings and targets that the run never saw, which is what a
validation split needs: comparing settings on them leaves the test set, with its own phrasings and
held-out targets, untouched until the final measurement. Each example is judged as a test query of
its task would be (:meth:`itemlib.tasks.Task.as_test`), and the split is written in the test
format, so ``itemlib evaluate --tests`` reads it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from pathlib import Path

from itemlib.catalog import Catalog
from itemlib.generate import test_record, write_jsonl
from itemlib.publish import published_dir
from itemlib.tasks import get_task
from itemlib.training import TrainConfig, drawn_rows, load_training_records


def training_card(model_dir: str | Path) -> dict:
    """The card :func:`itemlib.training.train` writes beside a model: its settings and data size."""
    card_path = Path(model_dir) / "itemlib_training.json"
    if not card_path.exists():
        raise ValueError(f"{model_dir}: no itemlib_training.json (not a model fine-tuned by itemlib)")
    return json.loads(card_path.read_text())


def trained_config(card: dict) -> TrainConfig:
    """The settings a model was trained with, from its :func:`training_card`."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in card["hyperparameters"].items() if k in names})


def validation_split(
    data_dir: str | Path, catalog: Catalog, trained: Sequence[str | Path], per_task: int = 300, seed: int = 0
) -> dict[str, list[dict]]:
    """Up to ``per_task`` test-form records per task from training examples none of ``trained`` drew.

    ``trained`` are model folders fine-tuned on ``data_dir``; an example counts as drawn by a run
    when its task and query match one that run's data loader yields.
    """
    drawn: set[tuple[str, str]] = set()
    for model_dir in trained:
        card = training_card(model_dir)
        config = trained_config(card)
        records, _ = load_training_records(data_dir, config)
        if card.get("examples") != len(records):
            raise ValueError(
                f"{model_dir} was trained on {card.get('examples')} examples, but {data_dir} gives {len(records)} "
                "with its settings: it was not trained on this data"
            )
        drawn.update(
            (records[row]["task"], records[row]["query"]) for row in drawn_rows(records, config, str(model_dir))
        )
    everything, _ = load_training_records(data_dir, TrainConfig(negatives=0))
    unseen: dict[str, list[dict]] = {}
    for record in everything:
        if (record["task"], record["query"]) not in drawn:
            unseen.setdefault(record["task"], []).append(record)
    split = {}
    for task, records in unseen.items():
        chosen = random.Random(f"{seed}:{task}:validation").sample(records, min(per_task, len(records)))
        split[task] = [test_record(catalog, get_task(task).as_test(record)) for record in chosen]
    return split


def write_validation_split(
    data_dir: str | Path,
    catalog: Catalog,
    trained: Sequence[str | Path],
    out_dir: str | Path,
    per_task: int = 300,
    seed: int = 0,
) -> dict[str, int]:
    """Write :func:`validation_split` to ``out_dir/test/<TASK>.jsonl`` and its completion record
    ``out_dir/stats.json`` (published whole, as ``itemlib generate`` does); returns the count per task."""
    with published_dir(out_dir, "stats.json") as scratch:
        split = validation_split(data_dir, catalog, trained, per_task, seed)
        for task, records in split.items():
            write_jsonl(scratch / "test" / f"{task}.jsonl", records)
        counts = {task: len(records) for task, records in split.items()}
        record = {
            "kind": "validation-split",
            "catalog": catalog.name,
            "data": str(data_dir),
            "trained": [str(t) for t in trained],
            "per_task": per_task,
            "seed": seed,
            "tasks": counts,
        }
        (scratch / "stats.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return counts
