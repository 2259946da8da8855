"""The card itemlib writes beside a fine-tuned model: :class:`TrainingCard`, declared once.

sentence-transformers writes its own ``README.md`` model card; itemlib adds ``itemlib_training.json``
(:data:`CARD_FILE`), written last, so its presence marks a finished run: the model loader refuses a
folder with checkpoints but no card, ``itemlib train`` treats a card with the same fingerprint as
"nothing to do", and validation splits and the study read the recipe and data size from it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The card's file name inside a model folder.
CARD_FILE = "itemlib_training.json"
#: The trainer's logged history (loss per logging step), beside the card.
LOG_FILE = "training_log.json"


def examples_seen(card: Mapping[str, Any]) -> int:
    """Training examples a run drew, from a card (or a record holding one): steps x batch x accumulation
    (the last batch of an epoch may be short, so this can exceed the examples by less than one batch)."""
    settings = card["hyperparameters"]
    return card["global_step"] * settings["batch_size"] * settings["gradient_accumulation"]


@dataclass(frozen=True)
class TrainingCard:
    """What a finished itemlib training run records about itself.

    Attributes:
        base_model: the preset, path or Hub id it started from.
        data: the generated data folder it read.
        data_stats: examples per task, held-out counts, skips, oversampling.
        examples: training examples after repeats (the rows of its dataset).
        hyperparameters: every :class:`itemlib.train_config.TrainConfig` field, plus ``lora_rank``.
        global_step: optimizer steps taken.
        epoch: passes over the data the trainer reports.
        train_loss: the trainer's mean training loss.
        commit: the itemlib commit that trained it (None outside a git checkout).
        fingerprint: hash of settings and examples; only the same run resumes or is skipped.
    """

    base_model: str
    data: str
    data_stats: dict[str, Any]
    examples: int
    hyperparameters: dict[str, Any]
    global_step: int
    epoch: float
    train_loss: float
    commit: str | None
    fingerprint: str

    @property
    def examples_seen(self) -> int:
        return examples_seen(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "card") -> TrainingCard:
        """A card from its JSON; a missing field is a ``ValueError`` naming ``source``."""
        names = [spec.name for spec in dataclasses.fields(cls)]
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError(f"{source}: training card lacks {', '.join(missing)} (written by another version?)")
        return cls(**{name: values[name] for name in names})

    @classmethod
    def read(cls, model_dir: str | Path) -> TrainingCard:
        """The card of ``model_dir``; a folder without one, or with a corrupt one, is a ``ValueError``
        naming the file."""
        path = Path(model_dir) / CARD_FILE
        if not path.is_file():
            raise ValueError(f"{model_dir}: no {CARD_FILE} (not a model fine-tuned by itemlib, or unfinished)")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{path}: not a valid training card ({error})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: not a valid training card (a JSON object is expected)")
        return cls.from_dict(values, source=str(path))

    def write(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / CARD_FILE
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path
