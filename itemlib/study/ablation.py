"""The ablation run: one base recipe trained and evaluated once per variant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from itemlib.catalog import Catalog
from itemlib.evaluation import evaluate
from itemlib.retrieval import make_retriever
from itemlib.study.records import AblationRecord
from itemlib.train_config import TrainConfig
from itemlib.training import train


def variant_label(config: TrainConfig) -> str:
    if config.item_tower == "frozen":
        return "frozen item side, every catalog negative"
    return f"{config.negatives} neg, in-batch {config.in_batch}"


def run_ablation(catalog: Catalog, data_dir: str | Path, work_dir: str | Path, base: TrainConfig,
                 variants: Sequence[dict], recipe_model: str | None = None,
                 recipe: TrainConfig | None = None) -> AblationRecord:  # fmt: skip
    """Train ``base`` with each variant's fields into ``work_dir/<negatives>-<in_batch>`` (an interrupted
    variant resumes from its checkpoints) and score it, the untuned base model and ``recipe_model``
    (the in-domain model, trained elsewhere with ``recipe``, default ``base``) on ``data_dir``'s test set.
    The arm whose settings are ``base``'s own (an empty variant, or the reused in-domain model) is the
    record's baseline."""
    models = {"untuned": base.model}
    extra: dict[str, dict] = {"untuned": {}}
    arms = [replace(base, **variant) for variant in variants]
    for config in arms:
        out = f"{work_dir}/{config.negatives}-{config.in_batch}"
        train(data_dir, out, config, catalog=catalog)
        models[variant_label(config)] = out
    if recipe_model:
        arms.append(recipe or base)
        models[variant_label(recipe or base)] = recipe_model
    baseline = next((variant_label(config) for config in arms if config == base), "")
    for config in arms:  # each arm's rows carry its settings, which the claims read (never its label)
        extra[variant_label(config)] = {"negatives": config.negatives, "in_batch": config.in_batch,
                                        "item_tower": config.item_tower}  # fmt: skip
    rows, per_query = [], {}
    for label, model in models.items():
        result = evaluate(make_retriever(model), catalog, data_dir, progress=False)
        rows += [{"variant": label, **extra[label], **row} for row in result.headline.to_dict(orient="records")]
        per_query[label] = {
            task: group.value.round(4).tolist() for task, group in result.per_query.groupby("task", sort=False)
        }
    return AblationRecord(catalog=catalog.name, steps=base.max_steps, rows=rows, per_query=per_query, baseline=baseline)
