"""Metrics on hand-computed cases and against ir-measures; masked, tie-broken, faiss-equal search;
evaluation end to end and its errors."""

from __future__ import annotations

import json

import ir_measures
import numpy as np
import pytest

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item
from itemlib.comparison import paired_difference
from itemlib.evaluation import evaluate, load_tests
from itemlib.metrics import coverage_at_k, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank
from itemlib.models import ModelError, load_encoder
from itemlib.retrieval import (
    EncoderRetriever,
    chunked_top_k,
    faiss_top_k,
    id_ranks,
    make_retriever,
    search,
    top_k_from_scores,
)

from .tiny_models import tiny_bert


def test_metrics_on_hand_computed_cases():
    relevant = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    n_relevant = np.array([3, 2, 1])
    assert hit_at_k(relevant, 1).tolist() == [0, 0, 1]
    assert hit_at_k(relevant, 2).tolist() == [1, 0, 1]
    assert coverage_at_k(relevant, 4).tolist() == [0.5, 0, 0.25]
    assert recall_at_k(relevant, n_relevant, 4).tolist() == pytest.approx([2 / 3, 0, 1])
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert ndcg_at_k(relevant, n_relevant, 4).tolist() == pytest.approx(
        [(1 / np.log2(3) + 1 / np.log2(5)) / ideal, 0, 1]
    )
    assert reciprocal_rank(relevant).tolist() == [0.5, 0, 1]
    with pytest.raises(ValueError, match="k must be"):
        hit_at_k(relevant, 5)


def test_metrics_agree_with_ir_measures():
    rng = np.random.default_rng(7)
    queries, depth, items = 40, 20, 60
    ranked = np.stack([rng.permutation(items)[:depth] for _ in range(queries)])
    positives = [set(rng.choice(items, rng.integers(1, 6), replace=False).tolist()) for _ in range(queries)]
    relevant = np.array([[i in positives[q] for i in ranked[q]] for q in range(queries)])
    n_relevant = np.array([len(p) for p in positives])
    qrels = [ir_measures.Qrel(str(q), str(i), 1) for q in range(queries) for i in positives[q]]
    run = [
        ir_measures.ScoredDoc(str(q), str(i), float(depth - r)) for q in range(queries) for r, i in enumerate(ranked[q])
    ]
    for k in (1, 5, 10, 20):
        expected = ir_measures.iter_calc([ir_measures.Success @ k, ir_measures.nDCG @ k], qrels, run)
        table = {(m.query_id, str(m.measure)): m.value for m in expected}
        for q in range(queries):
            assert hit_at_k(relevant, k)[q] == pytest.approx(table[(str(q), f"Success@{k}")])
            assert ndcg_at_k(relevant, n_relevant, k)[q] == pytest.approx(table[(str(q), f"nDCG@{k}")])
    rr = {m.query_id: m.value for m in ir_measures.iter_calc([ir_measures.RR @ depth], qrels, run)}
    assert reciprocal_rank(relevant).tolist() == pytest.approx([rr.get(str(q), 0.0) for q in range(queries)])


def test_masked_items_never_appear_and_ties_order_by_id():
    scores = np.array([[1.0, 5.0, 5.0, 5.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]], dtype=np.float32)
    ranks = np.array([4, 3, 0, 2, 1])  # id order: item 2 < 4 < 3 < 1 < 0
    top = top_k_from_scores(scores, [[1], []], 3, ranks)
    assert top[0].tolist() == [2, 3, 0]  # 1 is masked; 2 and 3 tie, 2 has the smaller id
    assert top[1].tolist() == [2, 4, 3]
    rng = np.random.default_rng(0)
    random_scores = rng.random((30, 50)).astype(np.float32)
    masks = [rng.choice(50, 10, replace=False).tolist() for _ in range(30)]
    top = top_k_from_scores(random_scores, masks, 20, np.arange(50))
    assert all(not set(row) & set(mask) for row, mask in zip(top.tolist(), masks))


