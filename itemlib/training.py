"""Contrastive fine-tuning on generated data, on sentence-transformers' trainer.

The trainer (a transformers ``Trainer``) brings mixed precision, gradient accumulation,
checkpoints and resume, progress bars, and ``torchrun`` / ``accelerate launch`` for several GPUs
or machines; itemlib adds the data (the ten tasks' JSONL with their verified negatives), the loss
(:class:`itemlib.losses.ItemInfoNCELoss`, or :class:`itemlib.losses.CatalogInfoNCELoss` with the item side
frozen) and a model card. The output directory loads with
``sentence_transformers.SentenceTransformer(path)`` and with ``itemlib.models.load_encoder``.

Resume: checkpoints go to ``OUT/checkpoints``; a new run on the same ``OUT`` continues from the
newest one, so an interrupted run loses at most ``save_steps`` steps. Only the same run resumes:
checkpoints left by other data or settings stop training with an error naming the folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from itemlib.catalog import Catalog, CatalogError
from itemlib.losses import CatalogInfoNCELoss, CatalogTargets, ItemInfoNCELoss
from itemlib.models import DOCUMENT, PRESETS, QUERY, document_modules, load_encoder, query_document_model
from itemlib.provenance import git_commit
from itemlib.publish import check_output_dir, require_complete
from itemlib.relevance import relevant_mask
from itemlib.retrieval import EncoderRetriever
from itemlib.taskinfo import TASK_NAMES, task_info
from itemlib.train_config import NON_RESULT_SETTINGS, TrainConfig

logger = logging.getLogger(__name__)


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
        lines = path.read_text(encoding="utf-8").splitlines()
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
        record = json.loads(line)
    except ValueError as error:
        raise CatalogError(f"{path}:{number}: malformed JSON line ({error})") from None
    missing = [key for key in TRAINING_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise CatalogError(f"{path}:{number}: training record lacks {', '.join(missing)}")
    if not record["pos"] or not isinstance(record["neg"], list):
        raise CatalogError(f"{path}:{number}: training record needs one positive text and a list of negatives")
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


def _distributed() -> dict[str, object]:
    """Under torchrun/accelerate on machines without a GPU, DDP needs the gloo backend on CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        return {"ddp_backend": "gloo", "use_cpu": True}
    return {}


def _precision(config: TrainConfig) -> dict[str, bool]:
    if config.precision == "auto":
        if torch.cuda.is_available():
            return {"bf16": torch.cuda.is_bf16_supported(), "fp16": not torch.cuda.is_bf16_supported()}
        return {"bf16": False, "fp16": False}
    return {"bf16": config.precision == "bf16", "fp16": config.precision == "fp16"}


def _add_lora(model, rank: int) -> None:
    """Wrap the transformer in LoRA adapters with peft directly (only adapters train)."""
    from peft import LoraConfig, TaskType, get_peft_model

    word = model[0]
    word.model = get_peft_model(  # sentence-transformers keeps the HF model in ``model``
        word.model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, task_type=TaskType.FEATURE_EXTRACTION)
    )


def _merge_lora(model) -> None:
    """Fold the adapters into the weights so the saved model loads anywhere, peft or not."""
    word = model[0]
    word.model = word.model.merge_and_unload()


def run_fingerprint(config: TrainConfig, records: Sequence[dict]) -> str:
    """Hash of the settings and the training examples: a checkpoint is resumed only by the run it
    belongs to, never by one with other data or settings (which would silently return the old model)."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in NON_RESULT_SETTINGS}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for record in records:
        digest.update(json.dumps([record["query"], record["pos"], record["neg"]]).encode())
    return digest.hexdigest()[:16]


def claim_checkpoints(checkpoints: Path, fingerprint: str) -> str | None:
    """The checkpoint to resume from (None: start afresh); marks the folder as this run's.

    Raises ``ValueError`` naming the folder when it holds checkpoints of a different run.
    """
    from transformers.trainer_utils import get_last_checkpoint

    stamp = checkpoints / "itemlib_run.json"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is not None:
        owner = json.loads(stamp.read_text()).get("fingerprint") if stamp.exists() else None
        if owner != fingerprint:
            raise ValueError(
                f"{checkpoints} holds checkpoints of another training run (other data or settings); "
                "remove that folder to start afresh, or choose another output directory"
            )
    checkpoints.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": fingerprint}) + "\n")
    return last


def _trainer(config: TrainConfig, model, dataset, loss, checkpoints: Path, callbacks: list | None = None):
    """The sentence-transformers trainer of a run: :func:`train` fits with it, and
    :func:`drawn_rows` replays its data loader to learn which examples a run sees."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    prompts = {}
    if model.prompts.get(QUERY):
        prompts["query"] = model.prompts[QUERY]
    if model.prompts.get(DOCUMENT):
        prompts.update(
            {column: model.prompts[DOCUMENT] for column in dataset.column_names if column not in ("query", "label")}
        )
    arguments = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps (transformers 5)
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 500,
        save_total_limit=2,
        logging_steps=config.logging_steps,
        report_to="none",
        disable_tqdm=not config.progress,
        prompts=prompts or None,
        # a query/document model (a frozen item side, saved) routes the query column to its query side
        router_mapping={column: QUERY if column == "query" else DOCUMENT for column in dataset.column_names}
        if document_modules(model) is not model
        else None,
        dataloader_num_workers=config.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),  # pinned memory only helps a GPU (and warns without one)
        remove_unused_columns=False,
        **_precision(config),
        **_distributed(),
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=arguments, train_dataset=dataset, loss=loss, callbacks=callbacks
    )
    if not config.progress:  # quiet means quiet: without a progress bar transformers prints every log dict
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def drawn_rows(records: Sequence[dict], config: TrainConfig, model: str | None = None) -> set[int]:
    """Rows of ``records`` that a one-process training run with ``config`` draws.

    The run's own data loader is replayed without training, so the answer follows whatever order
    the trainer uses. ``model`` (default: ``config.model``) only supplies the tokenizer: a
    fine-tuned model's own folder does. A run of an epoch or more draws every row.
    """
    encoder = load_encoder(model or config.model, pooling=config.pooling, max_seq_length=config.max_seq_length)
    dataset = build_dataset(records, config.negatives)
    with tempfile.TemporaryDirectory() as scratch:
        loader = _trainer(
            config, encoder, dataset, ItemInfoNCELoss(encoder, config.temperature), Path(scratch)
        ).get_train_dataloader()
        batches = (
            config.max_steps * config.gradient_accumulation
            if config.max_steps > 0
            else round(len(loader) * config.epochs)
        )
        if batches >= len(loader):
            return set(range(len(records)))
        drawn: set[int] = set()
        for number, batch in enumerate(loader):
            if number == batches:
                break
            drawn.update(int(row) for row in batch["label"])
    return drawn


