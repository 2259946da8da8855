"""What CONTRIBUTING.md promises: a task, a reference, a catalog loader and a metric are each one
registry entry (and the code they register), and every part of itemlib then knows them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from itemlib.catalog import Catalog, Field, FieldKind, Item
from itemlib.cli import main
from itemlib.datasets import CATALOG_LOADERS, load_catalog
from itemlib.evaluation import evaluate
from itemlib.generate import generate
from itemlib.metrics import METRICS_AT_K
from itemlib.retrieval import BASELINES, make_retriever
from itemlib.study.arms import Arm, reference_names, tuned_arm
from itemlib.study.claims import paired_intervals
from itemlib.study.plan import plan
from itemlib.study.profiles import PROFILES
from itemlib.study.records import EvaluationRecord
from itemlib.taskinfo import TASK_INFO, TaskInfo
from itemlib.tasks import TASKS, Example, Task, register_task
from itemlib.train_config import TrainConfig
from itemlib.training import load_training_records


class EchoTitle(Task):
    """A dummy task: the query is an item's title as written, the answer every item of that title."""

    name = "ET2I"

    def build(self, context, split, count, rng):
        catalog = context.catalog
        chosen = rng.sample(range(len(catalog)), min(count, len(catalog)))
        examples = []
        for position in chosen:
            key = catalog.title_keys[position]
            same = [catalog.items[p].id for p in catalog.items_by_title[key]]
            spec = {"constraints": [{"field": "title", "op": "title_eq", "value": key}]}
            examples.append(Example(self.name, catalog.items[position].title, key, same, spec))
        return examples


@pytest.fixture
def echo_task():
    register_task(TaskInfo("ET2I", "echoed title to item", "hit", "attribute"), EchoTitle())
    yield "ET2I"
    TASK_INFO.pop("ET2I")
    TASKS.pop("ET2I")


def test_a_registered_task_is_generated_trained_on_and_scored(tmp_path, movielens, echo_task):
    stats = generate(movielens, tmp_path / "data", tasks=["et2i"], per_task=40, test_per_task=20, negatives=2,
                     progress=False)  # fmt: skip
    assert stats["tasks"]["ET2I"]["train_examples"] > 0
    records, _ = load_training_records(tmp_path / "data", TrainConfig(tasks=["et2i"], negatives=2))
    assert {r["task"] for r in records} == {"ET2I"}
    result = evaluate(make_retriever("bm25"), movielens, tmp_path / "data", tasks=["ET2I"], progress=False)
    assert result.headline.task.tolist() == ["ET2I"] and result.headline.value.iloc[0] > 0.5  # titles match titles
    with pytest.raises(ValueError, match="exists already"):
        register_task(TaskInfo("ET2I", "again", "hit", "attribute"), EchoTitle())


class Shortest:
    """A dummy reference: the items with the shortest texts, whatever the query."""

    name = "shortest"

    def index(self, catalog):
        self.lengths = -np.array([len(text) for text in catalog.texts], dtype=np.float32)

    def score(self, queries):
        return np.broadcast_to(self.lengths, (len(queries), len(self.lengths))).copy()


def test_a_registered_baseline_is_a_reference_of_every_comparison(monkeypatch):
    monkeypatch.setitem(BASELINES, "shortest", Shortest)
    assert isinstance(make_retriever("shortest"), Shortest)
    assert "shortest" in reference_names()
    evaluate_run = next(
        run for run in plan(PROFILES["smoke"], available_only=False) if run.notebook == "evaluate.ipynb"
    )
    shortest = next(arm for arm in evaluate_run.parameters["arms"] if arm["label"] == "shortest")
    assert shortest["model"] == "shortest" and shortest["kind"] == "reference"
    per_query = {"tuned-movielens": {"UH2I": [1.0, 1.0, 0.0, 1.0]}, "shortest": {"UH2I": [0.0] * 4}}
    arms = [tuned_arm("movielens", "m").to_dict(), Arm("shortest", "shortest", "reference").to_dict()]
    record = EvaluationRecord("movielens", arms, {}, {}, per_query)
    assert paired_intervals({"movielens": record}).reference.tolist() == ["shortest"]


def test_a_registered_catalog_loader_is_a_catalog_name_everywhere(tmp_path, monkeypatch, capsys):
    def load_shop():
        schema = [Field("genres", FieldKind.LIST)]
        items = [Item(f"s{i}", f"Gadget model{i}", {"genres": ["Tools" if i % 2 else "Toys"]}) for i in range(30)]
        return Catalog("shop", items, schema, noun="product", verb="buy")

    monkeypatch.setitem(CATALOG_LOADERS, "shop", load_shop)
    assert load_catalog("shop").name == "shop"
    assert main(["search", "--model", "bm25", "--catalog", "shop", "-k", "1", "gadget model7"]) == 0
    assert "[s7] " in capsys.readouterr().out


def test_a_registered_metric_is_reported_at_every_cut_off(movielens, movielens_data, monkeypatch):
    monkeypatch.setitem(METRICS_AT_K, "first_k_hits", lambda judged, k: judged.relevant[:, :k].sum(axis=1) / 1.0)
    result = evaluate(make_retriever("popularity"), movielens, movielens_data, tasks=["NM2I"], progress=False)
    rows = result.metrics[result.metrics.metric == "first_k_hits"]
    assert rows.k.tolist() == [1, 5, 10, 20]
    hit = result.metrics[(result.metrics.metric == "hit") & (result.metrics.k == 1)].value.iloc[0]
    assert rows.value.iloc[0] == pytest.approx(hit)  # at K = 1 a hit count is Hit@1
    assert json.loads(json.dumps(result.metrics.to_dict(orient="records")))  # it lands in metrics.json as is
