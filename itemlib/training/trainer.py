"""The sentence-transformers trainer of a run (arguments, precision, devices, LoRA), and the replay
of its data loader that tells which examples a run draws."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from itemlib.losses import ItemInfoNCELoss
from itemlib.models import DOCUMENT, QUERY, document_modules, load_encoder
from itemlib.train_config import TrainConfig
from itemlib.training.data import build_dataset


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
    chosen = {"bf16": config.precision == "bf16", "fp16": config.precision == "fp16"}
    if config.precision == "bf16" and not torch.cuda.is_available():
        chosen["use_cpu"] = True  # bf16 autocast on the CPU (transformers asks for it by name)
    return chosen


def add_lora(model, rank: int) -> None:
    """Wrap the transformer in LoRA adapters with peft directly (only adapters train)."""
    from peft import LoraConfig, TaskType, get_peft_model

    word = model[0]
    word.model = get_peft_model(  # sentence-transformers keeps the HF model in ``model``
        word.model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, task_type=TaskType.FEATURE_EXTRACTION)
    )


def merge_lora(model) -> None:
    """Fold the adapters into the weights so the saved model loads anywhere, peft or not."""
    word = model[0]
    word.model = word.model.merge_and_unload()


def make_trainer(config: TrainConfig, model, dataset, loss, checkpoints: Path, callbacks: list | None = None):
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
        loader = make_trainer(
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
