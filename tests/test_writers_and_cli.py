"""The optional chat writer against a stub OpenAI-compatible server, and the CLI."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from itemlib.cli import main
from itemlib.sampling import request_clauses
from itemlib.writers import ChatWriter, OfflineWriter, WriterError


class StubChat(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubChat.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            return
        reply = {"choices": [{"message": {"role": "assistant", "content": "  rephrased:  " + body["messages"][-1]["content"][-80:] + " "}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub_url():
    server = HTTPServer(("127.0.0.1", 0), StubChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StubChat.requests.clear()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_chat_writer_calls_the_endpoint(stub_url, movielens):
    writer = ChatWriter(stub_url, "tiny", api_key="secret")
    rng = random.Random(0)
    clauses = request_clauses(movielens, movielens.item("2571"), rng)
    draft = OfflineWriter().request(movielens, clauses, random.Random(0))
    assert writer.request(movielens, clauses, rng).startswith("rephrased: ")
    history = [movielens.item(i) for i in movielens.histories["1"][:5]]
    assert writer.summary(movielens, history, rng).startswith("rephrased: ")
    sent = StubChat.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer secret"
    assert sent["body"]["model"] == "tiny"
    assert draft in sent["body"]["messages"][0]["content"]


def test_chat_writer_errors_are_clear(stub_url, monkeypatch):
    with pytest.raises(WriterError, match="failed"):
        ChatWriter(stub_url, "broken").complete("hi")
    with pytest.raises(WriterError, match="127.0.0.1:9"):
        ChatWriter("http://127.0.0.1:9/v1", "tiny", timeout=2).complete("hi")
    monkeypatch.delenv("ITEMLIB_LLM_URL", raising=False)
    with pytest.raises(WriterError, match="needs a URL"):
        ChatWriter(None, "tiny")


def test_cli_generate_with_llm_writer(stub_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ITEMLIB_LLM_URL", stub_url)
    monkeypatch.setenv("ITEMLIB_LLM_MODEL", "tiny")
    code = main(["generate", "--catalog", "movielens", "--out", str(tmp_path), "--per-task", "5",
                 "--test-per-task", "3", "--tasks", "AS2I", "US2I", "--writer", "llm", "--quiet"])
    assert code == 0
    queries = [json.loads(line)["query"] for line in (tmp_path / "train" / "AS2I.jsonl").read_text().splitlines()]
    assert queries and all("rephrased" in q for q in queries)
    assert "AS2I  train" in capsys.readouterr().out


def test_cli_generate_own_csv_and_errors(tmp_path, capsys):
    items = tmp_path / "items.csv"
    rows = [f"i{n},Gadget {n},{['red', 'blue', 'green'][n % 3]}|{['small', 'large'][n % 2]},{n * 3 + 1},{2000 + n % 20}-01-01" for n in range(60)]
    items.write_text("id,title,tags,price,released\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert main(["generate", "--catalog", str(items), "--out", str(out), "--per-task", "20", "--test-per-task", "5", "--quiet"]) == 0
    for task in ("FA2I", "SA2I", "AS2I", "NM2I", "VC2I", "NA2I"):
        assert (out / "train" / f"{task}.jsonl").read_text().strip(), task
    # no histories: behaviour tasks are empty, and say so in stats
    stats = json.loads((out / "stats.json").read_text())
    assert stats["tasks"]["UH2I"]["train_examples"] == 0

    items.write_text("id,title\n")
    assert main(["generate", "--catalog", str(items), "--out", str(out)]) == 2
    assert "items.csv: no records" in capsys.readouterr().err
