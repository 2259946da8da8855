"""ReDial dialogues as test cases: mentions linked by title and year, the field's protocol, counted losses."""

from __future__ import annotations

import gzip
import json

import pytest

from itemlib.catalog import CatalogError
from itemlib.datasets.redial import TitleYearLinker, load_redial, title_variants


def write(directory, dialogues, name="valid_data.jsonl.gz"):
    with gzip.open(directory / name, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(d) + "\n" for d in dialogues)


DIALOGUE = {
    "conversationId": "7",
    "initiatorWorkerId": 1,
    "respondentWorkerId": 2,
    "movieMentions": {
        "11": "Toy Story (1995)",
        "12": "Jumanji  (1995)",
        "13": "Heat (1995)",
        "14": "Unknown Film (2030)",
    },
    "messages": [
        {"senderWorkerId": 2, "text": "hi, try @13"},  # before the seeker said anything: skipped, counted
        {"senderWorkerId": 1, "text": "I loved @11, something for kids?"},
        {"senderWorkerId": 2, "text": "@12 or @14"},  # a case: Jumanji; the unknown film is counted
        {"senderWorkerId": 1, "text": "seen it"},
        {"senderWorkerId": 2, "text": "then @11 again, or @13"},  # Toy Story and Heat were mentioned: no case
    ],
}


def test_the_protocol_makes_one_case_per_recommendation_of_a_new_linked_movie(movielens, tmp_path):
    write(tmp_path, [DIALOGUE])
    loaded = load_redial(movielens, "valid", tmp_path)
    linker = TitleYearLinker(movielens)
    toy, jumanji = linker.link("Toy Story (1995)"), linker.link("Jumanji (1995)")
    heat = linker.link("Heat (1995)")
    assert loaded.cases == [{"query": "I loved Toy Story (1995), something for kids?", "pos_ids": [jumanji],
                             "mask_ids": sorted({toy, heat}), "user_turns": 1, "dialogue": "7"}]  # fmt: skip
    report = loaded.report
    assert report["recommendations before the seeker said anything (skipped)"] == 1
    assert report["recommended movies not linked"] == 1 and report["movies mentioned"] == 4
    assert report["movies linked"] == 3 and loaded.linked_share == 0.75


def test_the_linker_finds_alternative_titles_moved_articles_and_years_off_by_one(movielens):
    linker = TitleYearLinker(movielens)
    titles = {name: movielens.item(i).title if (i := linker.link(name)) else None
              for name in ["Se7en (1995)", "Hangover (2009)", "Matrix, The (1999)", "The Matrix (2000)",
                           "Titanic (2012)", "Titanic"]}  # fmt: skip
    assert titles == {
        "Se7en (1995)": "Seven (a.k.a. Se7en)",
        "Hangover (2009)": "The Hangover",
        "Matrix, The (1999)": "The Matrix",
        "The Matrix (2000)": "The Matrix",
        "Titanic (2012)": None,
        "Titanic": None,
    }  # fmt: skip  (two Titanics: 1953 and 1997)
    assert {"das boot", "the boat", "boat"} <= title_variants("Das Boot (Boat, The)")


def test_bad_files_are_refused_by_name_and_line(movielens, tmp_path):
    with pytest.raises(CatalogError, match="no ReDial file"):
        load_redial(movielens, "valid", tmp_path)
    with gzip.open(tmp_path / "valid_data.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(DIALOGUE) + "\n{broken\n")
    with pytest.raises(CatalogError, match=r"valid_data.jsonl.gz:2: malformed JSON line"):
        load_redial(movielens, "valid", tmp_path)
    write(tmp_path, [{"messages": []}])
    with pytest.raises(CatalogError, match=r":1: not a ReDial dialogue"):
        load_redial(movielens, "valid", tmp_path)
    with pytest.raises(ValueError, match="unknown ReDial split 'test'"):
        load_redial(movielens, "test", tmp_path)


def test_every_arm_is_scored_on_the_cases_and_judged_against_untuned(movielens, tmp_path, monkeypatch):
    from itemlib.study.arms import Arm
    from itemlib.study.redial import run_redial

    write(tmp_path, [DIALOGUE] * 3)
    monkeypatch.setenv("ITEMLIB_REDIAL_DIR", str(tmp_path))
    arms = [Arm("untuned", "random", "reference"), Arm("popularity", "popularity", "reference")]
    result = run_redial(movielens, arms)
    assert result.report["test cases"] == 3 and list(result.table.index) == ["untuned", "popularity"]
    assert list(result.table.columns) == ["hit@10", "recall@10", "hit@50", "recall@50"]
    assert set(result.intervals.arm) == {"popularity"} and len(result.intervals) == 4
    assert all(len(values) == 3 for values in result.per_case["popularity"].values())
