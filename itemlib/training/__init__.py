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

One module per job, as FlagEmbedding separates them: :mod:`~itemlib.training.data` (the examples,
their checks, columns, in-batch masks and catalog targets), :mod:`~itemlib.training.trainer` (the
sentence-transformers trainer and the replay of its data loader), :mod:`~itemlib.training.resume`
(which run a folder belongs to) and :mod:`~itemlib.training.run` (:func:`train`, the card last).
"""

from itemlib.train_config import TrainConfig
from itemlib.training.data import (
    TRAINING_KEYS,
    build_dataset,
    catalog_targets,
    false_negative_mask,
    load_training_records,
    resample_positives,
    sampling_correction,
)
from itemlib.training.resume import claim_checkpoints, run_fingerprint
from itemlib.training.run import train
from itemlib.training.trainer import drawn_rows

__all__ = [
    "TRAINING_KEYS",
    "TrainConfig",
    "build_dataset",
    "catalog_targets",
    "claim_checkpoints",
    "drawn_rows",
    "false_negative_mask",
    "load_training_records",
    "resample_positives",
    "run_fingerprint",
    "sampling_correction",
    "train",
]
