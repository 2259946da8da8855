"""The ``metrics.json`` of the runs the results page reads: one dataclass per shape, written by its
notebook with ``to_dict()`` and read back with :func:`read_record`.

The runner adds a ``provenance`` entry to every file (commit, profile, seed, finish time, wall time,
hardware, parameters); the readers keep it apart from the results.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from itemlib.cards import LOG_FILE, TrainingCard
from itemlib.comparison import interval_text
from itemlib.evaluation import TITLE_PARTS, part_ceiling
from itemlib.retrieval import BLEND_FILE, reference_per_kind
from itemlib.study.arms import Arm, arms_of
from itemlib.study.tables import SETTING_ROWS, metric_columns, wrappable

R = TypeVar("R", bound="Record")

#: The metrics an evaluation computes at several cut-offs (its other rows are the base rate, the
#: ceiling and the title split, shown in tables of their own).
EVERY_METRIC = ("hit", "recall", "ndcg", "coverage", "mrr")


@dataclass
class Record:
    """Base of the run records: a dict round trip that keeps the runner's provenance aside."""

    provenance: dict[str, Any] = field(default_factory=dict, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """What the notebook writes (the runner adds the provenance)."""
        values = {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(self)}
        values.pop("provenance")
        return values

    @classmethod
    def from_dict(cls: type[R], values: Mapping[str, Any]) -> R:
        names = {spec.name for spec in dataclasses.fields(cls)}
        required = {spec.name for spec in dataclasses.fields(cls)
                    if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING}  # fmt: skip
        missing = sorted(required - set(values))
        if missing:
            raise ValueError(f"{cls.__name__}: metrics.json lacks {', '.join(missing)} (written by another version?)")
        return cls(**{name: values[name] for name in names if name in values})


@dataclass
class TrainingRecord(Record):
    """``train-<catalog>``: the model card itemlib wrote and the logged training loss."""

    model: str
    out_dir: str
    card: dict[str, Any]
    loss: list[dict[str, float]]
    popularity_weight: dict[str, Any] | None = None  # the tuned+popularity arm's weight and its validation scores
    blend: dict[str, Any] | None = None  # the tuned+popularity+cf arm's reference, weights and validation scores

    @classmethod
    def of(cls, out_dir: str | Path) -> TrainingRecord:
        """The record of the model trained into ``out_dir`` (its card and training log)."""
        card = TrainingCard.read(out_dir).to_dict()
        log = json.loads((Path(out_dir) / LOG_FILE).read_text())
        loss = [{"step": row["step"], "loss": row["loss"]} for row in log if "loss" in row]
        weight_path = Path(out_dir) / "popularity_weight.json"
        weight = json.loads(weight_path.read_text()) if weight_path.exists() else None
        blend_path = Path(out_dir) / BLEND_FILE
        blend = json.loads(blend_path.read_text()) if blend_path.exists() else None
        return cls(model=card["base_model"], out_dir=str(out_dir), card=card, loss=loss, popularity_weight=weight,
                   blend=blend)  # fmt: skip

    @property
    def training_card(self) -> TrainingCard:
        return TrainingCard.from_dict(self.card, source=f"the record of {self.out_dir}")

    @property
    def loss_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.loss, columns=["step", "loss"])

    def weight_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The popularity prior's choice: each weight's validation score per kind of query (the chosen
        weight last, as a row), and the share of each task's validation queries of each kind."""
        choice = self.popularity_weight or {}
        if "weights" not in choice:  # none chosen (or one weight for all queries, by an older version)
            return pd.DataFrame(), pd.DataFrame()
        scores = pd.DataFrame(choice["scores"]).rename_axis("weight")
        scores.loc["chosen"] = pd.Series(choice["weights"])
        scores.attrs[SETTING_ROWS] = ["chosen"]
        return scores, pd.DataFrame(choice["kinds"]).T.fillna(0.0).rename_axis("task")

    def blend_table(self) -> pd.DataFrame:
        """The collaborative-filtering blend's choice: each reference's validation score per kind of
        query and weight, then the weight chosen per kind in the column of the reference chosen for
        that kind (a dash in the other's); empty when none was chosen."""
        if not self.blend:
            return pd.DataFrame()
        chosen = reference_per_kind(self.blend["reference"])
        columns = {}
        for name, table in self.blend["references"].items():
            for kind, scores in table["scores"].items():
                weight = self.blend["weights"][kind] if chosen[kind] == name else None
                columns[(name, kind)] = {**scores, "chosen weight": weight}
        table = pd.DataFrame(columns).rename_axis("weight")
        table.attrs[SETTING_ROWS] = ["chosen weight"]
        return table

    def blend_judgement(self) -> tuple[pd.DataFrame, str]:
        """The blend against tuned+popularity on the validation split, task by task, and a sentence
        saying whether it met its criterion (the results page judges the behaviour claim on it only
        where it did); an empty table and sentence when none was judged."""
        judgement = (self.blend or {}).get("judgement")
        if not judgement:
            return pd.DataFrame(), ""
        table = pd.DataFrame(judgement["tasks"]).set_index("task")
        table["blend − text [95% CI]"] = [interval_text(r.difference, r.low, r.high) for r in table.itertuples()]
        shown = table[["queries", "text", "blend", "blend − text [95% CI]", "verdict"]]
        sentence = (f"Criterion, fixed before any score: {judgement['criterion']}. Better on "
                    f"{', '.join(judgement['better on behaviour tasks']) or 'no behaviour task'}, worse on "
                    f"{', '.join(judgement['worse on']) or 'none'}: the blend "
                    f"{'meets it' if judgement['joins'] else 'does not meet it'} on this catalog.")  # fmt: skip
        return shown.rename(columns={"text": "tuned+popularity", "blend": "tuned+popularity+cf"}), sentence


