"""The README's findings section is rendered from the published runs' records and says what they say."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from itemlib.cli import main
from itemlib.provenance import ROOT
from itemlib.study.findings import (
    general_measurement,
    general_steam,
    intro_lines,
    markers,
    pass_sentence,
    rewrite,
    summary,
    verdict_table,
)
from itemlib.study.notebook import published_runs
from itemlib.study.runner import StudyError

PUBLISHED = ROOT / "book" / "runs" / "cpu"
START, END = markers("findings")


@pytest.mark.parametrize("page", ["README.md", "book/intro.md", "book/reproduce.md"])
def test_the_readme_and_the_intro_say_what_the_published_runs_found(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    assert rewrite(text, PUBLISHED, page) == text, (
        f"{page}'s findings are stale: run `itemlib findings --write README.md book/intro.md`"
    )


def test_the_intro_has_five_lines_each_linked_to_its_table():
    lines = intro_lines(PUBLISHED)
    assert len(lines) == 5
    assert all(line.startswith("**") and '<a href="runs/cpu/' in line and line.endswith("</a>).") for line in lines)
    behaviour = next(line for line in lines if "against a recommender" in line)
    assert "The fullest tuned arm (tuned+popularity+cf) is" in behaviour  # one arm on both catalogs: named once


def _run(commit: str, seconds: float, test_seed: int | None = None) -> dict:
    parameters = {"generate_config": {"test_seed": test_seed}} if test_seed is not None else {}
    return {"provenance": {"commit": commit, "profile": "cpu", "seed": 0, "hardware": "2 cores",
                           "finished": "2026-12-02T10:00:00+00:00", "wall_seconds": seconds,
                           "parameters": parameters}}  # fmt: skip


def test_pass_sentence_names_every_commit_and_adds_the_wall_times():
    one = pass_sentence({"generate-a": _run("a" * 40, 60, test_seed=2), "train-a": _run("a" * 40, 120)})
    assert "every run from commit `aaaaaaa`" in one and "test seed 2" in one and "add up to 3 minutes" in one
    two = pass_sentence({"generate-a": _run("a" * 40, 60, test_seed=2), "train-a": _run("b" * 40, 120)})
    assert "runs from commits `aaaaaaa` (generate-a), `bbbbbbb` (train-a)" in two


def test_verdict_table_marks_a_reference_not_run_on_a_test_set():
    row = {"better": 7, "tasks": 10, "better (Holm)": 6, "worse": 1, "reference wins on": "I2I"}
    table = verdict_table([{"test set": "a", "reference": "untuned", **row},
                           {"test set": "a", "reference": "mpnet", **row},
                           {"test set": "b", "reference": "untuned", **row}])  # fmt: skip
    assert "| a | 7/10 (6), worse on I2I | 7/10 (6), worse on I2I |" in table
    assert "| b | 7/10 (6), worse on I2I | — |" in table and "not run on that test set" in table


def test_rewrite_refuses_a_file_without_a_section_or_with_one_left_open():
    with pytest.raises(StudyError, match="MY.md: no findings section"):
        rewrite("# a README\n", PUBLISHED, "MY.md")
    with pytest.raises(StudyError, match="MY.md: section 'findings' opens but never closes"):
        rewrite(f"{START}\nold\n", PUBLISHED, "MY.md")
    new = rewrite(f"head\n{START}\nold\n{END}\ntail\n", PUBLISHED)
    assert new == f"head\n{START}\n\n{summary(PUBLISHED)}\n\n{END}\ntail\n"


def test_summary_needs_a_results_run(tmp_path):
    shutil.copytree(PUBLISHED / "train-movielens", tmp_path / "train-movielens")
    for render in (summary, intro_lines):
        with pytest.raises(StudyError, match="no complete results run"):
            render(tmp_path)


def test_cli_writes_the_section_once(tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(PUBLISHED, runs, ignore=shutil.ignore_patterns("*.ipynb"))
    readme = tmp_path / "README.md"
    readme.write_text(f"# itemlib\n\n{START}\n{END}\n\nmore\n", encoding="utf-8")
    assert main(["findings", "--runs-dir", str(runs), "--write", str(readme)]) == 0
    assert "rewrote" in capsys.readouterr().out
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# itemlib\n\n") and text.endswith(f"{END}\n\nmore\n") and "The claims" in text
    assert main(["findings", "--runs-dir", str(runs), "--write", str(readme)]) == 0
    assert "already says" in capsys.readouterr().out and readme.read_text(encoding="utf-8") == text
    assert not list(tmp_path.glob("*.partial"))
    results = json.loads((runs / "results" / "metrics.json").read_text())
    assert all(claim in text for claim in results["claims"])


def _measurement(path, commit: str) -> None:
    """A measurement of untuned mpnet on Steam as experiments/general_model_steam.py writes it, two tasks."""
    rows = []
    for task, (mine, theirs) in {"UH2I": (0.2, 0.0), "FA2I": (0.3, 0.1)}.items():
        for role, score, difference in (("tuned-steam", mine, mine - 0.1), ("untuned", theirs, theirs - 0.1)):
            verdict = "better" if difference > 0 else "worse" if difference < 0 else "within noise"
            rows.append({"test set": "steam", "role": role, "task": task, "reference": "mpnet", "queries": 500,
                         role: score, "mpnet": 0.1, "difference": difference, "low": difference - 0.01,
                         "high": difference + 0.01, "p": 0.001, "verdict": verdict, "p (Holm)": 0.002,
                         "verdict (Holm)": verdict})  # fmt: skip
    counts = {role: {"better": 2 if role != "untuned" else 0, "within noise": 0, "worse": 0 if role != "untuned" else 1,
                     "better (Holm)": 2 if role != "untuned" else 0, "worse (Holm)": 0, "tasks": 2,
                     "reference wins on": "none" if role != "untuned" else "UH2I"}
              for role in ("tuned-steam", "untuned")}  # fmt: skip
    record = {"commit": "c" * 40, "published pass": commit, "test set": "x", "reference": "mpnet", "seconds": 3600.0,
              "verdict counts (row − mpnet)": counts, "table": rows}  # fmt: skip
    path.write_text(json.dumps(record), encoding="utf-8")


def _measured_on_this_pass(tmp_path) -> tuple[str, Path]:
    """The published pass's Steam commit, and a measurement file made on its test set."""
    commit = json.loads((PUBLISHED / "evaluate-steam" / "metrics.json").read_text())["provenance"]["commit"]
    measured = tmp_path / "general_model_steam.json"
    _measurement(measured, commit)
    return commit, measured


