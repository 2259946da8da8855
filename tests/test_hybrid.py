"""The tuned+popularity arm: a popularity prior added to a text retriever, its weight chosen on a
validation split and stored beside the model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from itemlib.models import ModelError
from itemlib.querykind import KINDS, TitleMatcher
from itemlib.retrieval import WEIGHT_FILE, PopularityPrior, id_ranks, make_retriever, search
from itemlib.training import TrainConfig, train
from itemlib.validation import ValidationConfig, choose_popularity_weight, write_validation_split

from .tiny_models import tiny_bert

QUERIES = ["a comedy from the 1990s", "Toy Story", "space robots"]


def test_the_prior_adds_weighted_log_popularity_to_the_text_scores(movielens):
    bm25 = make_retriever("bm25")
    bm25.index(movielens)
    text = bm25.score(QUERIES)
    for weight in (0.0, 0.5):
        prior = PopularityPrior(make_retriever("bm25"), weight)
        prior.index(movielens)
        np.testing.assert_allclose(prior.score(QUERIES), text + weight * np.log1p(movielens.popularity), rtol=1e-5)
    heavy = PopularityPrior(make_retriever("bm25"), 1e6)
    heavy.index(movielens)
    popularity = make_retriever("popularity")
    popularity.index(movielens)
    ranks = id_ranks(movielens)
    masks = [[] for _ in QUERIES]
    assert np.array_equal(
        search(heavy, QUERIES, masks, 5, ranks=ranks)[:, 0], search(popularity, QUERIES, masks, 5, ranks=ranks)[:, 0]
    )
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        PopularityPrior(bm25, -1)


def test_the_weight_is_chosen_on_a_validation_split_and_read_back(movielens, movielens_data, tmp_path):
    config = TrainConfig(model=tiny_bert(tmp_path / "bert"), max_steps=2, max_per_task=20, negatives=1, progress=False)
    model = train(movielens_data, tmp_path / "model", config)
    with pytest.raises(ModelError, match=f"no {WEIGHT_FILE}"):
        make_retriever(f"{model}+popularity")
    split = tmp_path / "validation"
    write_validation_split(movielens_data, movielens, [model], split, ValidationConfig(per_task=15))
    choice = choose_popularity_weight(str(model), movielens, split, weights=(0.0, 0.01, 0.1))
    assert set(choice["weights"]) == set(KINDS)
    for kind, weight in choice["weights"].items():  # the criterion fixed in advance: mean headline per kind
        scores = choice["scores"][kind]
        assert set(scores) == {"0.0", "0.01", "0.1"} and scores[str(weight)] == max(scores.values())
    assert choice["kinds"]["UH2I"]["history"] > 0.5 and choice["kinds"]["VC2I"] == {"description": 1.0}
    assert json.loads((model / WEIGHT_FILE).read_text()) == choice
    loaded = make_retriever(f"{model}+popularity")
    assert isinstance(loaded, PopularityPrior) and loaded.weights == choice["weights"]
    assert make_retriever(f"{model}+popularity=0.3").weights == dict.fromkeys(KINDS, 0.3)
    with pytest.raises(ModelError, match="chosen for a model folder"):
        choose_popularity_weight("minilm", movielens, split)


def test_the_command_line_chooses_and_prints_the_weight(movielens_data, tmp_path, capsys):
    from itemlib.cli import main

    config = TrainConfig(model=tiny_bert(tmp_path / "bert"), max_steps=1, max_per_task=10, negatives=1, progress=False)
    model = train(movielens_data, tmp_path / "model", config)
    args = ["popularity-weight", "--model", str(model), "--data", str(movielens_data), "--catalog", "movielens"]
    assert main([*args, "--per-task", "10"]) == 0
    printed = capsys.readouterr().out
    assert f"popularity weights of {model} (per kind of query" in printed and "  history " in printed
    assert f"rank with it: --model {model}+popularity" in printed
    assert (tmp_path / "model-validation" / "stats.json").exists()


def test_a_query_s_kind_is_how_many_catalog_titles_it_names_and_whether_it_asks_for_more(movielens):
    matcher = TitleMatcher(movielens)
    assert matcher.kind("Toy Story; Jumanji; Grumpier Old Men") == "history"  # one-word Jumanji is not counted
    assert matcher.named("after toy story, GRUMPIER old men!") == [("toy", "story"), ("grumpier", "old", "men")]
    assert matcher.kind("Which movies go well with Toy Story?") == "item"
    assert matcher.kind("Which movies go well with Toy Story (1995; Comedy)?") == "item"  # a note on which item
    assert matcher.kind("Toy Story (1995 (US)) (Comedy) and more like it") == "item"  # notes in a row, nested
    assert matcher.kind("a comedy from the 1990s about heat") == "description"
    # a title with a wish: a field value or a number outside the titles
    assert matcher.kind("I watched Toy Story; Grumpier Old Men. Now a Comedy, please") == "request"
    assert matcher.kind("after Toy Story, something from 1995") == "request"
    assert matcher.kind("more movies like Toy Story") == "item"  # the catalog's noun asks for nothing
    for text in ("Toy Story; Grumpier Old Men", "after Toy Story, something from 1995", "a comedy", "Toy Story"):
        assert matcher.read(text) == (matcher.named_items(text), matcher.kind(text))  # one reading gives both


def test_a_one_word_name_asks_only_when_written_as_a_name_and_a_title_s_own_parentheses_are_the_title():
    from itemlib.catalog import Catalog, Field, FieldKind, Item

    schema = [Field("genres", FieldKind.LIST), Field("developer", FieldKind.CATEGORICAL)]
    items = [
        Item("1", "Outcast Second Contact", {"genres": ["Action"], "developer": "Appeal"}),
        Item("2", "Seven Samurai (Shichinin no samurai)", {"genres": ["Drama"], "developer": "Toho Studios"}),
        Item("3", "Portal Two", {"genres": ["Puzzle"], "developer": "Valve"}),
    ]
    matcher = TitleMatcher(Catalog("toy", items, schema, noun="game"))
    # a developer called Appeal is asked for by its name, not by the word
    assert matcher.kind("Portal Two was great -- what has a similar appeal?") == "item"
    assert matcher.kind("Portal Two, but something by Appeal") == "request"
    assert matcher.kind("Portal Two, but an action game") == "request"  # a list value: any case
    assert matcher.kind("Portal Two, but something by toho studios") == "request"  # a name of two words: any case
    # the parentheses that close a title are part of it; the note after them is still a note
    assert matcher.kind("Fans of Seven Samurai (Shichinin no samurai) (1954; Drama) watch what else?") == "item"
    assert matcher.kind("After Seven Samurai (Shichinin no samurai), a Drama please") == "request"


def test_each_kind_of_query_gets_its_own_weight(movielens):
    weights = {"history": 1e6, "item": 0.0, "request": 0.0, "description": 0.0}
    prior = PopularityPrior(make_retriever("bm25"), weights)
    prior.index(movielens)
    assert prior.query_weights(["Toy Story; Grumpier Old Men", "Toy Story", "space robots"]).tolist() == [1e6, 0, 0]
    popularity = make_retriever("popularity")
    popularity.index(movielens)
    ranks = id_ranks(movielens)
    top = search(prior, ["Toy Story; Grumpier Old Men", "space robots"], [[], []], 1, ranks=ranks)[:, 0]
    assert top[0] == search(popularity, ["x"], [[]], 1, ranks=ranks)[0, 0] != top[1]
    with pytest.raises(ValueError, match="per kind of query"):
        PopularityPrior(make_retriever("bm25"), {"history": 1.0})


def test_weights_chosen_under_an_older_kind_rule_are_refused_not_guessed(tmp_path):
    (tmp_path / WEIGHT_FILE).write_text(json.dumps({"weights": {"history": 0.1, "item": 0.0, "description": 0.0}}))
    with pytest.raises(ModelError, match="an older rule.*choose again with `itemlib popularity-weight"):
        make_retriever(f"{tmp_path}+popularity")
