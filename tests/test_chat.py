"""Dialogue generation, the Chat-Rec pipeline with a stub LLM endpoint and its fallback, and the
interactive loop driven from a script."""

from __future__ import annotations

import io
import sys

import pytest

from itemlib.chat import LLMRanker, chat_loop, evaluate_dialogues, generate_dialogues, recommend
from itemlib.cli import main
from itemlib.relevance import relevant_mask
from itemlib.retrieval import make_retriever
from itemlib.tasks import TASKS
from itemlib.templates import template_bank


def test_dialogues_are_deterministic_and_reveal_the_target(movielens):
    first = generate_dialogues(movielens, 60, seed=1)
    assert first == generate_dialogues(movielens, 60, seed=1)
    assert first != generate_dialogues(movielens, 60, seed=2)
    for dialogue in first:
        target = movielens.index[dialogue["pos_ids"][0]]
        assert dialogue["pos_ids"][0] == movielens.histories[dialogue["user"]][-1]
        assert 2 <= dialogue["user_turns"] <= 5
        assert dialogue["revealed"], dialogue["query"]
        assert relevant_mask(movielens, {"constraints": dialogue["revealed"]})[
            target
        ]  # what is said holds for the target
        assert "movie" in dialogue["query"]


def test_dialogues_reuse_no_training_phrasing(movielens):
    dialogues = generate_dialogues(movielens, 100, seed=0)
    fixed = set()
    for task in TASKS:
        for template in template_bank(task)["train"]:
            for part in template.split("{"):
                text = part.split("}")[-1].strip(" .,?!:;-")
                if len(text) >= 12:
                    fixed.add(text)
    for dialogue in dialogues:
        assert not [text for text in fixed if text in dialogue["query"]], dialogue["query"]


REPLIES = {
    "ok": '{"ranking": [2, 0], "explanation": "2 fits best"}',
    "garbage": "I cannot decide.",
    "error": 503,
}


@pytest.fixture()
def llm(chat_stub):
    """A stub whose answer is switched through the returned dict's "mode"."""
    state = {"mode": "ok"}
    url, _ = chat_stub(lambda body: REPLIES[state["mode"]])
    return url, state


@pytest.fixture(scope="module")
def bm25(movielens):
    retriever = make_retriever("bm25")
    retriever.index(movielens)
    return retriever


def test_llm_ranker_reorders_and_falls_back(movielens, bm25, llm):
    llm_url, state = llm
    plain = recommend(bm25, movielens, "User: a space adventure with robots")
    assert plain.source == "retriever" and len(plain.item_ids) == 20
    ranked = recommend(bm25, movielens, "User: a space adventure with robots", ranker=LLMRanker(llm_url, "stub"))
    assert ranked.source == "llm" and ranked.explanation == "2 fits best"
    assert ranked.item_ids[:2] == [plain.item_ids[2], plain.item_ids[0]] and sorted(ranked.item_ids) == sorted(
        plain.item_ids
    )
    for mode in ("error", "garbage"):
        state["mode"] = mode
        with pytest.warns(UserWarning, match="using the retriever's order"):
            fallback = recommend(
                bm25, movielens, "User: a space adventure with robots", ranker=LLMRanker(llm_url, "stub")
            )
        assert fallback.item_ids == plain.item_ids
    with pytest.warns(UserWarning):  # nothing listening: falls back too
        assert (
            recommend(bm25, movielens, "User: robots", ranker=LLMRanker("http://127.0.0.1:9", "stub", timeout=2)).source
            == "retriever"
        )


def test_chat_loop_from_a_script(movielens, bm25):
    script = io.StringIO("something like toy story please\n\n/reset\nMatrix\n/quit\nnever read\n")
    out = io.StringIO()
    chat_loop(bm25, movielens, script, out, shown=3)
    text = out.getvalue()
    assert "Toy Story" in text and "(conversation reset)" in text and "The Matrix" in text
    assert text.rstrip().endswith("bye") and "never read" not in text


def test_chat_cli_and_dialogue_evaluation(movielens, bm25, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a heist movie\n/quit\n"))
    assert main(["chat", "--model", "bm25", "--catalog", "movielens", "-k", "2"]) == 0
    assert "1. title:" in capsys.readouterr().out
    table = evaluate_dialogues(bm25, movielens, generate_dialogues(movielens, 40, seed=0))
    assert set(table.turns) >= {"all", "2"} and table.hit.between(0, 1).all()
    overall = table[table.turns == "all"].set_index("k").hit
    assert overall[5] <= overall[10] <= overall[20]