def test_top_k_equals_a_full_sort_by_score_then_id_with_many_ties():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 4, (40, 60)).astype(np.float32)  # four values: ties everywhere
    ranks = rng.permutation(60)
    masks = [rng.choice(60, rng.integers(0, 50), replace=False).tolist() for _ in range(40)]
    top = top_k_from_scores(scores, masks, 15, ranks)
    for row in range(40):
        allowed = [i for i in range(60) if i not in set(masks[row])]
        expected = sorted(allowed, key=lambda i: (-scores[row, i], ranks[i]))[:15]
        assert top[row].tolist()[: len(expected)] == expected
    assert not np.isinf(scores).any(), "the caller's scores are not modified"


def test_faiss_and_exact_search_agree():
    rng = np.random.default_rng(1)
    items = rng.standard_normal((2000, 16)).astype(np.float32)
    queries = rng.standard_normal((50, 16)).astype(np.float32)
    masks = [rng.choice(2000, rng.integers(0, 30), replace=False).tolist() for _ in range(50)]
    ranks = np.arange(2000)
    exact = chunked_top_k(lambda rows: queries[rows] @ items.T, len(queries), masks, 20, ranks, chunk_size=16)
    assert np.array_equal(exact, faiss_top_k(queries, items, masks, 20, ranks))


def test_evaluate_baselines_end_to_end(movielens, movielens_data, tmp_path):
    result = evaluate(make_retriever("popularity"), movielens, movielens_data, progress=False)
    extra = {
        "base_rate",
        "ceiling",
        "title named",
        "title not named",
        "ceiling, title named",
        "ceiling, title not named",
    }
    assert set(result.metrics.metric) == {"hit", "coverage", "recall", "ndcg", "mrr", *extra}
    assert result.metrics.value.between(0, 1).all()
    headline = result.headline.set_index("task")
    assert (headline.value <= headline.ceiling + 1e-9).all()  # nothing scores above a perfect ranking
    assert headline.loc["UH2I", "ceiling"] == 1.0 and headline.loc["FA2I", "ceiling"] < 1.0  # FA2I: few items fit
    assert headline.loc["AS2I", "metric"] == "coverage@5"  # a vague request: any item satisfying it counts
    split = result.metrics[result.metrics.metric.isin(["title named", "title not named"])]
    assert set(split.task) == {"FA2I", "SA2I"}  # the tasks whose queries sometimes state the title
    for task, rows in split.groupby("task"):  # the two parts average back to the headline
        both = (rows.value * rows.queries).sum() / rows.queries.sum()
        assert both == pytest.approx(headline.loc[task, "value"])
        ceilings = result.metrics[(result.metrics.task == task) & result.metrics.metric.str.startswith("ceiling, ")]
        assert (ceilings.value * ceilings.queries).sum() / ceilings.queries.sum() == pytest.approx(
            headline.loc[task, "ceiling"]
        )
    assert result.headline.task.tolist() == [
        "UH2I",
        "I2I",
        "US2I",
        "FA2I",
        "SA2I",
        "AS2I",
        "NM2I",
        "VC2I",
        "NA2I",
        "UQ2I",
    ]
    assert result.headline.set_index("task").loc["FA2I", "metric"] == "coverage@5"
    bm25 = evaluate(make_retriever("bm25"), movielens, movielens_data, tasks=["NM2I"], progress=False)
    rand = evaluate(make_retriever("random"), movielens, movielens_data, tasks=["NM2I"], progress=False)
    assert bm25.headline.value[0] > rand.headline.value[0] + 0.2  # typo'd titles: lexical match works
    bm25.save(tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["headline"][0]["task"] == "NM2I" and (tmp_path / "metrics.csv").exists()
    # the per-query headline values average to the headline, so they can be compared pairwise
    per_task = result.per_query.groupby("task").value.mean()
    for row in result.headline.itertuples():
        assert per_task[row.task] == pytest.approx(row.value)
    gap = paired_difference(bm25.per_query.value, rand.per_query.value)
    assert gap["low"] > 0 and gap["low"] <= gap["difference"] <= gap["high"]


def test_paired_difference_interval():
    same = paired_difference([1, 0, 1, 0], [1, 0, 1, 0])
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "p": 1.0}
    rng = np.random.default_rng(0)
    noise = paired_difference(rng.integers(0, 2, 400), rng.integers(0, 2, 400))
    assert noise["low"] < 0 < noise["high"] and noise["p"] > 0.05  # two coin flips: no real difference
    clear = paired_difference([1.0] * 30, [0.0] * 30)
    assert clear["low"] == 1.0 and clear["p"] < 0.001  # the randomisation test agrees with the interval
    assert paired_difference([1, 0], [0, 0], seed=3) == paired_difference([1, 0], [0, 0], seed=3)
    with pytest.raises(ValueError, match="equal-length"):
        paired_difference([1, 0, 1], [1, 0])


