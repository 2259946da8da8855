"""The training examples of a run: the generated JSONL read and checked, held-out shares cut,
tasks oversampled or their positives resampled, and the columns, in-batch masks and catalog
targets the losses read."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from itemlib.catalog import Catalog, CatalogError
from itemlib.jsonl import is_text_list, jsonl_lines, strict_loads
from itemlib.losses import CatalogTargets, LogitCorrection
from itemlib.publish import require_complete
from itemlib.relevance import relevant_mask, spec_problem
from itemlib.taskinfo import TASK_NAMES, task_info
from itemlib.train_config import TrainConfig


def load_training_records(data_dir: str | Path, config: TrainConfig) -> tuple[list[dict], dict]:
    """Training records of the chosen tasks with at least K negatives (the rest counted).

    The last ``config.validation_share`` of each task's lines are held out (counted), never read.

    A task in ``config.oversample`` has its records repeated, so a run that draws only part of
    the data (``max_steps``) sees that task more often; ``examples_per_task`` counts distinct ones.
    """
    require_complete(data_dir, "stats.json", f"run `itemlib generate --out {data_dir}` again")
    train_dir = Path(data_dir) / "train"
    records: list[dict] = []
    counts: dict[str, int] = {}
    held_out: dict[str, int] = {}
    short = 0
    repeats = dict(config.oversample or {})
    for name in config.tasks or TASK_NAMES:
        path = train_dir / f"{name}.jsonl"
        if not path.exists():
            if config.tasks:
                raise CatalogError(f"{path}: no training file for task {name}")
            continue
        taken = 0
        lines = jsonl_lines(path.read_text(encoding="utf-8"))
        held_out[name] = math.floor(len(lines) * config.validation_share)
        for number, line in enumerate(lines[: len(lines) - held_out[name]], start=1):
            if config.max_per_task is not None and taken >= config.max_per_task:
                break
            record = _training_record(path, number, line)
            if len(record["neg"]) < config.negatives:
                short += 1
                continue
            records.extend([record] * repeats.get(name, 1))
            taken += 1
        counts[name] = taken
    if not records:
        raise CatalogError(f"{train_dir}: no training examples for tasks {config.tasks or list(TASK_NAMES)}")
    stats = {"examples_per_task": counts, "skipped_fewer_negatives": short, "oversample": repeats}
    if config.validation_share:
        stats["validation_held_out"] = held_out
    return records, stats


#: What a training line must hold: the texts the loss reads, and the ids and spec filtering needs.
TRAINING_KEYS = ("task", "query", "pos", "neg", "pos_ids", "neg_ids", "spec")


def _training_record(path: Path, number: int, line: str) -> dict:
    """One line of a training file, or an error naming the file and line."""
    try:
        record = strict_loads(line)
    except ValueError as error:
        raise CatalogError(f"{path}:{number}: malformed JSON line ({error})") from None
    missing = [key for key in TRAINING_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise CatalogError(f"{path}:{number}: training record lacks {', '.join(missing)}")
    checks = {
        "task": isinstance(record["task"], str),
        "query": isinstance(record["query"], str),
        "pos": is_text_list(record["pos"]) and bool(record["pos"]),
        "neg": is_text_list(record["neg"]),
        "pos_ids": is_text_list(record["pos_ids"]) and bool(record["pos_ids"]),
        "neg_ids": is_text_list(record["neg_ids"]),
        "spec": isinstance(record["spec"], dict),
    }
    wrong = [key for key, ok in checks.items() if not ok]
    if not wrong and (problem := spec_problem(record["spec"])):
        raise CatalogError(f"{path}:{number}: {problem}")
    if wrong:
        raise CatalogError(f"{path}:{number}: training record field {wrong[0]!r} has the wrong type or is empty "
                           "(query and task are texts, pos/neg lists of texts, pos_ids/neg_ids lists of ids, "
                           "spec an object; pos and pos_ids hold at least one)")  # fmt: skip
    return record


def resample_positives(records: Sequence[dict], catalog: Catalog, tasks: Sequence[str], seed: int) -> list[dict]:
    """``records`` with the positive of each example of ``tasks`` redrawn among all items its
    query's predicate accepts (seeded; every repeat of an oversampled example draws anew).

    A generated threshold query ("released before 1984") is phrased from one item whose value sits
    a step or two inside the threshold, and its near-miss negatives sit just outside. Trained on
    that item alone, a model learns "a value near the number in the query", which puts boundary
    items (1984 films) in its top results; a positive drawn from everything that meets the
    condition teaches the side of the limit instead. The negatives stay valid: they are verified
    against the same predicate.
    """
    names = {task_info(task).name for task in tasks}
    rng = random.Random(seed)
    resampled = []
    for record in records:
        if record["task"] not in names:
            resampled.append(record)
            continue
        pool = np.flatnonzero(relevant_mask(catalog, record["spec"]))
        if not len(pool):
            raise CatalogError(
                f"a {record['task']} example accepts no item of {catalog.name}: {record['query']!r}"
                " (is this the catalog the data was generated from?)"
            )
        position = int(pool[rng.randrange(len(pool))])
        resampled.append(record | {"pos": [catalog.texts[position]], "pos_ids": [catalog.items[position].id]})
    return resampled


def build_dataset(records: Sequence[dict], negatives: int, passages: bool = True):
    """A ``datasets.Dataset`` with columns query, positive, negative_1..K and label (= row); without
    ``passages`` only query and label (a frozen item side encodes no passage)."""
    from datasets import Dataset

    columns: dict[str, list] = {"query": [r["query"] for r in records]}
    if passages:
        columns["positive"] = [r["pos"][0] for r in records]
    for k in range(negatives if passages else 0):
        columns[f"negative_{k + 1}"] = [r["neg"][k] for r in records]
    columns["label"] = list(range(len(records)))
    return Dataset.from_dict(columns)


def false_negative_mask(catalog: Catalog, records: Sequence[dict], negatives: int):
    """For ``in_batch="filtered"``: block an in-batch passage for query i when the item is
    relevant to i by its task's predicate, or is i's own positive item."""

    def passage_ids(row: int) -> list[str]:
        return [records[row]["pos_ids"][0]] + list(records[row]["neg_ids"][:negatives])

    def mask(rows: list[int]) -> torch.Tensor:
        batch = len(rows)
        items = [passage_ids(r)[0] for r in rows] + [i for r in rows for i in passage_ids(r)[1:]]
        positions = np.array([catalog.index[i] for i in items])
        item_ids = np.array(items)
        blocked = np.zeros((batch, len(items)), dtype=bool)
        for row, r in enumerate(rows):
            relevant = relevant_mask(catalog, records[r]["spec"])
            blocked[row] = relevant[positions] | (item_ids == records[r]["pos_ids"][0])
        return torch.from_numpy(blocked)

    return mask


def sampling_correction(records: Sequence[dict], tasks: Sequence[str], negatives: int) -> LogitCorrection:
    """For ``sampling_correction``: log q of each in-batch passage for the rows of ``tasks`` (0 for
    the other rows), q an item's share of the run's training positives (plus one, so a verified
    negative that is never a positive has a finite q).

    Why: with in-batch negatives an item is a negative about as often as it is some example's
    positive, so a frequent answer (a popular game, the next item of many histories) is pushed
    away from every other query, and the model learns log p(item | query) − log q(item): what the
    query says *beyond* popularity. Subtracting log q from the logits during training (Yi et al.,
    2019) makes it learn log p(item | query), popularity included, for the tasks named; the other
    tasks keep the correction off, so a title lookup is not drawn to popular items."""
    counts = Counter(record["pos_ids"][0] for record in records)
    total = len(records) + len(counts)
    chosen = set(tasks)

    def correction(rows: list[int]) -> torch.Tensor:
        items = [records[r]["pos_ids"][0] for r in rows] + [i for r in rows for i in records[r]["neg_ids"][:negatives]]
        log_q = torch.tensor([math.log((counts.get(item, 0) + 1) / total) for item in items])
        applies = torch.tensor([records[r]["task"] in chosen for r in rows], dtype=log_q.dtype)
        return applies[:, None] * log_q[None, :]

    return correction


def catalog_targets(catalog: Catalog, records: Sequence[dict]) -> CatalogTargets:
    """For ``item_tower="frozen"``: each row's positive catalog position, and the items its task's
    predicate accepts (left out of the softmax, see :class:`itemlib.losses.CatalogInfoNCELoss`)."""

    def targets(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            positives = [catalog.index[records[r]["pos_ids"][0]] for r in rows]
        except KeyError as error:
            raise CatalogError(
                f"positive item {error.args[0]!r} is not in {catalog.name}"
                " (is this the catalog the data was generated from?)"
            ) from None
        accepted = np.stack([relevant_mask(catalog, records[r]["spec"]) for r in rows])
        return torch.tensor(positives), torch.from_numpy(accepted)

    return targets
