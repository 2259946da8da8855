"""Phrasing banks, kept as data: per task a ``train`` and a held-out ``test`` list of templates.

Placeholders: ``{noun}``, ``{nouns}``, ``{verb}``, ``{verbed}`` (the catalog's own words) and one
or two task slots (``{history}``, ``{title}``, ``{summary}``, ``{attributes}``, ``{request}``,
``{condition}``, ``{exclusion}``). ``phrases.json`` holds the sentence banks of the offline
summary writer, ``dialogue.json`` those of the held-out conversational test set.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

SPLITS = ("train", "test")


@cache
def template_bank(task: str) -> dict[str, tuple[str, ...]]:
    """``{"train": (...), "test": (...)}`` for one task; the two banks never share a phrasing."""
    raw = json.loads(resources.files(__name__).joinpath(f"{task}.json").read_text(encoding="utf-8"))
    bank = {split: tuple(raw[split]) for split in SPLITS}
    shared = set(bank["train"]) & set(bank["test"])
    if shared:
        raise ValueError(f"template bank {task}: train and test share {sorted(shared)}")
    return bank


@cache
def phrase_bank_file(name: str) -> dict[str, tuple[str, ...]]:
    """A sentence bank by file name (``phrases.json``: summaries; ``dialogue.json``: dialogues)."""
    raw = json.loads(resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))
    return {key: tuple(values) for key, values in raw.items()}


def phrase_bank() -> dict[str, tuple[str, ...]]:
    return phrase_bank_file("phrases.json")