def per_query_frame(per_query: Mapping[str, Mapping[str, Sequence[float]]], name: str) -> pd.DataFrame:
    """``per_query`` (arm -> task -> values) as rows of arm (column ``name``), task and value."""
    return pd.DataFrame(
        [{name: label, "task": task, "value": value}
         for label, tasks in per_query.items() for task, values in tasks.items() for value in values]
    )  # fmt: skip


@dataclass
class EvaluationRecord(Record):
    """``evaluate-<catalog>``: every model's headline, all metrics, and per-query headline values
    (the same queries in the same order for every model, so they can be compared pairwise)."""

    catalog: str
    arms: list[dict[str, Any]]  # Arm.to_dict() of each model, in the order of the tables
    headline: dict[str, list[dict[str, Any]]]
    metrics: dict[str, list[dict[str, Any]]]
    per_query: dict[str, dict[str, list[float]]]
    #: per behaviour task, the share of its test answers among the 50 most popular items
    concentration: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        catalog: str,
        arms: Sequence[Arm],
        results: Mapping[str, Any],
        concentration: Mapping[str, float] | None = None,
    ) -> EvaluationRecord:
        """The record of ``results`` (arm label -> :class:`itemlib.evaluation.Evaluation`) and of the
        test answers' ``concentration`` on popular items (:func:`itemlib.diagnostics.target_concentration`)."""
        return cls(
            catalog=catalog,
            concentration=dict(concentration or {}),
            arms=[arm.to_dict() for arm in arms],
            headline={label: r.headline.to_dict(orient="records") for label, r in results.items()},
            metrics={label: r.metrics.to_dict(orient="records") for label, r in results.items()},
            per_query={
                label: {task: group.value.round(4).tolist() for task, group in r.per_query.groupby("task", sort=False)}
                for label, r in results.items()
            },
        )

    @property
    def arms_by_label(self) -> dict[str, Arm]:
        return {arm.label: arm for arm in arms_of(self.arms)}

    def headline_table(self) -> pd.DataFrame:
        """Tasks as rows: the headline metric's name, its base rate (what a random ranking scores),
        then one column per model."""
        frames = {label: pd.DataFrame(rows).set_index("task") for label, rows in self.headline.items()}
        order = list(dict.fromkeys(task for frame in frames.values() for task in frame.index))  # as generated
        table = pd.DataFrame({label: frame.value for label, frame in frames.items()}).reindex(order)
        first = next(frame for frame in frames.values() if len(frame) == len(order))  # an arm with every task
        table.insert(0, "metric", first.metric)
        table.insert(1, "base_rate", first.get("base_rate", pd.Series(float("nan"), index=first.index)))
        table.insert(2, "ceiling", first.get("ceiling", pd.Series(float("nan"), index=first.index)))
        return table

    def headline_view(self) -> pd.DataFrame:
        """The headline table as the page shows it: models as rows under the base rate and the ceiling,
        tasks as columns grouped under their metric, so that a dozen models still fit the page."""
        table = self.headline_table()
        columns = metric_columns(table.metric)
        view = table.drop(columns="metric").T.rename(index={"base_rate": "base rate"}).rename(index=wrappable)
        view = view[columns.get_level_values("task")]
        view.columns = columns
        view.index.name = "model"
        return view

    def per_query_table(self) -> pd.DataFrame:
        """One row per model, task and test query: the headline value, what error bars are drawn from."""
        return per_query_frame(self.per_query, "model")

    def metric_tables(self) -> dict[str, pd.DataFrame]:
        """Every metric the evaluation computed, one table each (rows: task and model; columns: the
        cut-off k), narrow enough for the page however many models there are."""
        rows = [row | {"model": label} for label, metrics in self.metrics.items() for row in metrics
                if row["metric"] in EVERY_METRIC]  # fmt: skip
        table = pd.DataFrame(rows)
        return {
            metric: group.pivot_table(index=["task", "model"], columns="k", values="value", sort=False)
            for metric, group in table.groupby("metric", sort=False)
        }

    def title_split(self) -> pd.DataFrame:
        """Per task whose queries sometimes name the item's title (FA2I, SA2I): each model's headline
        (a row) on the queries that name it and on those that do not, their counts in the headers,
        under a ``ceiling`` row (what a perfect ranking scores on each part) where the record has one."""
        rows = [{"task": row["task"], "model": label, "queries": row["metric"], "value": row["value"],
                 "count": row["queries"]}
                for label, metrics in self.metrics.items() for row in metrics
                if row["metric"] in TITLE_PARTS]  # fmt: skip
        if not rows:
            return pd.DataFrame()
        ceilings = {part_ceiling(part): part for part in TITLE_PARTS}
        rows += [{"task": row["task"], "model": "ceiling", "queries": ceilings[row["metric"]], "value": row["value"],
                  "count": row["queries"]}
                 for row in next(iter(self.metrics.values())) if row["metric"] in ceilings]  # fmt: skip
        table = pd.DataFrame(rows)
        table["queries"] = [f"{kind} ({count:,})" for kind, count in zip(table.queries, table["count"])]
        wide = table.pivot_table(index="model", columns=["task", "queries"], values="value", sort=False)
        wide = wide.reindex([label for label in ("ceiling", *self.metrics) if label in wide.index])
        return wide.rename(index=wrappable)


