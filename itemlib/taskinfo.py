"""What every part of itemlib needs to know about the ten tasks, apart from how they are generated.

Training, evaluation, diagnostics and the study read a task's name, headline metric and group from
here; only :mod:`itemlib.tasks` (the generators) pulls in sampling, templates and writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from itemlib.config import option

Headline = Literal["hit", "coverage"]
Group = Literal["behaviour", "attribute"]


@dataclass(frozen=True)
class TaskInfo:
    """One task's metadata.

    Attributes:
        name: the paper's code (``"UH2I"``).
        title: what the code stands for, for readers.
        headline: ``"hit"`` (Hit@K against the stored positives) or ``"coverage"`` (share of the
            top K satisfying the query's constraints, the paper's Coverage@K).
        group: ``"behaviour"`` (the target comes from users' histories) or ``"attribute"`` (the
            target is described by its fields or name).
        positives_from_spec: every item satisfying the constraints is a positive (VC2I, NA2I);
            otherwise the positives are the stored ``pos_ids`` (FA2I/SA2I: the described item).
    """

    name: str
    title: str
    headline: Headline
    group: Group
    positives_from_spec: bool = False


TASK_INFO: dict[str, TaskInfo] = {
    info.name: info
    for info in (
        TaskInfo("UH2I", "user history to item", "hit", "behaviour"),
        TaskInfo("I2I", "item to similar item", "hit", "behaviour"),
        TaskInfo("US2I", "user summary to item", "hit", "behaviour"),
        TaskInfo("FA2I", "full attribute to item", "coverage", "attribute"),
        TaskInfo("SA2I", "sparse attribute to item", "coverage", "attribute"),
        TaskInfo("AS2I", "attribute summary to item", "coverage", "attribute", positives_from_spec=True),
        TaskInfo("NM2I", "name misspelling to item", "hit", "attribute"),
        TaskInfo("VC2I", "vague condition to item", "coverage", "attribute", positives_from_spec=True),
        TaskInfo("NA2I", "negative attribute to item", "coverage", "attribute", positives_from_spec=True),
        TaskInfo("UQ2I", "user history and query to item", "hit", "behaviour"),
    )
}


class _TaskNames(Sequence[str]):
    """The codes of :data:`TASK_INFO` in order, read live: a task registered later
    (:func:`itemlib.tasks.register_task`) is a valid choice of every config and command at once."""

    def __getitem__(self, index):
        return tuple(TASK_INFO)[index]

    def __len__(self) -> int:
        return len(TASK_INFO)

    def __contains__(self, name: object) -> bool:
        return name in TASK_INFO

    def __repr__(self) -> str:
        return repr(tuple(TASK_INFO))


#: The task codes in the paper's order (the ten tasks, then any registered since).
TASK_NAMES: Sequence[str] = _TaskNames()


def task_info(name: str) -> TaskInfo:
    """The task called ``name`` (any case); an unknown name is a ``ValueError`` listing the tasks."""
    try:
        return TASK_INFO[name.upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown task {name!r}; tasks are {', '.join(TASK_NAMES)}") from None


def canonical_task(name: str) -> str:
    """The code of the task called ``name`` in any case ("nm2i" -> "NM2I"); unknown names are a ``ValueError``."""
    return task_info(name).name


def task_option(help: str, metavar: str = "TASK"):  # noqa: A002 (option's own name for it)
    """A config option naming tasks (any case, checked against the ten), unset by default."""
    return option(None, choices=TASK_NAMES, canonical=canonical_task, metavar=metavar, help=help)


def tasks_in(group: Group) -> list[str]:
    """The codes of one group's tasks, in the paper's order."""
    return [info.name for info in TASK_INFO.values() if info.group == group]
