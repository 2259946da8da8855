"""The results page's tables and verdicts on small hand-made run records."""

from __future__ import annotations

import json

import pytest

from itemlib.cards import TrainingCard
from itemlib.comparison import verdict
from itemlib.study.arms import Arm, reference_arms, tuned_arm
from itemlib.study.claims import (
    ablation_claim,
    ablation_intervals,
    below_catalog_rate,
    headline_sentence,
    in_domain_claim,
    load_results,
    paired_intervals,
    recipe_sentence,
    redial_claim,
    verdict_counts,
)
from itemlib.study.records import AblationRecord, DiagnosisRecord, EvaluationRecord, TrainingRecord, read_record

#: The arms of the hand-made records, by label.
ARMS = {
    arm.label: arm
    for arm in [*reference_arms("minilm", collaborative=True), tuned_arm("movielens", "m"), tuned_arm("steam", "s"),
                tuned_arm("steam", "s", prior=True), tuned_arm("steam", "s", collaborative=True)]
}  # fmt: skip


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
        arms=[ARMS[label].to_dict() for label in per_query],
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
    tuned = ARMS["tuned-steam"]
    assert tuned.role("steam") == "in-domain" and tuned.role("movielens") == "out-of-domain"
    assert ARMS["bm25"].role("steam") == "bm25" and ARMS["tuned-steam+popularity"].role("steam") == "tuned+popularity"
    blend = ARMS["tuned-steam+popularity+cf"]
    assert blend.role("steam") == "tuned+popularity+cf" and blend.model == "s+popularity+cf" and blend.prior
    assert Arm.from_dict(tuned.to_dict()) == tuned
    assert [verdict(0.01, 0.2), verdict(-0.1, 0.1), verdict(-0.3, -0.01)] == ["better", "within noise", "worse"]


def test_intervals_judge_each_task_by_its_paired_interval():
    intervals = paired_intervals(records()).set_index("task")
    assert intervals.verdict.to_dict() == {"UH2I": "better", "I2I": "within noise", "NM2I": "worse"}
    assert intervals.loc["UH2I", "difference"] == 1.0 and intervals.loc["I2I", "difference"] == 0.0
    assert intervals.loc["NM2I", "tuned − reference [95% CI]"] == "-1.000 [-1.000, -1.000] worse"
    assert set(intervals.reference) == {"untuned"}  # references missing from a record are left out


def test_in_domain_claim_counts_only_gains_beyond_noise_and_names_the_rest():
    claim = in_domain_claim("movielens", paired_intervals(records()))
    assert "Here it is better beyond noise on 1 of 3 tasks: this study agrees only in part." in claim
    assert claim.endswith("Within noise: I2I +0.000 [-0.500, +0.500]. Worse: NM2I -1.000 [-1.000, -1.000].")


def test_every_reference_is_judged_and_the_tasks_a_baseline_wins_are_named():
    per_query = {
        "tuned-movielens": {"UH2I": [0.0] * 20, "VC2I": [1.0] * 20},
        "untuned": {"UH2I": [0.0] * 20, "VC2I": [0.0] * 20},
        "popularity": {"UH2I": [1.0] * 20, "VC2I": [0.0] * 20},  # wins the behaviour task
        "random": {"UH2I": [0.0] * 20, "VC2I": [1.0, 0.0] * 10},
    }
    intervals = paired_intervals({"movielens": evaluation("movielens", per_query)})
    counts = verdict_counts(intervals).set_index("reference")
    assert list(counts.index) == ["untuned", "popularity", "random"]  # no bm25 in this record
    assert counts.loc["popularity", ["better", "within noise", "worse"]].tolist() == [1, 0, 1]
    assert (
        counts.loc["popularity", "reference wins on"] == "UH2I" and counts.loc["untuned", "reference wins on"] == "none"
    )
    sentence = headline_sentence(verdict_counts(intervals))
    assert "**movielens**: untuned 1/2; popularity 1/2 (popularity wins on UH2I); random 1/2." in sentence


