"""One training run from generated data to a saved model with its card (:func:`train`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from itemlib.cards import CARD_FILE, LOG_FILE, TrainingCard
from itemlib.catalog import Catalog
from itemlib.embedding import embed_catalog
from itemlib.losses import CatalogInfoNCELoss, ItemInfoNCELoss
from itemlib.models import PRESETS, load_encoder, query_document_model
from itemlib.provenance import git_commit
from itemlib.publish import check_output_dir, claim
from itemlib.train_config import TrainConfig
from itemlib.training.data import (
    build_dataset,
    catalog_targets,
    false_negative_mask,
    load_training_records,
    resample_positives,
    sampling_correction,
)
from itemlib.training.resume import already_trained, claim_checkpoints, run_fingerprint
from itemlib.training.trainer import add_lora, make_trainer, merge_lora


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
    predicates). The model card :data:`itemlib.cards.CARD_FILE` is written last: a folder without it is an
    unfinished run, which the same call resumes; a finished run with the same data and settings is
    not trained again.
    """
    config = config or TrainConfig()
    if catalog is None and config.needs_catalog:
        raise ValueError("in_batch='filtered' and resample_positives need the catalog the data was generated from")
    out = check_output_dir(out_dir, "train", [data_dir])
    records, data_stats = load_training_records(data_dir, config)
    if config.resample_positives:
        records = resample_positives(records, catalog, config.resample_positives, config.seed)  # type: ignore[arg-type]
    fingerprint = run_fingerprint(config, records)
    if already_trained(out, fingerprint):
        return out
    frozen = config.item_tower == "frozen"
    dataset = build_dataset(records, config.negatives, passages=not frozen)

    torch.manual_seed(config.seed)
    model = load_encoder(config.model, pooling=config.pooling, max_seq_length=config.max_seq_length)
    lora_rank = config.lora_rank or (16 if PRESETS.get(config.model) and PRESETS[config.model].lora else 0)
    if frozen:  # the catalog embedded once by the base model, before its query side moves
        items = embed_catalog(model, catalog, progress=config.progress)  # type: ignore[arg-type]
        loss = CatalogInfoNCELoss(model, torch.from_numpy(items), catalog_targets(catalog, records), config.temperature,
                                  config.chunk_rows)  # fmt: skip
    if lora_rank:
        add_lora(model, lora_rank)
    if not frozen:
        masker = false_negative_mask(catalog, records, config.negatives) if config.in_batch == "filtered" else None
        correction = (sampling_correction(records, config.sampling_correction, config.negatives)
                      if config.sampling_correction else None)  # fmt: skip
        loss = ItemInfoNCELoss(model, config.temperature, config.in_batch, masker, config.chunk_rows,  # type: ignore[arg-type]
                               correction)  # fmt: skip

    out.mkdir(parents=True, exist_ok=True)
    claim(out, "train")
    checkpoints = out / "checkpoints"
    trainer = make_trainer(config, model, dataset, loss, checkpoints, callbacks)
    resume = claim_checkpoints(checkpoints, fingerprint)
    result = trainer.train(resume_from_checkpoint=resume)
    if not trainer.is_world_process_zero():
        return out
    if trainer.state.global_step < trainer.state.max_steps:  # stopped early by a callback
        return out
    if lora_rank:
        merge_lora(model)
    if frozen:  # items keep the base model's weights: the saved model routes them there
        base = load_encoder(config.model, pooling=config.pooling, max_seq_length=config.max_seq_length)
        model = query_document_model(model, base)
    model.save(str(out))
    card = TrainingCard(
        base_model=config.model,
        data=str(data_dir),
        data_stats=data_stats,
        examples=len(records),
        hyperparameters=dataclasses.asdict(config) | {"lora_rank": lora_rank},
        global_step=trainer.state.global_step,
        epoch=trainer.state.epoch,
        train_loss=result.training_loss,
        commit=git_commit(),
        fingerprint=fingerprint,
    )
    card.write(out)
    (out / LOG_FILE).write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    # sentence-transformers' card above already records the loss and trainer settings
    with (out / "README.md").open("a", encoding="utf-8") as readme:
        readme.write(
            "\n\n## itemlib fine-tuning\n\n"
            f"Base model `{config.model}`, fine-tuned with itemlib (commit `{card.commit}`) on `{data_dir}`: "
            f"{len(records)} examples from tasks {', '.join(data_stats['examples_per_task'])}, "
            f"{config.negatives} verified negatives each, {trainer.state.global_step} steps. "
            f"All settings: `{CARD_FILE}`.\n"
        )
    return out