def _already_trained(out: Path, fingerprint: str) -> bool:
    """True when ``out`` holds the finished model of this very run (said on stderr); an error when it
    holds a finished model of another run."""
    card_path = out / "itemlib_training.json"
    if not card_path.exists():
        return False
    card = json.loads(card_path.read_text())
    if card.get("fingerprint") != fingerprint:
        raise ValueError(
            f"{out} holds a model trained on other data or settings; choose another output folder or remove it"
        )
    logger.warning("%s is already trained (%s steps, same data and settings): nothing to do", out, card["global_step"])
    return True


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    catalog: Catalog | None = None,
    callbacks: list | None = None,
) -> Path:
    """Fine-tune ``config.model`` on the generated data in ``data_dir``; returns ``out_dir``.

    ``catalog`` is needed for ``in_batch="filtered"`` and ``resample_positives`` (the relevance
    predicates). The model card ``itemlib_training.json`` is written last: a folder without it is an
    unfinished run, which the same call resumes; a finished run with the same data and settings is
    not trained again.
    """
    config = config or TrainConfig()
    if catalog is None and config.needs_catalog:
        raise ValueError("in_batch='filtered' and resample_positives need the catalog the data was generated from")
    out = check_output_dir(out_dir)
    records, data_stats = load_training_records(data_dir, config)
    if config.resample_positives:
        records = resample_positives(records, catalog, config.resample_positives, config.seed)  # type: ignore[arg-type]
    fingerprint = run_fingerprint(config, records)
    if _already_trained(out, fingerprint):
        return out
    frozen = config.item_tower == "frozen"
    dataset = build_dataset(records, config.negatives, passages=not frozen)

    torch.manual_seed(config.seed)
    model = load_encoder(config.model, pooling=config.pooling, max_seq_length=config.max_seq_length)
    lora_rank = config.lora_rank or (16 if PRESETS.get(config.model) and PRESETS[config.model].lora else 0)
    if frozen:  # the catalog embedded once by the base model, before its query side moves
        items = EncoderRetriever(model, progress=config.progress)
        items.index(catalog)  # type: ignore[arg-type]
        loss = CatalogInfoNCELoss(
            model, torch.from_numpy(items.item_embeddings), catalog_targets(catalog, records), config.temperature
        )
    if lora_rank:
        _add_lora(model, lora_rank)
    if not frozen:
        masker = false_negative_mask(catalog, records, config.negatives) if config.in_batch == "filtered" else None
        loss = ItemInfoNCELoss(model, config.temperature, config.in_batch, masker)  # type: ignore[arg-type]

    checkpoints = out / "checkpoints"
    trainer = _trainer(config, model, dataset, loss, checkpoints, callbacks)
    resume = claim_checkpoints(checkpoints, fingerprint)
    result = trainer.train(resume_from_checkpoint=resume)
    if not trainer.is_world_process_zero():
        return out
    if trainer.state.global_step < trainer.state.max_steps:  # stopped early by a callback
        return out
    if lora_rank:
        _merge_lora(model)
    if frozen:  # items keep the base model's weights: the saved model routes them there
        base = load_encoder(config.model, pooling=config.pooling, max_seq_length=config.max_seq_length)
        model = query_document_model(model, base)
    model.save(str(out))
    card = {
        "base_model": config.model,
        "data": str(data_dir),
        "data_stats": data_stats,
        "examples": len(records),
        "hyperparameters": dataclasses.asdict(config) | {"lora_rank": lora_rank},
        "global_step": trainer.state.global_step,
        "epoch": trainer.state.epoch,
        "train_loss": result.training_loss,
        "commit": git_commit(),
        "fingerprint": fingerprint,
    }
    (out / "itemlib_training.json").write_text(json.dumps(card, indent=1) + "\n")
    (out / "training_log.json").write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    # sentence-transformers' card above already records the loss and trainer settings
    with (out / "README.md").open("a", encoding="utf-8") as readme:
        readme.write(
            "\n\n## itemlib fine-tuning\n\n"
            f"Base model `{config.model}`, fine-tuned with itemlib (commit `{card['commit']}`) on `{data_dir}`: "
            f"{len(records)} examples from tasks {', '.join(data_stats['examples_per_task'])}, "
            f"{config.negatives} verified negatives each, {trainer.state.global_step} steps. "
            "All settings: `itemlib_training.json`.\n"
        )
    return out
