"""The optional chat writer against a stub OpenAI-compatible server, and the CLI."""

from __future__ import annotations

import json
import random

import pytest

from itemlib.cli import main
from itemlib.llm import ChatClient, LLMError
from itemlib.sampling import request_clauses
from itemlib.writers import ChatWriter, OfflineWriter


def rephrase(body):
    return "  rephrased:  " + body["messages"][-1]["content"][-80:] + " "


@pytest.fixture()
def stub(chat_stub):
    """A stub that rephrases, and fails with HTTP 500 for the model named "broken"."""
    return chat_stub(lambda body: 500 if body["model"] == "broken" else rephrase(body))


def test_chat_writer_calls_the_endpoint(stub, movielens):
    stub_url, received = stub
    writer = ChatWriter(stub_url, "tiny", api_key="secret")
    rng = random.Random(0)
    clauses = request_clauses(movielens, movielens.item("2571"), rng)
    draft = OfflineWriter().request(movielens, clauses, random.Random(0))
    assert writer.request(movielens, clauses, rng).startswith("rephrased: ")
    history = [movielens.item(i) for i in movielens.histories["1"][:5]]
    assert writer.summary(movielens, history, rng).startswith("rephrased: ")
    sent = received[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer secret"
    assert sent["body"]["model"] == "tiny"
    assert draft in sent["body"]["messages"][0]["content"]


def test_chat_client_errors_are_clear(stub, monkeypatch):
    stub_url, _ = stub
    with pytest.raises(LLMError, match="failed"):
        ChatClient(stub_url, "broken").complete("hi")
    with pytest.raises(LLMError, match="127.0.0.1:9"):
        ChatClient("http://127.0.0.1:9/v1", "tiny", timeout=2).complete("hi")
    monkeypatch.delenv("ITEMLIB_LLM_URL", raising=False)
    with pytest.raises(LLMError, match="needs a URL"):
        ChatWriter(None, "tiny")


def test_cli_generate_with_llm_writer(stub, tmp_path, monkeypatch, capsys):
    stub_url, _ = stub
    monkeypatch.setenv("ITEMLIB_LLM_URL", stub_url)
    monkeypatch.setenv("ITEMLIB_LLM_MODEL", "tiny")
    code = main(
        [
            "generate",
            "--catalog",
            "movielens",
            "--out",
            str(tmp_path),
            "--per-task",
            "5",
            "--test-per-task",
            "3",
            "--tasks",
            "AS2I",
            "US2I",
            "--writer",
            "llm",
            "--quiet",
        ]
    )
    assert code == 0
    queries = [json.loads(line)["query"] for line in (tmp_path / "train" / "AS2I.jsonl").read_text().splitlines()]
    assert queries and all("rephrased" in q for q in queries)
    assert "AS2I  train" in capsys.readouterr().out


def test_cli_generate_own_csv_and_errors(tmp_path, capsys):
    items = tmp_path / "items.csv"
    rows = [
        f"i{n},Gadget {n},{['red', 'blue', 'green'][n % 3]}|{['small', 'large'][n % 2]},"
        f"{n * 3 + 1},{2000 + n % 20}-01-01"
        for n in range(60)
    ]
    items.write_text("id,title,tags,price,released\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert (
        main(
            [
                "generate",
                "--catalog",
                str(items),
                "--out",
                str(out),
                "--per-task",
                "20",
                "--test-per-task",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    for task in ("FA2I", "SA2I", "AS2I", "NM2I", "VC2I", "NA2I"):
        assert (out / "train" / f"{task}.jsonl").read_text().strip(), task
    # no histories: behaviour tasks are empty, and say so in stats
    stats = json.loads((out / "stats.json").read_text())
    assert stats["tasks"]["UH2I"]["train_examples"] == 0

    items.write_text("id,title\n")
    assert main(["generate", "--catalog", str(items), "--out", str(out)]) == 2
    assert "items.csv: no records" in capsys.readouterr().err
