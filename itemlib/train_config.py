"""The training recipe, declared once: :class:`TrainConfig`.

Kept apart from :mod:`itemlib.training` (which imports PyTorch and sentence-transformers) so the
command line, the study's profiles and its notebooks can read and build a recipe cheaply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

from itemlib.cards import TrainingCard
from itemlib.config import Config, option
from itemlib.models import POOLINGS
from itemlib.taskinfo import task_option

InBatch = Literal["off", "on", "filtered"]
#: In-batch negatives: none (the paper), all other examples' passages, or those the query's predicate rejects.
IN_BATCH_MODES: tuple[str, ...] = get_args(InBatch)
ItemTower = Literal["trained", "frozen"]
#: The item side of training: encoded and trained with the query side (the paper), or frozen at the
#: base model, each query scored against the whole catalog's embeddings (itemlib.losses.CatalogInfoNCELoss).
ITEM_TOWERS: tuple[str, ...] = get_args(ItemTower)
#: Settings that do not change what a training run computes, so a checkpoint survives changing them.
NON_RESULT_SETTINGS = ("progress", "logging_steps", "dataloader_workers", "save_steps")
#: Settings added after models were published: at their default they change nothing a run computes, so
#: they enter a run's fingerprint only when set, and the published models still match their data.
LATER_SETTINGS = ("sampling_correction",)
#: Numeric precisions of training: "auto" is bf16/fp16 on a GPU and fp32 on a CPU.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Divides cosine similarities in both losses: the default of TrainConfig, ItemInfoNCELoss and CatalogInfoNCELoss.
DEFAULT_TEMPERATURE = 0.01


@dataclass
class TrainConfig(Config):
    """Everything a training run computes from: the one declaration of the recipe.

    The command line (``itemlib train --help``), the study's profiles and the train notebook all
    take their options from these fields. Defaults suit MiniLM on a CPU (the paper's temperature,
    7 negatives).
    """

    model: str = option("minilm", help="encoder preset (minilm, bert, bge, e5, repllama), path or Hub id")
    pooling: str | None = option(None, choices=POOLINGS, help="default: the preset's, else mean")
    tasks: list[str] | None = task_option("tasks to train on (default: all ten)")
    max_per_task: int | None = option(None, minimum=1, help="cap on the training examples taken from each task")
    oversample: dict[str, int] | None = task_option(
        "repeat each example of TASK N times, so a run of --max-steps draws that task N times as often", "TASK=N"
    )
    resample_positives: list[str] | None = task_option(
        "draw TASK's positives from every item its query accepts, not the item it was phrased from (needs the catalog)"
    )
    sampling_correction: list[str] | None = task_option(
        "logQ correction for TASK's queries: the log of each in-batch item's share of the training positives "
        "is subtracted from its logit, so that an item is not pushed away for being a frequent answer"
    )
    negatives: int = option(7, minimum=0, maximum=15, help="verified negatives per example")
    in_batch: str = option(
        "off",
        choices=IN_BATCH_MODES,
        help="other examples' passages as negatives: off, on, or filtered by the query's predicate "
        "(filtered needs the catalog)",
    )
    item_tower: str = option(
        "trained",
        choices=ITEM_TOWERS,
        help="frozen: only the query side learns, each query scored against the whole catalog embedded once by "
        "the base model (every item its predicate rejects is a negative; needs the catalog, --negatives 0 and "
        "--in-batch off); the saved model encodes items with the base weights",
    )
    validation_share: float = option(
        0.0,
        minimum=0,
        maximum=0.5,
        help="share of each task's examples (the last lines of its file) never trained on, so that a run of "
        "one epoch or more still leaves a validation split (itemlib validation-split)",
    )
    temperature: float = option(DEFAULT_TEMPERATURE, above=0, help="divides cosine similarities in the loss")
    batch_size: int = option(8, minimum=1, help="examples per step and device")
    learning_rate: float = option(2e-5, above=0, flag="--lr", help="peak learning rate")
    epochs: float = option(1.0, above=0, help="passes over the data (when --max-steps is not set)")
    max_steps: int = option(-1, minimum=1, help="optimizer steps; overrides --epochs (-1: not set)")
    warmup_ratio: float = option(0.1, minimum=0, maximum=1, help="share of the steps spent warming up")
    gradient_accumulation: int = option(1, minimum=1, help="batches per optimizer step")
    precision: str = option("auto", choices=PRECISIONS, help="auto: bf16/fp16 on a GPU, fp32 on a CPU")
    seed: int = option(0, help="fixes initialisation, data order and resampled positives")
    save_steps: int = option(0, minimum=0, help="checkpoint every N steps (0: only the final model)")
    max_seq_length: int = option(96, minimum=1, help="tokens per text")
    chunk_rows: int = option(
        0,
        minimum=0,
        help="embed each column of a batch in chunks of N texts of similar length, each padded only to its "
        "own longest: the same loss up to rounding and dropout draws, less padding (0: a column in one pass)",
    )
    lora_rank: int = option(0, minimum=0, help="> 0 trains LoRA adapters, merged into the saved weights; repllama: 16")
    logging_steps: int = option(10, minimum=1, help="steps between loss records")
    progress: bool = option(True, flag="--quiet", help="no progress bar")
    dataloader_workers: int = option(0, minimum=0, help="data loader processes")

    def check(self) -> None:
        for name, times in (self.oversample or {}).items():
            if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                raise ValueError(f"oversample counts must be whole numbers >= 1, got {name}={times!r}")
        if self.item_tower == "frozen" and self.sampling_correction:
            raise ValueError(
                "sampling_correction corrects the in-batch passages of ItemInfoNCELoss; item_tower='frozen' scores "
                "every catalog item instead, where it would be ignored"
            )
        if self.item_tower == "frozen" and (self.negatives or self.in_batch != "off"):
            raise ValueError(
                "item_tower='frozen' scores every catalog item the predicate rejects: set negatives=0 and "
                f"in_batch='off' (got negatives={self.negatives}, in_batch={self.in_batch!r})"
            )

    @property
    def needs_catalog(self) -> bool:
        """Whether training reads the catalog's relevance predicates (filtered in-batch negatives,
        resampled positives, a frozen item side): callers load a catalog only then."""
        return self.in_batch == "filtered" or bool(self.resample_positives) or self.item_tower == "frozen"

    @classmethod
    def from_card(cls, card: TrainingCard) -> TrainConfig:
        """The settings a model was trained with, from its card (fields of later versions ignored)."""
        names = {spec.name for spec in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in card.hyperparameters.items() if k in names})
