"""Which run a model folder belongs to: the fingerprint of settings and examples, the checkpoints a
run may resume, and the finished model a re-run leaves alone."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from itemlib.cards import CARD_FILE, TrainingCard
from itemlib.publish import write_text_whole
from itemlib.train_config import LATER_SETTINGS, NON_RESULT_SETTINGS, TrainConfig

logger = logging.getLogger(__name__)
#: transformers' ``TRAINER_STATE_NAME``: the file a trainer writes last into a checkpoint.
TRAINER_STATE = "trainer_state.json"


def run_fingerprint(config: TrainConfig, records: Sequence[dict]) -> str:
    """Hash of the settings and the training examples: a checkpoint is resumed only by the run it
    belongs to, never by one with other data or settings (which would silently return the old model)."""
    defaults = dataclasses.asdict(TrainConfig())
    settings = {k: v for k, v in dataclasses.asdict(config).items()
                if k not in NON_RESULT_SETTINGS and not (k in LATER_SETTINGS and v == defaults[k])}  # fmt: skip
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for record in records:
        digest.update(json.dumps([record["query"], record["pos"], record["neg"]]).encode())
    return digest.hexdigest()[:16]


def claim_checkpoints(checkpoints: Path, fingerprint: str) -> str | None:
    """The newest complete checkpoint to resume from (None: start afresh); marks the folder as this run's.

    A checkpoint interrupted while it was written (no ``trainer_state.json``, which the trainer
    writes last) is removed, so the run resumes from the one before it instead of failing on it.
    Raises ``ValueError`` naming the folder when it holds checkpoints of a different run.
    """
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

    stamp = checkpoints / "itemlib_run.json"
    saved = sorted(checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*")) if checkpoints.is_dir() else []
    if saved:
        owner = json.loads(stamp.read_text()).get("fingerprint") if stamp.exists() else None
        if owner != fingerprint:
            raise ValueError(
                f"{checkpoints} holds checkpoints of another training run (other data or settings); "
                "remove that folder to start afresh, or choose another output directory"
            )
    for folder in saved:
        if not (folder / TRAINER_STATE).exists():
            logger.warning("%s was interrupted while it was saved: removed, resuming from the one before", folder)
            shutil.rmtree(folder)
    checkpoints.mkdir(parents=True, exist_ok=True)
    write_text_whole(stamp, json.dumps({"fingerprint": fingerprint}) + "\n")  # half a stamp would refuse a resume
    return get_last_checkpoint(str(checkpoints))


def already_trained(out: Path, fingerprint: str) -> bool:
    """True when ``out`` holds the finished model of this very run (said on stderr); an error when it
    holds a finished model of another run."""
    if not (out / CARD_FILE).exists():
        return False
    card = TrainingCard.read(out)
    if card.fingerprint != fingerprint:
        raise ValueError(
            f"{out} holds a model trained on other data or settings; choose another output folder or remove it"
        )
    logger.warning("%s is already trained (%s steps, same data and settings): nothing to do", out, card.global_step)
    return True
