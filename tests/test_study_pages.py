"""The Chat-Rec and diagnosis pages' sentences, computed in the package, on small hand-made tables."""

from __future__ import annotations

import pandas as pd

from itemlib.study.arms import reference_arms, tuned_arm
from itemlib.study.chatrec import ChatRec, llm_comparisons
from itemlib.study.diagnosis import Diagnosis

ARMS = {"movielens": [*reference_arms("minilm")[:2], tuned_arm("movielens", "m")], "steam": reference_arms("minilm")}


def by_turns(hits: dict[tuple[str, str], float]) -> pd.DataFrame:
    return pd.DataFrame([{"turns": "all", "k": 5, "hit": hit, "dialogues": 40, "catalog": catalog, "model": model}
                         for (catalog, model), hit in hits.items()])  # fmt: skip


def test_chat_rec_names_the_tuned_retriever_against_every_other_arm():
    table = by_turns({("movielens", "untuned"): 0.1, ("movielens", "bm25"): 0.05, ("movielens", "tuned-movielens"): 0.3,
                      ("steam", "untuned"): 0.2})  # fmt: skip
    chat = ChatRec(ARMS, table, examples=[])
    assert chat.retrieval_lines() == [
        "- **movielens** (40 dialogues): Hit@5 of the tuned model 0.300 against untuned 0.100, bm25 0.050.",
        "- **steam** (40 dialogues): Hit@5 untuned 0.200.",  # no tuned arm on this catalog
    ]
    assert chat.overall.loc[("movielens", "tuned-movielens"), "Hit@5"] == 0.3
    assert chat.metrics()["llm"]["intervals"] == [] and chat.llm_lines() == []


def test_the_llm_table_lists_retrievers_before_their_re_ranked_runs_on_every_catalog():
    run_order = [("steam", "untuned"), ("steam", "LLM + untuned"), ("steam", "tuned-steam"),
                 ("steam", "LLM + tuned-steam"), ("movielens", "untuned"), ("movielens", "LLM + untuned")]  # fmt: skip
    chat = ChatRec(ARMS, by_turns({}), [], llm_by_turns=by_turns(dict.fromkeys(run_order, 0.1)))
    assert chat.llm_overall.index.tolist() == [
        ("steam", "untuned"), ("steam", "tuned-steam"), ("steam", "LLM + untuned"), ("steam", "LLM + tuned-steam"),
        ("movielens", "untuned"), ("movielens", "LLM + untuned")]  # fmt: skip


def test_claim_d_comes_first_with_its_interval_and_the_other_comparisons_follow():
    pairs = llm_comparisons("tuned-steam")
    assert pairs[0] == ("LLM + tuned-steam", "LLM + untuned") and ("tuned-steam", "untuned") in pairs
    intervals = pd.DataFrame(
        [{"comparison": f"{a} − {b}", "difference": d, "low": d - 0.05, "high": d + 0.05, "verdict": v,
          "catalog": "steam"}
         for (a, b), d, v in zip(pairs[:2], (0.17, 0.0), ("better", "within noise"))]
    )  # fmt: skip
    reranked = [{"catalog": "steam", "retriever": label, "retriever weight": 4.0, "top 5 changed": share}
                for label, share in (("untuned", 0.03), ("tuned-steam", 0.1))]  # fmt: skip
    chat = ChatRec(ARMS, by_turns({("steam", "untuned"): 0.2}), [], intervals=intervals, reranked=reranked)
    assert chat.llm_lines() == [
        "- **steam**: LLM + tuned-steam − LLM + untuned on Hit@5 is +0.170 [+0.120, +0.220], **better**; "
        "LLM + tuned-steam − tuned-steam +0.000 [-0.050, +0.050] (within noise). Share of test dialogues whose "
        "top 5 the language model changed, by the retriever it re-ranked: untuned 3%, tuned-steam 10% "
        "(chosen retriever weight 4)."
    ]


def test_diagnosis_lines_name_where_the_in_domain_model_errs_most():
    rows = [{"catalog": "movielens", "model": model, "role": role, "field": field, "op": "after / above",
             "satisfied": satisfied, "on the boundary": boundary, "missing field": 0.0, "catalog rate": 0.5}
            for model, role, field, satisfied, boundary in (
                ("untuned", "untuned", "year", 0.4, 0.1), ("tuned-movielens", "in-domain", "year", 0.6, 0.3),
                ("tuned-movielens", "in-domain", "runtime", 0.9, 0.0))]  # fmt: skip
    shared = [{"catalog": "movielens", "model": model, "sharing a genre or tag with the source": share}
              for model, share in (("untuned", 0.7), ("tuned-movielens", 0.9), ("the test answers", 0.55))]  # fmt: skip
    diagnosis = Diagnosis({"movielens": None}, ARMS, {}, pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame(shared))
    assert diagnosis.i2i_lines() == [
        "- **movielens**: 90% of the tuned model's I2I top five share a genre or tag with the source item (70% for "
        "the untuned one), against 55% of the test answers."
    ]
    lines = diagnosis.lines()
    assert lines[0].startswith("- **movielens, untuned**: 0.400 of the retrieved items satisfy")
    assert lines[-1] == (
        "- **movielens, where the tuned model errs most**: on its 1 **year** conditions, 0.300 of its top five "
        "sit on the year the query names and 0.600 satisfy the condition."
    )
    assert [arm.label for arm in diagnosis.mapped_arms("movielens")] == ["untuned", "tuned-movielens"]
    assert (
        diagnosis.share_table("movielens", "satisfied").columns.tolist()
        == ["tuned-movielens", "untuned", "catalog rate"]
        or "catalog rate" in diagnosis.share_table("movielens", "satisfied").columns
    )


def test_the_ablation_records_each_arms_settings_and_its_baseline_so_the_claim_reads_them(
    tmp_path, movielens, movielens_data
):
    from itemlib.study.ablation import run_ablation
    from itemlib.study.claims import ablation_claim
    from itemlib.train_config import TrainConfig

    from .tiny_models import tiny_bert

    base = TrainConfig(model=tiny_bert(tmp_path / "bert"), max_steps=1, batch_size=4, negatives=2, progress=False,
                       max_per_task=8, in_batch="filtered")  # fmt: skip
    record = run_ablation(movielens, movielens_data, tmp_path / "arms", base, [{}, {"in_batch": "on"}])
    on = record.arm("on")
    assert on["negatives"] == 2 and on["variant"] == "2 neg, in-batch on"  # the variant named only in_batch
    assert record.baseline == "2 neg, in-batch filtered"  # the empty variant: the base recipe's own arm
    assert "1 steps per arm, each arm against *2 neg, in-batch filtered*" in ablation_claim(record)
