"""The results page's tables and verdicts on small hand-made run records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from itemlib.study.claims import (
    gains_over_untuned,
    headline_rows,
    in_domain_claim,
    load_results,
    paired_intervals,
    recipe_sentence,
    role,
    verdict,
)
from itemlib.study.records import AblationRecord, EvaluationRecord, TrainingRecord, read_record


def evaluation(catalog: str, per_query: dict[str, dict[str, list[float]]]) -> EvaluationRecord:
    """A record whose headline values are the means of the given per-query values."""
    headline = {
        label: [
            {"task": task, "metric": "hit@5", "value": sum(v) / len(v), "queries": len(v)} for task, v in tasks.items()
        ]
        for label, tasks in per_query.items()
    }
    return EvaluationRecord(
        catalog=catalog,
        models={label: label for label in per_query},
        headline=headline,
        metrics={label: [] for label in per_query},
        per_query=per_query,
    )


CLEAR_GAIN = {"untuned": [0.0] * 20, "tuned-movielens": [1.0] * 20}
NOISE = {"untuned": [0.0, 1.0] * 10, "tuned-movielens": [1.0, 0.0] * 10}
LOSS = {"untuned": [1.0] * 20, "tuned-movielens": [0.0] * 20}


def records() -> dict[str, EvaluationRecord]:
    per_query = {label: {"UH2I": CLEAR_GAIN[label], "I2I": NOISE[label], "NM2I": LOSS[label]} for label in CLEAR_GAIN}
    return {"movielens": evaluation("movielens", per_query)}


def test_roles_and_verdicts():
    assert role("tuned-steam", "steam") == "in-domain" and role("tuned-steam", "movielens") == "out-of-domain"
    assert role("bm25", "steam") == "bm25"
    assert [verdict(0.01, 0.2), verdict(-0.1, 0.1), verdict(-0.3, -0.01)] == ["better", "within noise", "worse"]


def test_intervals_judge_each_task_by_its_paired_interval():
    intervals = paired_intervals(records()).set_index("task")
    assert intervals.verdict.to_dict() == {"UH2I": "better", "I2I": "within noise", "NM2I": "worse"}
    assert intervals.loc["UH2I", "difference"] == 1.0 and intervals.loc["I2I", "difference"] == 0.0
    assert intervals.loc["NM2I", "tuned − untuned [95% CI]"] == "-1.000 [-1.000, -1.000] worse"


def test_in_domain_claim_counts_direction_and_names_the_tasks_that_do_not_improve():
    evaluations = records()
    headline = pd.DataFrame(headline_rows(evaluations))
    claim = in_domain_claim("movielens", gains_over_untuned(headline), paired_intervals(evaluations))
    assert "Here it does on 1 of 3 tasks: this study agrees only in part." in claim
    assert "1 of these gains exceed query noise" in claim
    assert "does not beat the untuned one on I2I (within noise), NM2I (worse)." in claim


def test_recipe_sentence_counts_draws_per_task_with_oversampling():
    card = {
        "hyperparameters": {
            "max_steps": 10,
            "batch_size": 4,
            "gradient_accumulation": 1,
            "negatives": 3,
            "in_batch": "off",
            "resample_positives": ["VC2I"],
        },
        "data_stats": {"examples_per_task": {"UH2I": 10, "NM2I": 10}, "oversample": {"NM2I": 3}},
        "examples": 40,
    }
    sentence = recipe_sentence(card)
    assert (
        "each of its 1 other tasks is drawn about 10 times, NM2I about 30 times (its examples repeated 3-fold)"
        in sentence
    )
    assert "no in-batch negatives" in sentence and "The positives of VC2I are drawn from every item" in sentence


def test_load_results_reads_the_runs_records(tmp_path):
    def write(run: str, record) -> None:
        (tmp_path / run).mkdir()
        (tmp_path / run / "metrics.json").write_text(json.dumps(record.to_dict() | {"provenance": {"run": run}}))

    write("evaluate-movielens", records()["movielens"])
    card = {
        "hyperparameters": {
            "max_steps": 1,
            "batch_size": 1,
            "gradient_accumulation": 1,
            "negatives": 1,
            "in_batch": "filtered",
        },
        "data_stats": {"examples_per_task": {"UH2I": 1}},
        "examples": 1,
    }
    write("train-movielens", TrainingRecord(model="minilm", out_dir="m", card=card, loss=[{"step": 1, "loss": 2.0}]))
    rows = [
        {"variant": f"7 neg, in-batch {mode}", "task": "UH2I", "value": value}
        for mode, value in (("off", 0.2), ("on", 0.1))
    ]
    write("ablation", AblationRecord(catalog="movielens", steps=3, rows=rows))

    results = load_results(tmp_path, ["movielens"])
    assert list(results.gap_table.columns) == ["movielens"] and len(results.claims) == 2
    assert "in-batch off 0.200, on 0.100" in results.claims[1] and "in-batch mode `filtered`" in results.claims[1]
    assert read_record(tmp_path, "ablation", AblationRecord).provenance == {"run": "ablation"}
    assert read_record(tmp_path, "evaluate-steam", EvaluationRecord) is None
    with pytest.raises(FileNotFoundError, match="no complete evaluate run for steam"):
        load_results(tmp_path, ["movielens", "steam"])
    (tmp_path / "ablation" / "metrics.json").write_text(json.dumps({"catalog": "movielens"}))
    with pytest.raises(ValueError, match="AblationRecord: metrics.json lacks rows, steps"):
        read_record(tmp_path, "ablation", AblationRecord)