@dataclass
class AblationRecord(Record):
    """``ablation``: the headline of each variant of the ablation's base recipe (and of the untuned
    model, the reference row), with per-query headline values for paired intervals."""

    catalog: str
    steps: int
    rows: list[dict[str, Any]]
    per_query: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: the arm trained with the base recipe unchanged, which every other arm is judged against ("" if none)
    baseline: str = ""

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def per_query_table(self) -> pd.DataFrame:
        """One row per arm (``variant``), task and test query: what the page's error bars are drawn from."""
        return per_query_frame(self.per_query, "variant")

    def description(self) -> str:
        """What the arms are, for the pages that show them (read from the record, not the profile)."""
        others = [
            f"*{variant}*" for variant in dict.fromkeys(self.table.variant) if variant not in (self.baseline, "untuned")
        ]
        return (f"Each arm trains the recipe for {self.steps:,} steps on the {self.catalog} training data. The "
                f"baseline *{self.baseline}* keeps the recipe's settings; each other arm changes one of them: "
                f"{', '.join(others)}. The untuned model is the reference row.")  # fmt: skip

    def arm(self, in_batch: str, negatives: int | None = None) -> dict[str, Any] | None:
        """The settings and label (``variant``) of the arm trained with in-batch mode ``in_batch`` (and
        ``negatives`` verified negatives), from the fields each row stores; None when there is none."""
        return next(
            (row for row in self.rows
             if row.get("in_batch") == in_batch and row.get("item_tower", "trained") == "trained"
             and (negatives is None or row.get("negatives") == negatives)),
            None,
        )  # fmt: skip


@dataclass
class DiagnosisRecord(Record):
    """``diagnosis``: how each model's top five meets VC2I's conditions, overall and per field and
    operator (share satisfied, on the boundary, lacking the field, and the catalog rate: the share
    of all items that satisfy the condition), and the share of popular items per task."""

    conditions: list[dict[str, Any]]
    conditions_by_field: list[dict[str, Any]]
    popular_share: list[dict[str, Any]]


def read_record(runs_dir: str | Path, run: str, kind: type[R]) -> R | None:
    """The record of ``run`` under ``runs_dir`` (None when the run is not complete)."""
    path = Path(runs_dir) / run / "metrics.json"
    if not path.exists():
        return None
    return kind.from_dict(json.loads(path.read_text()))
