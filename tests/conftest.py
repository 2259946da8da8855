"""Shared fixtures: the MovieLens catalog and one small generated data set (built once per run)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from itemlib.datasets import load_movielens
from itemlib.datasets.steam import default_steam_dir
from itemlib.generate import generate

SMALL = dict(per_task=150, test_per_task=60, negatives=7)


@pytest.fixture(scope="session")
def movielens():
    return load_movielens()


@pytest.fixture(scope="session")
def movielens_data(movielens, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("movielens")
    generate(movielens, out, seed=3, progress=False, **SMALL)
    return out


@pytest.fixture(scope="session")
def steam_dir() -> Path:
    directory = default_steam_dir()
    if not (directory / "steam_games.json.gz").exists():
        pytest.skip("Steam data not available (../shared/data/steam or $ITEMLIB_STEAM_DIR)")
    return directory


@pytest.fixture()
def chat_stub():
    """Start OpenAI-compatible stub endpoints on 127.0.0.1. ``start(reply)`` returns (base URL,
    list of received requests); ``reply(body)`` gives the message content, or an int HTTP status."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    servers = []

    def start(reply):
        received: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                answer = reply(body)
                if isinstance(answer, int):
                    self.send_response(answer)
                    self.end_headers()
                    return
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/v1", received

    yield start
    for server in servers:
        server.shutdown()