def test_ablation_claim_judges_each_arm_against_the_base_recipe_and_names_every_task_beyond_noise():
    per_query = {"untuned": {"UH2I": [0.0] * 20, "NM2I": [0.0] * 20},
                 "0 neg, in-batch filtered": {"UH2I": [1.0] * 20, "NM2I": [1.0] * 20},
                 "0 neg, in-batch on": {"UH2I": [0.0] * 20, "NM2I": [1.0, 0.0] * 10},
                 "3 neg, in-batch filtered": {"UH2I": [1.0] * 20, "NM2I": [1.0] * 20}}  # fmt: skip
    rows = [{"variant": f"{k} neg, in-batch {mode}", "negatives": k, "in_batch": mode, "task": "UH2I", "value": 0.0}
            for k, mode in ((0, "filtered"), (0, "on"), (3, "filtered"))]  # fmt: skip
    record = AblationRecord(catalog="movielens", steps=120, rows=rows, per_query=per_query,
                            baseline="0 neg, in-batch filtered")  # fmt: skip
    claim = ablation_claim(record)
    assert claim.startswith("**Ablation (movielens, 120 steps per arm, each arm against *0 neg, in-batch filtered*")
    assert "*0 neg, in-batch on* is better beyond noise on 0 of 2 tasks (none) and worse on 2 (UH2I -1.000" in claim
    assert "*3 neg, in-batch filtered* is better beyond noise on 0 of 2 tasks (none) and worse on 0 (none)" in claim
    assert "against in-batch mode `filtered`, this ablation agrees" in claim
    intervals = ablation_intervals(record)
    assert set(intervals.variant) == {"0 neg, in-batch on", "3 neg, in-batch filtered"}  # neither untuned nor the base
    assert ablation_claim(AblationRecord(catalog="movielens", steps=60, rows=[])) is None


def test_below_catalog_rate_names_the_conditions_where_the_tuned_model_does_worse_than_chance():
    rows = [{"catalog": "movielens", "field": "year", "op": "gt", "model": "tuned-movielens", "role": "in-domain",
             "satisfied": 0.4, "catalog rate": 0.55, "conditions": 12},
            {"catalog": "movielens", "field": "year", "op": "lt", "model": "tuned-movielens", "role": "in-domain",
             "satisfied": 0.7, "catalog rate": 0.3, "conditions": 10},
            {"catalog": "movielens", "field": "year", "op": "gt", "model": "untuned", "role": "untuned",
             "satisfied": 0.1, "catalog rate": 0.55, "conditions": 12}]  # fmt: skip
    sentence = below_catalog_rate(DiagnosisRecord(conditions=[], conditions_by_field=rows, popular_share=[]))
    assert (
        "movielens year after / above (0.40 of its top five against a catalog rate of 0.55, 12 conditions)" in sentence
    )
    assert "before" not in sentence


def training_card(values: dict) -> TrainingCard:
    """A card of ``values`` with the fields the claims do not read filled in."""
    filler = {"base_model": "minilm", "data": "d", "train_loss": 1.0, "commit": None, "fingerprint": "f"}
    return TrainingCard(**filler | values)


def test_recipe_sentence_counts_draws_per_task_with_oversampling():
    card = {
        "hyperparameters": {
            "max_steps": 10,
            "batch_size": 4,
            "validation_share": 0.1,
            "gradient_accumulation": 1,
            "negatives": 3,
            "in_batch": "off",
            "resample_positives": ["VC2I"],
        },
        "data_stats": {"examples_per_task": {"UH2I": 10, "NM2I": 10}, "oversample": {"NM2I": 3}},
        "examples": 40,
        "global_step": 10,
        "epoch": 1.0,
    }
    sentence = recipe_sentence(training_card(card))
    assert "takes 10 steps of 4 examples (1.00 epochs of its 40 training examples) with 3 verified" in sentence
    assert (
        "so it draws about 10 examples of each of its 1 other tasks and about 30 of NM2I (its examples repeated 3-fold)"
        in sentence
    )
    assert "The last 10% of each task's examples are held out" in sentence
    assert "no in-batch negatives" in sentence and "The positives of VC2I are drawn from every item" in sentence
    epoch = recipe_sentence(
        training_card(card | {"hyperparameters": card["hyperparameters"] | {"negatives": 0, "max_steps": -1}})
    )
    assert "with no verified negatives and no in-batch negatives" in epoch and "-1" not in epoch


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
        "global_step": 1,
        "epoch": 1.0,
    }
    card = training_card(card).to_dict()
    write("train-movielens", TrainingRecord(model="minilm", out_dir="m", card=card, loss=[{"step": 1, "loss": 2.0}]))
    rows = [
        {"variant": f"7 neg, in-batch {mode}", "negatives": 7, "in_batch": mode, "task": "UH2I", "value": value}
        for mode, value in (("off", 0.2), ("on", 0.1))
    ]
    write("ablation", AblationRecord(catalog="movielens", steps=3, rows=rows))

    results = load_results(tmp_path, ["movielens"])
    assert list(results.gap_table().columns) == [("movielens", "untuned")] and len(results.claims) == 1
    assert results.other_roles_view("movielens").empty  # this record has no out-of-domain model and no prior
    view = results.headline_view("movielens").data
    assert view.index[0] == "untuned" and view.columns.names == ["metric", "task"]
    assert results.diagnosis is None and "better beyond noise" in results.headline_sentence
    assert read_record(tmp_path, "ablation", AblationRecord).provenance == {"run": "ablation"}
    assert read_record(tmp_path, "evaluate-steam", EvaluationRecord) is None
    with pytest.raises(FileNotFoundError, match="no complete evaluate run for steam"):
        load_results(tmp_path, ["movielens", "steam"])
    (tmp_path / "ablation" / "metrics.json").write_text(json.dumps({"catalog": "movielens"}))
    with pytest.raises(ValueError, match="AblationRecord: metrics.json lacks rows, steps"):
        read_record(tmp_path, "ablation", AblationRecord)