def test_a_per_task_comparison_pairs_each_task_s_queries_in_order():
    import pandas as pd

    from itemlib.comparison import compare_per_task

    theirs = pd.DataFrame({"task": ["UH2I"] * 30 + ["NM2I"] * 4, "value": [0.0] * 30 + [1, 0, 1, 0]})
    ours = pd.DataFrame({"task": ["UH2I"] * 30 + ["NM2I"] * 4, "value": [1.0] * 30 + [1, 0, 1, 0]})
    rows = compare_per_task(ours, theirs, ("new", "old"))
    assert [(r["task"], r["queries"], r["old"], r["new"], r["verdict"]) for r in rows] == [
        ("UH2I", 30, 0.0, 1.0, "better"), ("NM2I", 4, 0.5, 0.5, "within noise")]  # fmt: skip
    assert rows[0]["difference"] == 1.0 and rows[1]["low"] == rows[1]["high"] == 0.0


def test_tiny_encoder_retriever_caches_catalog_embeddings(movielens_data, tmp_path):
    items = [Item(str(n), f"Thing number {n}", {"tags": ["red" if n % 2 else "blue"]}) for n in range(40)]
    catalog = Catalog("tiny", items, [Field("tags", FieldKind.LIST)])
    retriever = EncoderRetriever(load_encoder(tiny_bert(tmp_path / "bert")), cache_dir=tmp_path / "cache")
    retriever.index(catalog)
    first = retriever.item_embeddings
    assert first.shape == (40, 32) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    retriever.index(catalog)
    assert np.array_equal(first, retriever.item_embeddings)


def test_bf16_embeddings_are_unit_float32_close_to_fp32_and_cached_apart(tmp_path, monkeypatch):
    items = [Item(str(n), f"Thing number {n}", {"tags": ["red" if n % 2 else "blue"]}) for n in range(40)]
    catalog = Catalog("tiny", items, [Field("tags", FieldKind.LIST)])
    model = load_encoder(tiny_bert(tmp_path / "bert"))
    exact = EncoderRetriever(model, cache_dir=tmp_path / "cache")
    assert exact.precision == "fp32"  # the default, without $ITEMLIB_PRECISION
    monkeypatch.setenv("ITEMLIB_PRECISION", "bf16")
    low = EncoderRetriever(model, cache_dir=tmp_path / "cache")
    assert low.precision == "bf16"
    exact.index(catalog)
    low.index(catalog)
    assert low.item_embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(low.item_embeddings, axis=1), 1, atol=1e-5)
    assert np.min(np.sum(low.item_embeddings * exact.item_embeddings, axis=1)) > 0.99
    assert not np.array_equal(low.item_embeddings, exact.item_embeddings)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2  # one per precision: neither reads the other's
    queries = ["red things"]
    assert np.sum(low.embed_queries(queries) * exact.embed_queries(queries)) > 0.99
    monkeypatch.setenv("ITEMLIB_PRECISION", "fp8")
    with pytest.raises(ModelError, match=r"\$ITEMLIB_PRECISION is 'fp8': choose one of fp32, bf16"):
        EncoderRetriever(model)
    with pytest.raises(ModelError, match="precision is 'half'"):
        EncoderRetriever(model, precision="half")


