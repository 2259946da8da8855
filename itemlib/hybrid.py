"""A text retriever plus a popularity prior, the way practitioners rank (beyond the paper).

Score = cosine similarity + weight · log(1 + interactions). The weight is chosen per catalog on a
validation split (training examples no run drew: :mod:`itemlib.validation`), never on the test
set, by one criterion fixed in advance: the mean headline metric over the tasks of the split.
It is stored beside the model (``popularity_weight.json``), so ``make_retriever("MODEL+popularity")``
ranks with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from itemlib.catalog import Catalog
from itemlib.models import ModelError

SUFFIX = "+popularity"
WEIGHT_FILE = "popularity_weight.json"
#: Weights tried on the validation split; 0 (the text model alone) is always among them.
WEIGHTS = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08)


class PopularityPrior:
    """``base``'s scores plus ``weight`` · log(1 + interactions of the item)."""

    def __init__(self, base, weight: float, name: str | None = None) -> None:
        if not weight >= 0:
            raise ValueError(f"the popularity weight must be >= 0, got {weight}")
        self.base, self.weight = base, float(weight)
        self.name = name or f"{getattr(base, 'name', 'model')}{SUFFIX}"

    def index(self, catalog: Catalog) -> None:
        self.base.index(catalog)
        self.prior = np.log1p(catalog.popularity).astype(np.float32)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        return self.base.score(queries) + self.weight * self.prior


class _MemoScores:
    """Scores of a retriever remembered per query batch: the weight grid re-scores the same queries.
    The memory belongs to one catalog; indexing another starts it afresh."""

    def __init__(self, base) -> None:
        self.base, self.name, self.memo = base, getattr(base, "name", "model"), {}
        self.catalog: Catalog | None = None

    def index(self, catalog: Catalog) -> None:
        if catalog is not self.catalog:
            self.base.index(catalog)
            self.catalog, self.memo = catalog, {}

    def score(self, queries: Sequence[str]) -> np.ndarray:
        key = tuple(queries)
        if key not in self.memo:
            self.memo[key] = self.base.score(queries)
        return self.memo[key]


def with_popularity(spec: str):
    """The retriever of ``"MODEL+popularity"`` (the weight chosen for MODEL) or ``"MODEL+popularity=W"``."""
    from itemlib.retrieval import make_retriever

    model, _, weight = spec.partition(SUFFIX)
    if weight.startswith("="):
        return PopularityPrior(make_retriever(model), float(weight[1:]), name=spec)
    path = Path(model) / WEIGHT_FILE
    if not path.exists():
        raise ModelError(f"{model}: no {WEIGHT_FILE}; choose a weight with itemlib.hybrid.choose_popularity_weight "
                         f"or give one: {model}{SUFFIX}=0.02")  # fmt: skip
    return PopularityPrior(make_retriever(model), json.loads(path.read_text())["weight"], name=spec)


def choose_popularity_weight(model: str, catalog: Catalog, validation_dir: str | Path,
                             weights: Sequence[float] = WEIGHTS) -> dict:  # fmt: skip
    """The weight with the best mean headline over the validation split's tasks (ties: the smaller
    weight), written to ``model/popularity_weight.json`` with every weight's score."""
    from itemlib.evaluation import evaluate
    from itemlib.retrieval import make_retriever

    if not Path(model).is_dir():
        raise ModelError(f"{model}: the popularity weight is chosen for a model folder (a fine-tuned model)")
    base = _MemoScores(make_retriever(model))
    scores = {}
    for weight in weights:
        result = evaluate(PopularityPrior(base, weight), catalog, validation_dir, progress=False)
        scores[weight] = float(result.headline.value.mean())
    best = max(weights, key=lambda w: (round(scores[w], 6), -w))
    choice = {
        "weight": best,
        "criterion": "mean headline @5 over the validation split's tasks",
        "validation": str(validation_dir),
        "scores": {str(w): round(s, 4) for w, s in scores.items()},
    }
    (Path(model) / WEIGHT_FILE).write_text(json.dumps(choice, indent=1) + "\n")
    return choice


def tune_popularity_weight(model_dir: str | Path, catalog: Catalog, data_dir: str | Path, per_task: int,
                           seed: int = 0) -> dict:  # fmt: skip
    """Write a validation split of ``data_dir`` for the model trained on it (``MODEL-validation``,
    ``per_task`` examples per task that the run never drew) and choose the weight on it."""
    from itemlib.validation import write_validation_split

    split = f"{Path(model_dir)}-validation"
    write_validation_split(data_dir, catalog, [model_dir], split, per_task, seed)
    return choose_popularity_weight(str(model_dir), catalog, split)
