"""How a recipe change is decided: a candidate against a profile's recipe on a validation split,
never the test set (``itemlib compare-recipe``).

Both recipes train on the profile's generated data of one catalog (the profile's recipe into
``work/recipes/<profile>/<catalog>/published``, the candidate into ``.../<name>``; a finished run
is not trained again, an interrupted one resumes). The validation split holds training examples
neither run drew (:mod:`itemlib.validation`; a candidate that trains an epoch or more needs
``validation_share``). Untuned, published and candidate are scored on it and each task's paired
95% interval of candidate − published is judged. The criterion, fixed before any score is seen
and stated on the method page: the candidate replaces the recipe when it is not worse beyond noise
on at least :data:`NOT_WORSE_NEEDED` of the 10 tasks of each catalog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from itemlib.comparison import paired_comparison
from itemlib.evaluation import evaluate
from itemlib.retrieval import make_retriever
from itemlib.study.profiles import Profile, study_catalog
from itemlib.train_config import TrainConfig
from itemlib.training import train
from itemlib.validation import ValidationConfig, write_validation_split

#: Tasks (of the 10) on which a candidate must not be worse beyond noise, on each catalog.
NOT_WORSE_NEEDED = 9


@dataclass
class RecipeComparison:
    """Per task of the validation split: queries, untuned, published and candidate means, and the
    paired comparison candidate − published; ``seconds`` of each training run."""

    name: str
    table: pd.DataFrame
    seconds: dict[str, float]
    #: per model (untuned, published, the candidate): task, query, headline value on the validation split
    per_query: dict[str, pd.DataFrame] = field(default_factory=dict)

    def pooled(self, tasks: list[str]) -> dict[str, Any]:
        """The paired comparison candidate − published over the validation queries of ``tasks`` pooled."""
        published, candidate = (self.per_query[label] for label in ("published", self.name))
        return paired_comparison(
            candidate[candidate.task.isin(tasks)].value.to_numpy(),
            published[published.task.isin(tasks)].value.to_numpy(),
        )

    @property
    def not_worse(self) -> int:
        return int((self.table.verdict != "worse").sum())

    @property
    def meets_criterion(self) -> bool:
        return self.not_worse >= min(NOT_WORSE_NEEDED, len(self.table))

    def sentence(self) -> str:
        verdict = "meets" if self.meets_criterion else "does not meet"
        return (f"{self.name} is not worse than the published recipe on {self.not_worse} of {len(self.table)} "
                f"tasks: it {verdict} the criterion ({NOT_WORSE_NEEDED} of 10 on each catalog)")  # fmt: skip


def compare_recipes(
    profile: Profile,
    catalog_name: str,
    name: str,
    changes: dict[str, Any],
    validation: ValidationConfig | None = None,
    root: str | Path = "work",
    log=print,
) -> RecipeComparison:
    """Train the profile's recipe and the candidate (the recipe with ``changes``) on the profile's
    generated data of ``catalog_name``, and judge the candidate on a validation split neither drew."""
    data = Path(root) / profile.name / "data" / catalog_name
    if not (data / "stats.json").exists():
        raise ValueError(
            f"{data}: no generated data; run `itemlib study --profile {profile.name} --only generate-{catalog_name}`"
        )
    published: TrainConfig = profile.training
    candidate = replace(published, **changes)
    catalog = study_catalog(catalog_name, profile.max_items, profile.seed)
    folder = Path(root) / "recipes" / profile.name / catalog_name
    models = {"published": folder / "published", name: folder / name}
    seconds = {}
    for label, config in (("published", published), (name, candidate)):
        started = time.perf_counter()
        train(data, models[label], config, catalog=catalog)
        seconds[label] = round(time.perf_counter() - started, 1)
        log(f"trained {label} into {models[label]} ({seconds[label]} s)")
    split = folder / f"validation-{name}"
    write_validation_split(data, catalog, list(models.values()), split, validation)
    scored = {
        label: evaluate(make_retriever(str(model)), catalog, split, progress=False).per_query
        for label, model in {"untuned": published.model, **models}.items()
    }
    rows = []
    for task, group in scored["published"].groupby("task", sort=False):
        values = {label: table[table.task == task].value.to_numpy() for label, table in scored.items()}
        rows.append({"task": task, "queries": len(group), **{label: v.mean() for label, v in values.items()},
                     **paired_comparison(values[name], values["published"])})  # fmt: skip
    return RecipeComparison(name, pd.DataFrame(rows), seconds, scored)