def test_evaluation_errors(movielens, movielens_data, tmp_path):
    with pytest.raises(CatalogError, match="no such folder"):
        load_tests(tmp_path / "missing", movielens)
    bad = tmp_path / "bad" / "test"
    bad.mkdir(parents=True)
    record = json.loads((movielens_data / "test" / "NM2I.jsonl").read_text().splitlines()[0])
    record["pos_ids"] = ["no-such-movie"]
    (bad / "NM2I.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(CatalogError, match=r"bad is incomplete \(no stats\.json"):
        load_tests(tmp_path / "bad", movielens)  # what an interrupted writer would leave
    (bad.parent / "stats.json").write_text("{}")
    with pytest.raises(CatalogError, match=r"NM2I\.jsonl:1: item 'no-such-movie' is not in catalog"):
        load_tests(tmp_path / "bad" / "test", movielens)
    (bad / "NM2I.jsonl").write_text(json.dumps({k: v for k, v in record.items() if k != "pos_ids"}) + "\n")
    with pytest.raises(CatalogError, match=r"NM2I\.jsonl:1: test record lacks pos_ids"):
        load_tests(tmp_path / "bad", movielens)
    with pytest.raises(ModelError, match="unknown model"):
        make_retriever("not-a-model")
    with pytest.raises(ModelError, match="cannot load model"):
        load_encoder(str(tmp_path))  # a directory without a model


def test_bm25_stems_and_drops_stop_words_as_the_field_runs_it(movielens):
    """Without stemming "toys" misses "Toy Story" and "About" titles win (a weak baseline inflates claims)."""
    bm25 = make_retriever("bm25")
    bm25.index(movielens)
    top = search(bm25, ["animated movie about toys"], [[]], 10, ranks=id_ranks(movielens))[0]
    titles = [movielens.items[p].title for p in top]
    assert any(title.startswith("Toy Story") for title in titles[:3]), titles


def test_a_random_ranking_scores_the_base_rate_of_constraint_queries(movielens, movielens_data):
    """Coverage@5 of a random ranking is the share of the catalog a query accepts, recorded per query as
    base_rate: the floor each constraint task reports beside its Coverage."""
    result = evaluate(make_retriever("random"), movielens, movielens_data, tasks=["VC2I", "NA2I"], progress=False)
    for row in result.headline.itertuples():
        assert abs(row.value - row.base_rate) < 0.08, row
        assert row.base_rate <= 0.5  # no query accepts most of the catalog


def test_query_embeddings_of_weights_loaded_from_a_folder_are_remembered_until_the_folder_changes(
    tmp_path, monkeypatch
):
    import itemlib.embedding as embedding
    from itemlib.retrieval import EncoderRetriever

    from .tiny_models import tiny_bert

    folder = tiny_bert(tmp_path / "bert")
    calls = []
    encode = embedding.encode_queries
    monkeypatch.setattr(embedding, "encode_queries", lambda *a, **k: calls.append(a[1]) or encode(*a, **k))
    first, second = EncoderRetriever(folder), EncoderRetriever(folder)
    queries = ["a comedy", "space robots"]
    np.testing.assert_array_equal(first.embed_queries(queries), second.embed_queries(queries))
    assert calls == [queries]  # the second retriever read them from memory
    second.model.save(folder)  # weights written again: a new key
    np.testing.assert_allclose(EncoderRetriever(folder).embed_queries(queries), first.embed_queries(queries), atol=1e-6)
    assert len(calls) == 2
    EncoderRetriever(first.model).embed_queries(queries)  # a model object may still be trained: never remembered
    assert len(calls) == 3
