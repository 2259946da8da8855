"""The retrievers of the study's comparisons as data: :class:`Arm`.

The plan (:mod:`itemlib.study.plan`) emits each run's arms; notebooks build retrievers from them
(``make_retriever(arm.model)``) and records store them beside the scores, so the results page reads
which arm is the untuned reference, which model was tuned on which catalog and which ranks with the
popularity prior from fields, never from a label's spelling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from itemlib.collaborative import COLLABORATIVE
from itemlib.retrieval import BASELINES, BLEND_SUFFIX, POPULARITY_SUFFIX

Kind = Literal["reference", "tuned"]
#: The roles a tuned arm plays on a test set (a reference plays itself: its label).
TUNED_ROLES = ("in-domain", "out-of-domain", "tuned+popularity", "tuned+popularity+cf")


@dataclass(frozen=True)
class Arm:
    """One retriever of a comparison.

    Attributes:
        label: how tables and plots name it (``"tuned-movielens"``, ``"bm25"``).
        model: what :func:`itemlib.retrieval.make_retriever` builds (a preset, a model folder,
            a baseline, ``FOLDER+popularity``).
        kind: ``"reference"`` (the untuned encoder or a baseline) or ``"tuned"``.
        trained_on: the catalog a tuned arm was fine-tuned on.
        prior: a tuned arm ranked with the popularity prior chosen for it.
        collaborative: a tuned arm with its prior, blended with the collaborative filtering chosen for
            it over the items a request names (:class:`itemlib.retrieval.CollaborativeBlend`).
        general: a reference that is a larger general-purpose encoder, untuned (:func:`general_arm`).
    """

    label: str
    model: str
    kind: Kind
    trained_on: str | None = None
    prior: bool = False
    general: bool = False
    collaborative: bool = False

    def role(self, test_set: str) -> str:
        """What this arm is on ``test_set``: a reference's own label, or in-domain / out-of-domain /
        tuned+popularity / tuned+popularity+cf for a tuned model."""
        if self.kind == "reference":
            return self.label
        if self.collaborative:
            return "tuned+popularity+cf"
        if self.prior:
            return "tuned+popularity"
        return "in-domain" if self.trained_on == test_set else "out-of-domain"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Arm:
        return cls(**values)


def reference_names() -> tuple[str, ...]:
    """The references every tuned model is judged against, in the order pages show them: the untuned
    encoder, every baseline of :data:`itemlib.retrieval.BASELINES` and every collaborative-filtering
    reference of :data:`itemlib.collaborative.COLLABORATIVE` (a new one is one entry there)."""
    return ("untuned", *BASELINES, *COLLABORATIVE)


def reference_arms(untuned_model: str, *, collaborative: bool = False) -> list[Arm]:
    """The untuned encoder and every baseline; with ``collaborative``, also the collaborative-filtering
    references, which answer a test set's behaviour tasks only (a dialogue or free text has no item
    ids for them to read)."""
    names = [*BASELINES, *(COLLABORATIVE if collaborative else ())]
    return [Arm("untuned", untuned_model, "reference")] + [Arm(name, name, "reference") for name in names]


def general_arm(model: str) -> Arm:
    """A larger general-purpose encoder, untuned (a preset, path or Hub id): does alignment do more
    than a bigger model already does? Labelled ``untuned-<name>`` (a path by its last part)."""
    return Arm(f"untuned-{Path(model).name}", model, "reference", general=True)


def tuned_arm(catalog: str, model_dir: str, prior: bool = False, collaborative: bool = False) -> Arm:
    """The model fine-tuned on ``catalog`` (in ``model_dir``), alone, with its popularity prior, or
    with its prior and its collaborative-filtering blend (``collaborative`` implies ``prior``)."""
    suffix = (POPULARITY_SUFFIX if prior or collaborative else "") + (BLEND_SUFFIX if collaborative else "")
    return Arm(f"tuned-{catalog}{suffix}", model_dir + suffix, "tuned", catalog, prior or collaborative,
               collaborative=collaborative)  # fmt: skip


def arms_of(values: Iterable[Mapping[str, Any]]) -> list[Arm]:
    """Arms from their dicts (a notebook parameter, a record)."""
    return [Arm.from_dict(value) for value in values]


def in_domain(arms: Iterable[Arm], catalog: str, prior: bool = False, collaborative: bool = False) -> Arm | None:
    """The arm tuned on ``catalog`` (alone, with the prior, or with prior and blend), if there is one."""
    return next((a for a in arms if a.kind == "tuned" and a.trained_on == catalog and a.prior == prior
                 and a.collaborative == collaborative), None)  # fmt: skip
