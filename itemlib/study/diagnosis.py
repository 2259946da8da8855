"""The diagnosis page's measurements and sentences, computed in the package.

How each arm's top five meets VC2I's comparison conditions (the share satisfying it, sitting on the
value the query names, lacking the field, beside the catalog rate), per field and operator; the
share of popular items each arm returns on UH2I and NM2I; and on I2I, how much of each arm's top
five shares a genre or tag with the source item, beside the share of the test answers that do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog
from itemlib.diagnostics import COMPARISON_NAMES, condition_breakdown, popular_share, shared_content
from itemlib.evaluation import load_tests
from itemlib.retrieval import Retriever, make_retriever
from itemlib.study.arms import Arm, arms_of
from itemlib.study.profiles import study_catalog

#: The shares measured per condition, in the order tables show them.
SHARES = ["satisfied", "on the boundary", "missing field", "catalog rate"]
#: The tasks whose popular-item share is measured.
POPULAR_TASKS = ("UH2I", "NM2I")
POPULAR = "top 5 from the 1% most popular"
SHARED = "sharing a genre or tag with the source"
#: The row of the I2I table that measures the test answers themselves, not a model's top five.
ANSWERS = "the test answers"


@dataclass
class Diagnosis:
    """The measurements of the diagnosis page, with the catalogs, arms and retrievers that made them."""

    catalogs: dict[str, Catalog]
    arms: dict[str, list[Arm]]
    retrievers: dict[tuple[str, str], Retriever]
    conditions: pd.DataFrame  # one row per (catalog, model, query, condition), with the arm's role
    popular: pd.DataFrame  # catalog, model, task, share of the top 5 among the 1% most popular
    i2i: pd.DataFrame  # catalog, model, share of the top 5 (or of the answers) sharing content with the source

    @property
    def by_field(self) -> pd.DataFrame:
        keys = ["catalog", "field", "op", "model", "role"]
        table = self.conditions.groupby(keys)[SHARES].mean()
        table["conditions"] = self.conditions.groupby(keys).size()
        return table

    @property
    def overall(self) -> pd.DataFrame:
        return self.conditions.groupby(["catalog", "model"], sort=False)[SHARES].mean()

    def share_table(self, name: str, share: str) -> pd.DataFrame:
        """Conditions (field, operator) of one catalog by arm: the share of the top five ``share``
        (with the catalog rate beside the share satisfied)."""
        part = self.conditions[self.conditions.catalog == name]
        table = part.pivot_table(index=["field", "op"], columns="model", values=share, sort=False)
        if share == "satisfied":
            table["catalog rate"] = part.groupby(["field", "op"], sort=False)["catalog rate"].mean()
        return table

    def lines(self) -> list[str]:
        """One sentence per (catalog, arm) on the conditions, and per catalog where the in-domain model errs most."""
        lines = [f"- **{name}, {label}**: {row['satisfied']:.3f} of the retrieved items satisfy a comparison "
                 f"condition (catalog rate {row['catalog rate']:.3f}); {row['on the boundary']:.3f} sit on the value "
                 f"the query names and {row['missing field']:.3f} lack the field."
                 for (name, label), row in self.overall.iterrows()]  # fmt: skip
        tuned = self.conditions[self.conditions.role == "in-domain"]
        fields = tuned.groupby(["catalog", "field"]).agg(
            boundary=("on the boundary", "mean"), satisfied=("satisfied", "mean"), count=("field", "size")
        )
        for name in self.catalogs:
            if name in fields.index.get_level_values("catalog"):
                row = fields.loc[name].sort_values("boundary").iloc[-1]
                lines.append(f"- **{name}, where the tuned model errs most**: on its {int(row['count'])} "
                             f"**{row.name}** conditions, {row.boundary:.3f} of its top five sit on the {row.name} "
                             f"the query names and {row.satisfied:.3f} satisfy the condition.")  # fmt: skip
        return lines

    def popular_table(self) -> pd.DataFrame:
        return self.popular.pivot_table(index=["catalog", "task"], columns="model", values=POPULAR, sort=False)

    def i2i_table(self) -> pd.DataFrame:
        """Per catalog (rows) and model (columns, the test answers last): the I2I content share."""
        table = self.i2i.pivot_table(index="catalog", columns="model", values=SHARED, sort=False)
        return table[[c for c in table.columns if c != ANSWERS] + [ANSWERS]]  # the answers last, beside the models

    def i2i_lines(self) -> list[str]:
        """Per catalog: how the in-domain model's content share compares with the answers'."""
        lines = []
        for name, group in self.i2i.groupby("catalog", sort=False):
            shares = group.set_index("model")[SHARED]
            tuned = next((arm.label for arm in self.arms[name] if arm.role(name) == "in-domain"), None)
            untuned = next((arm.label for arm in self.arms[name] if arm.role(name) == "untuned"), None)
            if tuned and untuned and ANSWERS in shares:
                lines.append(f"- **{name}**: {shares[tuned]:.0%} of the tuned model's I2I top five share a genre or "
                             f"tag with the source item ({shares[untuned]:.0%} for the untuned one), against "
                             f"{shares[ANSWERS]:.0%} of the test answers.")  # fmt: skip
        return lines

    def mapped_arms(self, name: str) -> list[Arm]:
        """The arms whose item embeddings the page maps: the untuned encoder and the in-domain model."""
        return [arm for arm in self.arms[name] if arm.role(name) in ("untuned", "in-domain")]

    def metrics(self) -> dict[str, Any]:
        """What the diagnosis run records in its metrics.json."""
        return {
            "conditions": self.overall.reset_index().to_dict(orient="records"),
            "conditions_by_field": self.by_field.reset_index().to_dict(orient="records"),
            "popular_share": self.popular.to_dict(orient="records"),
            "i2i_shared_content": self.i2i.to_dict(orient="records"),
        }


def run_diagnosis(catalogs: Sequence[str], tests_dirs: Mapping[str, str], arms: Mapping[str, Sequence[Mapping]],
                  max_items: int | None = None, seed: int = 0) -> Diagnosis:  # fmt: skip
    """Measure every arm of each catalog on its VC2I conditions and its popular-item shares."""
    items = {name: study_catalog(name, max_items, seed) for name in catalogs}
    tests = {name: load_tests(tests_dirs[name], items[name], ["VC2I", "I2I", *POPULAR_TASKS]) for name in catalogs}
    compared = {name: arms_of(arms[name]) for name in catalogs}
    retrievers = {(name, arm.label): make_retriever(arm.model) for name in catalogs for arm in compared[name]}
    conditions = pd.concat(
        [condition_breakdown(retrievers[(name, arm.label)], items[name], tests[name]["VC2I"]).assign(
            catalog=name, model=arm.label, role=arm.role(name)) for name in catalogs for arm in compared[name]],
        ignore_index=True,
    )  # fmt: skip
    conditions["op"] = conditions.op.map(COMPARISON_NAMES).fillna(conditions.op)
    popular = pd.DataFrame(
        [{"catalog": name, "model": arm.label, "task": task,
          POPULAR: popular_share(retrievers[(name, arm.label)], items[name], tests[name][task]).mean()}
         for name in catalogs for arm in compared[name] for task in POPULAR_TASKS]
    )  # fmt: skip
    i2i = pd.DataFrame(
        [{"catalog": name, "model": label, SHARED: np.nanmean(shared_content(ranker, items[name], tests[name]["I2I"]))}
         for name in catalogs
         for label, ranker in [*((a.label, retrievers[(name, a.label)]) for a in compared[name]), (ANSWERS, None)]]
    )  # fmt: skip
    return Diagnosis(items, compared, retrievers, conditions, popular, i2i)