def test_hybrid_claim_names_the_tasks_where_the_prior_beats_both_popularity_and_the_tuned_model():
    from itemlib.study.claims import hybrid_claim

    per_query = {
        "tuned-steam": {"UH2I": [0.0] * 20, "FA2I": [1.0] * 20},
        "popularity": {"UH2I": [0.0, 1.0] * 10, "FA2I": [0.0] * 20},
        "tuned-steam+popularity": {"UH2I": [1.0] * 20, "FA2I": [0.5] * 20},
    }
    evaluations = {"steam": evaluation("steam", per_query)}
    claim = hybrid_claim(evaluations, paired_intervals(evaluations))
    assert "on steam it is better beyond noise than both on 1 of 2 tasks (UH2I)" in claim
    assert (
        "its mean difference on the 1 tasks that are not about behaviour (FA2I) is -0.500, worse beyond noise on "
        "FA2I -0.500 [-0.500, -0.500]" in claim
    )
    assert hybrid_claim(records(), paired_intervals(records())) is None  # no hybrid in the record


def test_behaviour_claim_sets_the_tuned_model_against_the_best_recommender():
    from itemlib.study.claims import behaviour_claim, behaviour_table

    per_query = {
        "untuned": {"UH2I": [0.0] * 20, "I2I": [0.0] * 20, "FA2I": [0.0] * 20},
        "popularity": {"UH2I": [1.0] * 20, "I2I": [0.0] * 20, "FA2I": [0.0] * 20},
        "als": {"UH2I": [0.0, 1.0] * 10, "I2I": [0.0, 1.0] * 10},  # answers behaviour tasks only
        "tuned-steam": {"UH2I": [0.0, 1.0] * 10, "I2I": [1.0] * 20, "FA2I": [1.0] * 20},
        "tuned-steam+popularity": {"UH2I": [0.0, 1.0] * 10, "I2I": [1.0] * 20, "FA2I": [1.0] * 20},
    }
    evaluations = {"steam": evaluation("steam", per_query)}
    evaluations["steam"].concentration = {"UH2I": 0.6, "I2I": 0.1}
    table = behaviour_table(evaluations, paired_intervals(evaluations)).set_index(["task", "retriever"])
    assert list(table.index.get_level_values("task").unique()) == ["UH2I", "I2I"]  # FA2I is no behaviour task
    assert table.loc[("UH2I", "tuned+popularity"), "best reference"] == "popularity (1.000)"
    assert table.loc[("I2I", "in-domain"), "best reference"] == "als (0.500)"
    assert table.loc[("UH2I", "tuned+popularity"), "verdict"] == "worse"
    assert table.loc[("I2I", "tuned+popularity"), "answers among top 50"] == 0.1
    claim = behaviour_claim(behaviour_table(evaluations, paired_intervals(evaluations)))
    assert "not worse beyond noise than the best of popularity, item-kNN and ALS on 1 of 2 behaviour tasks" in claim
    assert "Worse beyond noise than that reference: UH2I on steam (popularity (1.000): -0.500 [" in claim
    assert claim.startswith("**Behaviour tasks against a recommender.** The tuned model with its popularity prior is")
    per_query["tuned-steam+popularity+cf"] = {"UH2I": [1.0] * 20, "I2I": [1.0] * 20, "FA2I": [1.0] * 20}
    evaluations = {"steam": evaluation("steam", per_query)}
    table = behaviour_table(evaluations, paired_intervals(evaluations))
    claim = behaviour_claim(table, {"steam": True})  # judged on the blend: it met its validation criterion
    assert "prior and collaborative filtering over the items a request names is better than untuned" in claim
    assert "on 2 of 2 behaviour tasks." in claim and "Worse beyond noise" not in claim
    declined = behaviour_claim(table, {"steam": False})  # it did not: judged on tuned+popularity, the blend named
    assert "on 1 of 2 behaviour tasks." in declined and "did not meet its validation criterion on steam" in declined


