"""The local Chat-Rec ranker with a tiny random causal LM: cached title scoring against a
full-sequence reference, the ranking rules, the choice among them, the study's scoring of several
retrievers' candidates, clear load errors, and `itemlib chat --local-llm` with its fallback."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch

from itemlib.chat import (
    LocalRanker,
    LocalRanking,
    choose_local_ranking,
    dialogue_hits,
    evaluate_local_llm,
    generate_dialogues,
    load_causal_lm,
    score_candidates,
)
from itemlib.chat.evaluation import LOCAL_RANKINGS
from itemlib.chat.local import _prompt, resolve_causal_lm, title_loglikelihoods
from itemlib.cli import main
from itemlib.llm import LLMError
from itemlib.retrieval import make_retriever

from .tiny_models import tiny_llama


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("lm"), head=True)


def test_cached_title_scores_equal_full_sequence_scores(movielens, tiny_lm):
    tokenizer, model = load_causal_lm(tiny_lm)
    prompt, separator = _prompt(tokenizer, movielens, "user: I loved Toy Story.")
    titles = ["Toy Story", "The Godfather: Part II", "Saw", "Dr. Strangelove or: How I Learned to Stop Worrying"]
    sums, counts = title_loglikelihoods(tokenizer, model, prompt, titles, separator, max_tokens=8)
    for title, total, count in zip(titles, sums, counts):
        sequence = (tokenizer(separator + title, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])[:8]
        with torch.inference_mode():
            logp = model(torch.tensor([prompt + sequence])).logits.log_softmax(-1)[0]
        reference = sum(float(logp[len(prompt) + j - 1, token]) for j, token in enumerate(sequence))
        assert count == len(sequence) and total == pytest.approx(reference, abs=1e-4)
    assert counts.max() == 8 and counts.min() < 8


def test_ranking_rules():
    sums, counts = np.array([-10.0, -4.0, -9.0]), np.array([10, 2, 3])
    assert LocalRanking(per_token=False).order(sums, counts).tolist() == [1, 2, 0]
    assert LocalRanking(per_token=True).order(sums, counts).tolist() == [0, 1, 2]  # means -1, -2, -3
    assert LocalRanking(per_token=False, retriever_weight=100).order(sums, counts).tolist() == [0, 1, 2]


def test_local_ranker_reorders_the_candidates_and_choice_reports_every_rule(movielens, tiny_lm):
    dialogues = generate_dialogues(movielens, 6, seed=1)
    retrievers = {"bm25": make_retriever("bm25"), "popularity": make_retriever("popularity")}
    scored = score_candidates(LocalRanker(tiny_lm), movielens, dialogues, retrievers, candidates=5)
    for result in scored.values():
        assert len(result.candidates) == 6 and all(len(ids) == 5 for ids in result.candidates)
        for ids, ranked in zip(result.candidates, result.ranked(LocalRanking())):
            assert sorted(ranked) == sorted(ids)
    rule, table = choose_local_ranking(scored["bm25"], dialogues, k=5)
    best = table[table["Hit@5"] == table["Hit@5"].max()]
    assert (
        len(table) == len(LOCAL_RANKINGS) and rule.retriever_weight == best.retriever_weight.max()
    )  # ties: closest to the retriever
    assert (rule.per_token, rule.retriever_weight) in set(zip(best.per_token, best.retriever_weight))
    hits = dialogue_hits(scored["bm25"].ranked(rule), dialogues, 5)
    assert hits.any(axis=1).mean() == table["Hit@5"].max()
    recommendation = LocalRanker(tiny_lm)(movielens, dialogues[0]["query"], scored["bm25"].candidates[0])
    assert recommendation.source == "llm" and sorted(recommendation.item_ids) == sorted(scored["bm25"].candidates[0])


def test_a_model_that_cannot_load_says_which_and_why(tmp_path):
    with pytest.raises(LLMError, match="does not exist"):
        resolve_causal_lm(str(tmp_path / "missing.gguf"))
    with pytest.raises(LLMError, match="cannot load language model"):
        load_causal_lm(str(tmp_path))


def test_chat_cli_ranks_with_the_local_model_and_falls_back_when_it_cannot(tiny_lm, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a heist movie\n/quit\n"))
    assert main(["chat", "--model", "bm25", "--catalog", "movielens", "-k", "2", "--local-llm", tiny_lm]) == 0
    shown = capsys.readouterr()
    assert "1. title:" in shown.out and "likeliest answer" in shown.out
    monkeypatch.setattr(sys, "stdin", io.StringIO("a heist movie\n/quit\n"))
    assert main(["chat", "--model", "bm25", "--catalog", "movielens", "--local-llm", str(tmp_path / "x.gguf")]) == 0
    shown = capsys.readouterr()
    assert "does not exist; recommending in the retriever's order" in shown.err and "1. title:" in shown.out


def test_evaluate_local_llm_pairs_each_retriever_with_its_llm_rows(movielens, tiny_lm):
    test, validation = generate_dialogues(movielens, 8, seed=0), generate_dialogues(movielens, 5, seed=1)
    retrievers = {"bm25": make_retriever("bm25"), "popularity": make_retriever("popularity")}
    result = evaluate_local_llm(LocalRanker(tiny_lm), movielens, test, validation, retrievers, ["bm25"], "bm25")
    assert set(result.table.model) == {"bm25", "popularity", "LLM + bm25"}
    overall = result.table[(result.table.turns == "all") & (result.table.k == 20)].set_index("model").hit
    assert overall["LLM + bm25"] == overall["bm25"], "re-ranking the top 20 cannot change Hit@20"
    intervals = result.intervals([("LLM + bm25", "bm25"), ("LLM + bm25", "popularity")])
    assert set(intervals.verdict) <= {"better", "within noise", "worse"} and len(intervals) == 2
    assert result.seconds_per_dialogue > 0 and len(result.validation) == len(LOCAL_RANKINGS)
    assert set(result.changed) == {"bm25"} and 0 <= result.changed["bm25"] <= 1
