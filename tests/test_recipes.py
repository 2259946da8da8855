"""Recipe validation is part of the study: ``itemlib compare-recipe`` trains a candidate beside a
profile's recipe and judges it on a validation split, task by task, against the stated criterion."""

from __future__ import annotations

from dataclasses import replace

import pytest

from itemlib.cli import main
from itemlib.study.profiles import PROFILES
from itemlib.study.recipes import NOT_WORSE_NEEDED, compare_recipes
from itemlib.train_config import TrainConfig
from itemlib.validation import ValidationConfig

from .tiny_models import tiny_bert


@pytest.fixture
def profile(tmp_path, movielens_data):
    recipe = TrainConfig(model=tiny_bert(tmp_path / "bert"), max_steps=2, batch_size=4, negatives=1, progress=False)
    ablation = replace(PROFILES["smoke"].ablation, with_recipe=False)
    profile = replace(PROFILES["smoke"], name="tiny", max_items=None, training=recipe, ablation=ablation)
    (tmp_path / "work" / "tiny" / "data").mkdir(parents=True)
    (tmp_path / "work" / "tiny" / "data" / "movielens").symlink_to(movielens_data)
    return profile


def test_a_candidate_is_judged_per_task_on_examples_neither_run_drew(tmp_path, profile):
    comparison = compare_recipes(profile, "movielens", "hot", {"temperature": 0.5}, ValidationConfig(per_task=20),
                                 root=tmp_path / "work", log=lambda *_: None)  # fmt: skip
    table = comparison.table
    assert set(table.columns) >= {"task", "queries", "untuned", "published", "hot", "difference", "low", "high"}
    assert len(table) == 10 and (table.queries > 0).all()
    assert set(table.verdict) <= {"better", "within noise", "worse"}
    assert comparison.meets_criterion == (comparison.not_worse >= NOT_WORSE_NEEDED)
    assert (tmp_path / "work" / "recipes" / "tiny" / "movielens" / "hot" / "itemlib_training.json").exists()
    pooled = comparison.pooled(["UH2I", "I2I"])  # the queries of several tasks, paired across the two models
    queries = table.set_index("task").queries
    both = table.set_index("task").loc[["UH2I", "I2I"]]
    expected = (both.hot * queries[["UH2I", "I2I"]]).sum() - (both.published * queries[["UH2I", "I2I"]]).sum()
    assert pooled["difference"] == pytest.approx(expected / queries[["UH2I", "I2I"]].sum())


def test_the_command_needs_a_change_and_generated_data(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare-recipe", "--catalog", "movielens", "--name", "same"]) == 2
    assert "name at least one training option" in capsys.readouterr().err
    assert main(["compare-recipe", "--catalog", "movielens", "--name", "b", "--negatives", "0"]) == 2
    assert "no generated data; run `itemlib study --profile cpu --only generate-movielens`" in capsys.readouterr().err
