"""A leak in the blend's choice, measured, and the blend chosen without it (#29).

The train runs choose the collaborative-filtering blend (:class:`itemlib.retrieval.CollaborativeBlend`)
on a validation split of examples the run never drew. Up to commit ``f2b2684`` the references were
fitted for that choice on every training row, so they had seen what the split asks: a UH2I/US2I/UQ2I
example's target is a later item of a history the references were fitted on, and an I2I example's
answers are co-occurrences among the very users they were fitted on. No test target was ever fitted,
so the published test figures stand; but the choice was made on a split that flattered the
references. From ``87ad5ac`` they are fitted as for a test query (:func:`itemlib.validation.reference_rows`)
and I2I's validation answers come from the validation judges (:func:`itemlib.validation.validation_i2i`).

For each catalog, on a cpu pass's tuned model (a copy: this writes its prior and blend files):

1. the fixed choice: a new validation split (same seed and size as the cpu profile's), the prior's
   weights and the blend chosen on it, and the blend judged against tuned+popularity by the criterion
   fixed before any score (:data:`itemlib.validation.BLEND_CRITERION`);
2. the leak: item-kNN and ALS scored on the pass's own validation split (``MODEL-validation``, written
   by the old code) fitted on every training row, as the old choice was made, and on the new split
   fitted without what it asks (:func:`~itemlib.validation.reference_rows`), as the new one is.

Validation data only: no test query is read.

Run: ``python experiments/blend_leak.py MODELS DATA [CATALOG ...]`` where ``MODELS`` holds copies of a
cpu pass's ``work/cpu/models`` folders (``CATALOG`` and ``CATALOG-validation``) and ``DATA`` its
``work/cpu/data``; about 5 minutes per catalog on 2 cores. Writes ``experiments/blend_leak.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from itemlib.cards import TrainingCard
from itemlib.collaborative import COLLABORATIVE
from itemlib.cooccurrence import rows_matrix
from itemlib.evaluation import evaluate
from itemlib.provenance import git_commit
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.taskinfo import tasks_in
from itemlib.validation import ValidationConfig, reference_rows, tune_blend, tune_popularity_weight


class _Fitted:
    """A reference already fitted: evaluation's ``index`` must not refit it on every training row."""

    reads_items = True

    def __init__(self, reference) -> None:
        self.reference, self.name = reference, reference.name

    def index(self, catalog) -> None:
        pass

    def score_items(self, item_lists):
        return self.reference.score_items(item_lists)


def leak(catalog, old_split: Path, new_split: Path) -> dict:
    """Each reference's mean headline per behaviour task: on ``old_split`` fitted on every training
    row, as the old choice was made, and on ``new_split`` fitted on its :func:`reference_rows`. The
    two splits hold the same UH2I/US2I/UQ2I queries (same seed, same undrawn examples); their I2I
    differs in its answers (the old split's are co-occurrences among the very rows fitted)."""
    tasks = tasks_in("behaviour")
    rows = rows_matrix(catalog, reference_rows(catalog, new_split))
    scores = {}
    for name, make in COLLABORATIVE.items():
        reference = make()
        every = evaluate(reference, catalog, old_split, progress=False).per_query
        reference.fit(rows, **reference.chosen)
        without = evaluate(_Fitted(reference), catalog, new_split, progress=False).per_query
        scores[name] = {
            task: {"old split, every row": round(float(every[every.task == task].value.mean()), 4),
                   "new split, without what it asks": round(float(without[without.task == task].value.mean()), 4)}
            for task in tasks
            if (every.task == task).any()
        }  # fmt: skip
    return scores


def main(models: str, data: str, catalogs: list[str]) -> dict:
    commit = git_commit()
    profile = PROFILES["cpu"]
    result = {"commit": commit, "catalogs": {}}
    for name in catalogs or ["movielens", "steam"]:
        catalog = study_catalog(name, profile.max_items, profile.seed)
        model, old_split = Path(models) / name, Path(models) / f"{name}-validation"
        started = time.perf_counter()
        scratch = Path(models) / f"{name}-blend-leak"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(model, scratch, ignore=shutil.ignore_patterns("checkpoints"))
        config = ValidationConfig(per_task=profile.popularity_validation, seed=profile.seed)
        prior = tune_popularity_weight(scratch, catalog, Path(data) / name, config)
        blend = tune_blend(scratch, catalog, seed=profile.seed)
        new_split = Path(f"{scratch}-validation")
        leaked = leak(catalog, old_split, new_split)
        stats = json.loads((new_split / "stats.json").read_text())
        result["catalogs"][name] = {
            "model trained by": TrainingCard.read(model).commit,
            "seconds": round(time.perf_counter() - started, 1),
            "references, old split and new": leaked,
            "new split": {"tasks": stats["tasks"], "left out": stats["left out"]},
            "prior weights": prior["weights"],
            "blend": {key: blend[key] for key in ("reference", "weights", "criterion")},
            "blend scores": blend["references"],
            "judgement": blend["judgement"],
        }
        print(json.dumps(result["catalogs"][name], indent=1)[:4000])
    out = Path(__file__).with_name("blend_leak.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
