"""Collaborative-filtering references: fitted on the training rows, read item ids, refuse text."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from itemlib.catalog import Catalog, Field, FieldKind, Item
from itemlib.cli import main
from itemlib.collaborative import COLLABORATIVE, ReadsItemsError, validation_rows
from itemlib.cooccurrence import is_judge, training_rows
from itemlib.evaluation import evaluate
from itemlib.retrieval import make_retriever, search, search_records


def two_camps() -> Catalog:
    """Items 0-4 are always taken together, 5-9 together: a user who has 0, 1, 2 wants 3 or 4."""
    items = [Item(str(n), f"Item {n}", {"tags": ["x"]}) for n in range(12)]
    rng = np.random.default_rng(0)
    histories = {}
    for user in range(80):
        camp = range(0, 5) if user % 2 else range(5, 10)
        histories[f"u{user}"] = [str(i) for i in rng.permutation(list(camp))]
    return Catalog("camps", items, [Field("tags", FieldKind.LIST)], histories=histories)


@pytest.mark.parametrize("name", COLLABORATIVE)
def test_reference_ranks_the_co_taken_items_first(name):
    catalog = two_camps()
    retriever = make_retriever(name)
    retriever.index(catalog)
    assert retriever.chosen in retriever.grid and len(retriever.validation) == len(retriever.grid)
    records = [{"query": "ignored text", "mask_ids": ["0", "1", "2"], "pos_ids": ["3"], "spec": {}}]
    top = search_records(retriever, catalog, records, 2)[0]
    assert {catalog.items[p].id for p in top} == {"3", "4"}


def test_validation_holds_out_each_history_s_last_training_item():
    catalog = two_camps()
    fitted, queries, held = validation_rows(catalog)
    kept = [u for u in sorted(catalog.histories) if not is_judge(u)]
    assert len(queries) == len(held) == len(kept)
    first = catalog.training_histories()[kept[0]]
    assert queries[0] == [catalog.index[i] for i in first[:-1]] and held[0] == catalog.index[first[-1]]
    assert fitted.sum() == sum(len(catalog.histories[u]) - 2 for u in kept)


@pytest.mark.parametrize("name", COLLABORATIVE)
def test_a_reference_fitted_on_some_rows_says_nothing_and_refuses_none(name):
    catalog = two_camps()
    reference = make_retriever(name)
    camp = {user: ids for user, ids in training_rows(catalog, judges=False).items() if ids[0] in "01234"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reference.fit_rows(catalog, camp)  # one camp only: the other's items co-occur with nothing
    assert not [w for w in caught if "expects CSR input" in str(w.message)]
    scores = reference.score_items([[0, 1, 2]])[0]
    assert set(np.argsort(-np.where(np.isin(np.arange(12), [0, 1, 2]), -np.inf, scores))[:2]) == {3, 4}
    with pytest.raises(ValueError, match="no training interactions left to fit on"):
        reference.fit_rows(catalog, {})


def test_reference_refuses_text_and_answers_behaviour_tasks_only(movielens, movielens_data):
    retriever = make_retriever("itemknn")
    with pytest.raises(ReadsItemsError, match="reads the items a query was written from"):
        search(retriever, ["a comedy"], [[]], 5, ranks=np.arange(len(movielens)))
    result = evaluate(retriever, movielens, movielens_data, progress=False)
    assert list(result.headline.task) == ["UH2I", "I2I", "US2I", "UQ2I"]
    with pytest.raises(ReadsItemsError):
        evaluate(retriever, movielens, movielens_data, tasks=["FA2I"], progress=False)


def test_cli_search_with_a_reference_says_what_it_reads(capsys):
    assert main(["search", "--model", "als", "--catalog", "movielens", "a comedy"]) == 2
    assert "collaborative-filtering reference" in capsys.readouterr().err


def test_a_catalog_without_training_interactions_is_refused_by_name():
    items = [Item(str(n), f"Item {n}", {"tags": ["x"]}) for n in range(4)]
    catalog = Catalog("bare", items, [Field("tags", FieldKind.LIST)], histories={"u": ["0"]})
    with pytest.raises(ValueError, match="'bare' has no training interactions"):
        make_retriever("itemknn").index(catalog)


def test_a_reference_is_fitted_once_per_catalog_and_process():
    catalog = two_camps()
    first, second = make_retriever("als"), make_retriever("als")
    first.index(catalog)
    second.index(catalog)
    assert second.model is first.model and second.chosen == first.chosen
    other = make_retriever("als")
    other.seed = 1  # another seed is another fit
    other.index(catalog)
    assert other.model is not first.model


def test_the_grid_s_scores_are_cached_on_disk_so_another_process_fits_only_the_choice(tmp_path, monkeypatch):
    import itemlib.collaborative as collaborative

    monkeypatch.setenv("ITEMLIB_CACHE", str(tmp_path))
    monkeypatch.setattr(collaborative, "_FITTED", {})  # nothing fitted by earlier tests
    catalog = two_camps()
    first = make_retriever("itemknn")
    first.index(catalog)
    monkeypatch.setattr(collaborative, "_FITTED", {})  # as a new process
    settings = []
    fit = collaborative.ItemKNNRetriever.fit
    monkeypatch.setattr(
        collaborative.ItemKNNRetriever, "fit", lambda self, m, **s: settings.append(s) or fit(self, m, **s)
    )
    second = make_retriever("itemknn")
    second.index(catalog)
    assert settings == [first.chosen] and second.validation == first.validation
    (cached,) = (tmp_path / "collaborative").glob("itemknn-*.json")
    cached.write_text("{not json")  # a broken cache is recomputed, not trusted
    monkeypatch.setattr(collaborative, "_FITTED", {})
    make_retriever("itemknn").index(catalog)
    assert len(settings) == 1 + len(first.grid) + 1
