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