def test_the_mpnet_measurement_on_steam_is_shown_only_beside_the_pass_it_measured(tmp_path):
    commit, measured = _measured_on_this_pass(tmp_path)
    text = general_steam(PUBLISHED, measured)
    assert "| UH2I | 0.200 | 0.000 | 0.100 | +0.100 [+0.090, +0.110] better | -0.100 [-0.110, -0.090] worse |" in text
    assert "tuned-steam is better beyond noise on 2 of 2 tasks (2 after Holm)" in text
    assert "60 minutes of wall time" in text
    assert "untuned MiniLM is better beyond noise on 0 of 2 tasks" in text and "worse on 1: UH2I" in text
    _measurement(measured, "d" * 40)  # made beside another pass: shown, but never as this pass's figures
    text = general_steam(PUBLISHED, measured)
    assert text.startswith("**Measured beside an earlier pass, not this one.**")
    assert f"(commit `{commit[:7]}`)" in text and "the pass of commit `ddddddd`" in text and "| UH2I | 0.200 |" in text
    assert general_measurement(dict(published_runs(PUBLISHED)), measured) is None  # so the intro does not quote it
    assert general_steam(PUBLISHED, tmp_path / "absent.json").startswith("No measurement")


def test_the_readme_quotes_the_mpnet_measurement_only_of_this_pass(tmp_path):
    _, measured = _measured_on_this_pass(tmp_path)
    text = summary(PUBLISHED, measured)
    assert "- **Untuned mpnet on Steam, measured beside the pass**" in text
    assert "tuned-steam is better beyond noise on 2 of 2 tasks (2 after Holm)" in text
    _measurement(measured, "d" * 40)  # another pass's test draw: not this pass's finding
    assert "measured beside the pass" not in summary(PUBLISHED, measured)
    assert "measured beside the pass" not in summary(PUBLISHED, tmp_path / "absent.json")
