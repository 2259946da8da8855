"""The text+CF arm: a text retriever blended with collaborative filtering over the items a request
names by title, its reference and weights chosen on a validation split and stored beside the model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from itemlib.catalog import Catalog, Field, FieldKind, Item
from itemlib.collaborative import COLLABORATIVE
from itemlib.models import ModelError
from itemlib.querykind import KINDS, TitleMatcher
from itemlib.retrieval import (
    BLEND_FILE,
    CollaborativeBlend,
    id_ranks,
    make_retriever,
    model_of,
    search,
    standardized,
)
from itemlib.training import TrainConfig, train
from itemlib.validation import ValidationConfig, choose_blend, tune_popularity_weight

from .test_collaborative import two_camps
from .tiny_models import tiny_bert


def camps() -> Catalog:
    """:func:`two_camps` (items 0-4 taken together, 5-9 together) titled as games, with a game titled
    like a genre (item 10) and one nobody took (11)."""
    base = two_camps()
    items = [Item(item.id, f"Game {item.id}", {"tags": ["Action"]}) for item in base.items[:10]]
    items += [Item("10", "Free Play", {"tags": ["Free Play"]}), Item("11", "Quiet Lake", {"tags": ["Action"]})]
    return Catalog("camps", items, [Field("tags", FieldKind.LIST)], histories=base.histories)


def blend(weight: float, reference: str = "itemknn") -> tuple[CollaborativeBlend, Catalog]:
    catalog = camps()
    retriever = CollaborativeBlend(make_retriever("random"), make_retriever(reference), weight)
    retriever.index(catalog)
    return retriever, catalog


def test_a_title_that_is_also_a_field_value_names_nothing():
    matcher = TitleMatcher(camps())
    assert matcher.named_items("after Game 1 and Game 2, some free play games") == [1, 2]
    assert matcher.named_items("Free Play games like Quiet Lake") == [matcher.positions[("quiet", "lake")][0]]
    assert matcher.kind("Free Play games like Quiet Lake") == "request"  # the genre is a wish beside the title


@pytest.mark.parametrize("reference", COLLABORATIVE)
def test_a_request_naming_items_gets_their_co_taken_items(reference):
    retriever, catalog = blend(4.0, reference)
    query, named = "I played Game 0, Game 1 and Game 2", [0, 1, 2]
    top = search(retriever, [query], [named], 2, ranks=id_ranks(catalog))[0]
    assert {catalog.items[p].id for p in top} == {"3", "4"}


def test_a_named_item_keeps_its_row_s_best_reference_score():
    retriever, catalog = blend(4.0)
    text, collaborative, kinds = retriever.parts(["a game like Game 3"])
    assert kinds == ["item"] and collaborative[0, 3] == collaborative[0].max() > 0
    assert search(retriever, ["a game like Game 3"], [[]], 1, ranks=id_ranks(catalog))[0, 0] == 3


def test_without_named_items_or_weight_the_blend_ranks_as_its_text_retriever():
    retriever, catalog = blend(0.0)
    text = make_retriever("random")
    text.index(catalog)
    queries = ["a quiet game", "Game 0 then Game 1"]
    np.testing.assert_allclose(retriever.score(queries), standardized(text.score(queries)), rtol=1e-5)
    heavy, _ = blend(4.0)
    np.testing.assert_allclose(heavy.score(queries[:1]), standardized(text.score(queries[:1])), rtol=1e-5)
    with pytest.raises(ValueError, match="not a collaborative-filtering reference"):
        CollaborativeBlend(text, make_retriever("bm25"), 1.0)
    with pytest.raises(ValueError, match="per kind of query"):
        CollaborativeBlend(text, make_retriever("als"), {"history": 1.0})
    with pytest.raises(ValueError, match="references are given per kind of query"):
        CollaborativeBlend(text, {"history": make_retriever("als")}, 1.0)


def test_each_kind_of_query_is_blended_with_its_own_reference():
    catalog = camps()
    text = make_retriever("random")
    itemknn, als = make_retriever("itemknn"), make_retriever("als")
    mixed = CollaborativeBlend(text, dict(zip(KINDS, [itemknn, als, als, itemknn], strict=True)), 1.0)
    mixed.index(catalog)
    queries = ["I played Game 0, Game 1 and Game 2", "a game like Game 3"]
    _, collaborative, kinds = mixed.parts(queries)
    assert kinds == ["history", "item"]
    for reference, row in ((itemknn, 0), (als, 1)):
        alone, _ = blend(1.0, reference.name)
        np.testing.assert_allclose(collaborative[row], alone.parts(queries)[1][row], rtol=1e-5)


def test_the_blend_is_chosen_on_a_validation_split_and_read_back(movielens, movielens_data, tmp_path):
    config = TrainConfig(model=tiny_bert(tmp_path / "bert"), max_steps=2, max_per_task=20, negatives=1, progress=False)
    model = train(movielens_data, tmp_path / "model", config)
    with pytest.raises(ModelError, match=f"no {BLEND_FILE}"):
        make_retriever(f"{model}+popularity+cf")
    tune_popularity_weight(model, movielens, movielens_data, ValidationConfig(per_task=15))
    split = tmp_path / "model-validation"
    choice = choose_blend(f"{model}+popularity", movielens, split, weights=(0.0, 1.0))
    assert set(choice["reference"]) == set(choice["weights"]) == set(KINDS) and choice["base"] == "+popularity"
    tables = choice["references"]
    for kind, name in choice["reference"].items():  # the criterion fixed in advance: the best pair per kind
        if kind in tables[name]["scores"]:
            best = max(score for table in tables.values() for score in table["scores"][kind].values())
            assert tables[name]["scores"][kind][str(choice["weights"][kind])] == best
    assert json.loads((model / BLEND_FILE).read_text()) == choice
    loaded = make_retriever(f"{model}+popularity+cf")
    assert isinstance(loaded, CollaborativeBlend) and loaded.weights == choice["weights"]
    assert {kind: r.name for kind, r in loaded.references.items()} == choice["reference"]
    assert model_of(loaded.name) == str(model)
    same = [kind for kind in KINDS if choice["reference"][kind] == choice["reference"][KINDS[0]]]
    assert len({id(loaded.references[kind]) for kind in same}) == 1  # one reference, fitted once
    older = choice | {"reference": "als"}  # an older version's file: one reference for every kind
    (model / BLEND_FILE).write_text(json.dumps(older))
    assert {r.name for r in make_retriever(f"{model}+popularity+cf").references.values()} == {"als"}
    (model / BLEND_FILE).write_text(json.dumps(choice | {"reference": dict.fromkeys(KINDS, "ease")}))
    with pytest.raises(ModelError, match="unknown collaborative-filtering reference ease"):
        make_retriever(f"{model}+popularity+cf")
    (model / BLEND_FILE).write_text(json.dumps(choice))
    with pytest.raises(ModelError, match="was chosen for"):
        make_retriever(f"{model}+cf")


def test_the_command_line_chooses_and_prints_the_blend(movielens_data, tmp_path, capsys):
    from itemlib.cli import main

    config = TrainConfig(model=tiny_bert(tmp_path / "bert"), max_steps=1, max_per_task=10, negatives=1, progress=False)
    model = train(movielens_data, tmp_path / "model", config)
    args = ["popularity-weight", "--model", str(model), "--data", str(movielens_data), "--catalog", "movielens"]
    assert main([*args, "--per-task", "10", "--blend"]) == 0
    printed = capsys.readouterr().out
    assert f"collaborative-filtering blend of {model}+popularity" in printed
    assert f"rank with it: --model {model}+popularity+cf" in printed and (model / BLEND_FILE).exists()
    judgement = json.loads((model / BLEND_FILE).read_text())["judgement"]  # on the same split, by the fixed criterion
    assert [row["task"] for row in judgement["tasks"]][:2] == ["UH2I", "I2I"] and "joins" in judgement
    assert judgement["joins"] == (bool(judgement["better on behaviour tasks"]) and not judgement["worse on"])
    assert ("on the same split it meets the criterion" in printed) == judgement["joins"]


def test_the_cpu_plan_ranks_the_blend_in_domain_and_on_requests_people_wrote():
    from itemlib.study.plan import plan
    from itemlib.study.profiles import PROFILES

    runs = {run.name: run.parameters for run in plan(PROFILES["cpu"], available_only=False)}
    for catalog in ("movielens", "steam"):
        labels = [arm["label"] for arm in runs[f"evaluate-{catalog}"]["arms"]]
        assert labels[-2:] == [f"tuned-{catalog}+popularity", f"tuned-{catalog}+popularity+cf"]
    assert "tuned-movielens+popularity+cf" in [arm["label"] for arm in runs["chat"]["redial_arms"]]


def test_the_train_page_shows_each_kind_s_reference_and_weight():
    from itemlib.study.records import TrainingRecord

    scores = {"history": {"0.0": 0.1, "1.0": 0.3}, "item": {"0.0": 0.2, "1.0": 0.25}}
    other = {"history": {"0.0": 0.1, "1.0": 0.2}, "item": {"0.0": 0.2, "1.0": 0.4}}
    blend = {"reference": {"history": "itemknn", "item": "als", "description": "itemknn"},
             "weights": {"history": 1.0, "item": 1.0, "description": 0.0},
             "references": {"itemknn": {"scores": scores}, "als": {"scores": other}}}  # fmt: skip
    table = TrainingRecord("m", "out", {}, [], blend=blend).blend_table()
    assert table.loc["chosen weight", ("itemknn", "history")] == 1.0
    assert table.loc["chosen weight", ("als", "item")] == 1.0
    assert np.isnan(table.loc["chosen weight", ("als", "history")])  # shown as a dash: not chosen for histories
    older = blend | {"reference": "als"}  # one reference for every kind: an older version's file
    shown = TrainingRecord("m", "out", {}, [], blend=older).blend_table()
    assert np.isnan(shown.loc["chosen weight", ("itemknn", "item")])
