"""One table style for the whole book: numbers without exponents or NaN, integers as integers, and a
check of the built pages that fails on a table wider than the page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from itemlib.study.book import PAGE_PX, table_problems
from itemlib.study.records import EvaluationRecord
from itemlib.study.tables import number, styled


def test_numbers_are_written_without_exponents_and_counts_as_counts():
    assert number(0.0003) == "<0.001" and number(-0.0002) == ">-0.001"
    assert number(0.1234) == "0.123" and number(0.0) == "0.000"
    assert number(np.int64(3)) == "3" and number(18606.0) == "18,606"
    assert number(float("nan")) == "–"


def test_styled_tables_show_a_dash_for_missing_cells_and_escape_text():
    frame = pd.DataFrame({"model": ["<b>x</b>", "y"], "value": [np.nan, 4e-4], "count": [3, 12]})
    html = styled(frame).to_html()
    assert "NaN" not in html and "e-04" not in html and "&lt;b&gt;" in html and "<b>x" not in html
    assert "–" in html and "<0.001" in html.replace("&lt;", "<")


def test_a_chosen_weight_under_its_scores_is_written_exactly_not_to_three_decimals():
    from itemlib.study.records import TrainingRecord

    choice = {"weights": {"item": 0.0625, "history": 0.0},
              "scores": {"item": {"0.0": 0.25104, "0.0625": 0.31871}, "history": {"0.0": 0.2026, "0.0625": 0.1763}},
              "kinds": {"I2I": {"item": 1.0}}}  # fmt: skip
    scores, _ = TrainingRecord("m", "out", {}, [], popularity_weight=choice).weight_tables()
    html = styled(scores).to_html()
    assert ">0.0625</td>" in html and ">0.319</td>" in html  # the setting exact, the scores to three decimals
    blend = {"reference": dict.fromkeys(["history", "item", "request", "description"], "itemknn"),
             "weights": {"history": 0.0, "item": 0.0625, "request": 0.0, "description": 0.0},
             "references": {"itemknn": {"scores": {"item": {"0.0": 0.2, "0.0625": 0.31871}}}}}  # fmt: skip
    html = styled(TrainingRecord("m", "out", {}, [], blend=blend).blend_table()).to_html()
    assert ">0.0625</td>" in html and ">0.319</td>" in html and ">0.062</td>" not in html


def page(tmp_path, table: str):
    path = tmp_path / "page.html"
    path.write_text(f"<html><body><article>{table}</article></body></html>")
    return path


def test_the_book_check_finds_wide_tables_nan_and_exponents(tmp_path):
    narrow = pd.DataFrame({"task": ["UH2I"], "untuned": [0.1], "tuned": [0.2]}).to_html()
    assert table_problems(page(tmp_path, narrow)) == []
    wide = pd.DataFrame({f"tuned_model_number_{i}": [0.123] for i in range(12)}).to_html()
    [problem] = table_problems(page(tmp_path, wide))
    assert "px wide" in problem and f"the page {PAGE_PX} px" in problem
    raw = "<table><tr><th>a</th><th>b</th></tr><tr><td>NaN</td><td>4.0e-04</td></tr></table>"
    problems = table_problems(page(tmp_path, raw))
    assert any("NaN" in p for p in problems) and any("'4.0e-04'" in p for p in problems)
    assert table_problems(page(tmp_path, styled(pd.DataFrame({"a": [np.nan], "b": [4e-4]})).to_html())) == []
    weights = pd.DataFrame({"hit@5": [0.1, 0.2, 0.3]}, index=pd.Index([0.0, 0.0625, 32.0], name="weight"))
    for raw, padded in ((weights.to_html(), "'32.0000'"), (weights.style.to_html(), "'32.000000'")):
        assert any(padded in problem for problem in table_problems(page(tmp_path, raw)))  # pandas' float labels
    shown = styled(weights).to_html()
    assert table_problems(page(tmp_path, shown)) == [] and ">0.0625<" in shown and ">32<" in shown


def test_the_evaluate_page_shows_models_as_rows_so_that_many_models_fit():
    headline = {label: [{"task": "UH2I", "metric": "hit@5", "value": v, "base_rate": 1e-4, "ceiling": 1.0},
                        {"task": "FA2I", "metric": "coverage@5", "value": v / 2, "base_rate": 0.1, "ceiling": 0.4}]
                for label, v in (("untuned", 0.1), ("tuned-movielens", 0.3))}  # fmt: skip
    metrics = {label: [{"task": "FA2I", "metric": name, "k": 5, "value": 0.2, "queries": n}
                       for name, n in (("title named", 30), ("title not named", 20), ("hit", 50),
                                       ("ceiling, title named", 30), ("ceiling, title not named", 20))]
               for label in headline}  # fmt: skip
    record = EvaluationRecord("movielens", [], headline, metrics, per_query={"untuned": {"UH2I": [0.0, 1.0]}})
    view = record.headline_view()
    assert list(view.index) == ["base rate", "ceiling", "untuned", "tuned-movielens"]
    assert list(view.columns) == [("hit@5", "UH2I"), ("coverage@5", "FA2I")]
    split = record.title_split()
    assert list(split.index) == ["ceiling", "untuned", "tuned-movielens"]  # what a perfect ranking scores first
    assert list(split.columns) == [("FA2I", "title named (30)"), ("FA2I", "title not named (20)")]
    assert list(record.metric_tables()) == ["hit"] and len(record.per_query_table()) == 2


def test_chat_bars_carry_the_wilson_interval_of_a_hit_rate():
    from itemlib.study.plots import wilson_interval

    low, high = wilson_interval(np.array([0.5, 0.0]), np.array([100, 20]))
    assert abs(low[0] - 0.4038) < 1e-3 and abs(high[0] - 0.5962) < 1e-3
    assert abs(low[1]) < 1e-12 and 0.15 < high[1] < 0.17  # no hit in 20 dialogues still allows a rate up to ~16%


def test_chat_bars_draw_when_a_model_hits_never_or_always():
    """At a rate of 0 or 1 the Wilson ends miss the rate by a rounding error (0 over 11 dialogues gave
    low = 3e-17): the interval still contains the rate, so no error bar is negative."""
    import pandas as pd

    from itemlib.study.plots import chat_turn_bars, wilson_interval

    n = np.arange(1, 500)
    for rate in (0.0, 1.0):
        low, high = wilson_interval(np.full(len(n), rate), n)
        assert (low <= rate).all() and (high >= rate).all()
    by_turns = pd.DataFrame({"catalog": "movielens", "turns": [1, 2], "model": "tuned", "hit": [0.0, 1.0],
                             "dialogues": [11, 21]})  # fmt: skip
    assert chat_turn_bars(by_turns, 5).axes


def test_the_generate_page_shows_counts_as_integers_and_each_tasks_first_examples(movielens_data, tmp_path):
    from itemlib.study.examples import first_examples, generation_counts

    stats = json.loads((movielens_data / "stats.json").read_text())
    counts = generation_counts(stats)
    assert list(counts.index) == list(stats["tasks"]) and all(dtype.kind == "i" for dtype in counts.dtypes)
    examples = first_examples(movielens_data, list(stats["tasks"]))
    first = json.loads((movielens_data / "train" / "UH2I.jsonl").read_text().splitlines()[0])
    assert (
        examples.loc["UH2I", "training query"] == first["query"] and examples.loc["UH2I", "positive"] == first["pos"][0]
    )
    assert list(examples.columns) == ["training query", "positive", "negative", "test query"]
    assert first_examples(tmp_path, ["UH2I"]).empty  # a directory without the task's files shows no row