def test_out_of_domain_claim_is_judged_per_task_by_intervals_and_names_every_loss():
    from itemlib.study.claims import out_of_domain_claim

    per_query = {
        "untuned": {"UH2I": [0.0] * 20, "I2I": [1.0] * 20, "FA2I": [0.0] * 20, "NA2I": [0.0] * 20},
        "tuned-steam": {"UH2I": [0.0, 1.0] * 10, "I2I": [0.0] * 20, "FA2I": [1.0] * 20, "NA2I": [1.0] * 20},
    }
    claim = out_of_domain_claim(paired_intervals({"movielens": evaluation("movielens", per_query)}))
    assert "beyond noise on 1 of 2 behaviour tasks and on 2 of 2 others (test set movielens)" in claim
    assert "this study agrees. Worse than untuned beyond noise: I2I on movielens -1.000 [-1.000, -1.000]." in claim


def test_general_model_claim_counts_the_tuned_model_s_verdicts_against_a_larger_untuned_encoder(monkeypatch):
    from itemlib.study.arms import general_arm
    from itemlib.study.claims import general_model_claim

    monkeypatch.setitem(ARMS, "untuned-mpnet", general_arm("mpnet"))
    per_query = {
        "untuned": {"UH2I": [0.0] * 20, "NM2I": [0.0] * 20},
        "untuned-mpnet": {"UH2I": [0.0] * 20, "NM2I": [1.0] * 20},
        "tuned-movielens": {"UH2I": [1.0] * 20, "NM2I": [0.0] * 20},
    }
    evaluations = {"movielens": evaluation("movielens", per_query)}
    intervals = paired_intervals(evaluations)
    assert list(dict.fromkeys(intervals.reference)) == ["untuned", "untuned-mpnet"]
    claim = general_model_claim(evaluations, intervals)
    assert (
        "on movielens, better than untuned-mpnet beyond noise on 1 of 2 tasks, within noise on 0, worse on 1 "
        "(NM2I)" in claim
    )
    assert general_model_claim(records(), paired_intervals(records())) is None


def test_verdicts_are_counted_before_and_after_holm_s_correction():
    from itemlib.comparison import holm

    assert holm([0.01, 0.04, 0.03, 0.5]).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    slight = [1.0] * 6 + [0.0] * 14  # 6 of 20 queries better: beyond noise alone, not once corrected
    per_query = {"untuned": {t: [0.0] * 20 for t in ("UH2I", "I2I", "FA2I")},
                 "tuned-movielens": {"UH2I": [1.0] * 20, "I2I": slight, "FA2I": slight}}  # fmt: skip
    intervals = paired_intervals({"movielens": evaluation("movielens", per_query)}).set_index("task")
    assert intervals.loc["I2I", "verdict"] == "better" and intervals.loc["I2I", "verdict (Holm)"] == "within noise"
    assert intervals.loc["UH2I", "verdict (Holm)"] == "better"
    counts = verdict_counts(intervals.reset_index()).iloc[0]
    assert (counts.better, counts["better (Holm)"], counts["worse (Holm)"]) == (3, 1, 0)


def test_redial_claim_judges_each_tuned_model_against_untuned_and_the_best_other_reference():
    arms = [*reference_arms("minilm", collaborative=True)[:3], tuned_arm("movielens", "m"), tuned_arm("steam", "s")]
    per_case = {"untuned": [0.0] * 30, "bm25": [0.0] * 30, "popularity": [1.0, 0.0] * 15,
                "tuned-movielens": [1.0] * 30, "tuned-steam": [0.0, 0.0, 1.0] * 10}  # fmt: skip
    redial = {"split": "valid", "arms": [arm.to_dict() for arm in arms],
              "per_case": {label: {"hit@50": values} for label, values in per_case.items()}}  # fmt: skip
    claim = redial_claim(redial)
    assert claim.startswith("**Requests people wrote (ReDial, 30 recommendation turns of its valid dialogues")
    assert "Untuned 0.000, the best other reference popularity 0.500" in claim
    assert "tuned-movielens (in-domain, 1.000) is better than untuned (+1.000 [+1.000, +1.000])" in claim
    assert "and better than popularity (+0.500" in claim
    assert "tuned-steam (out-of-domain, 0.333) is better than untuned" in claim and "popularity (-0.167" in claim
    assert redial_claim({"arms": [], "per_case": {}}) is None
