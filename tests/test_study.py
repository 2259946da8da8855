"""The study runner: a run lands only when its notebook succeeded, complete runs are skipped,
a failure names the notebook and the cell, and missing inputs re-run their producer."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from itemlib.provenance import ROOT
from itemlib.study import PROFILES, Run, StudyError, plan, run_study, runner
from itemlib.study.notebook import provenance_table


def notebook(path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell('metrics_path = "metrics.json"\nvalue = 0\nout = ""')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    notebook(
        tmp_path / "notebooks" / "make.ipynb",
        "import json, pathlib\npathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)\n"
        "pathlib.Path(out).write_text(str(value))\n"
        "json.dump({'value': value}, open(metrics_path, 'w'))",
    )
    notebook(
        tmp_path / "notebooks" / "use.ipynb",
        "import json, pathlib\njson.dump({'read': pathlib.Path(out).read_text()}, open(metrics_path, 'w'))",
    )
    notebook(tmp_path / "notebooks" / "fail.ipynb", "x = 1\nraise ValueError('broken on purpose')")
    runs = [
        Run(
            "make",
            "make.ipynb",
            {"value": 7, "out": str(tmp_path / "work" / "made.txt")},
            products=[str(tmp_path / "work" / "made.txt")],
        ),
        Run("use", "use.ipynb", {"out": str(tmp_path / "work" / "made.txt")}, needs=["make"]),
    ]
    return tmp_path, runs


def study(root, runs, **kwargs):
    """``run_study`` of the smoke profile over the sandbox's notebooks and plan, quietly."""
    return run_study("smoke", log=lambda *_: None, root=root, runs=runs, **kwargs)


def test_runs_land_with_provenance_and_complete_runs_are_skipped(sandbox):
    root, runs = sandbox
    assert study(root, runs) == ["make", "use"]
    metrics = json.loads((root / "book" / "runs" / "smoke" / "use" / "metrics.json").read_text())
    assert metrics["read"] == "7"
    assert {"commit", "profile", "seed", "finished", "wall_seconds", "hardware"} <= set(metrics["provenance"])
    executed = nbformat.read(root / "book" / "runs" / "smoke" / "make" / "make.ipynb", as_version=4)
    parameter_cells = [
        cell for cell in executed.cells if {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", []))
    ]
    assert len(parameter_cells) == 2 and all("hide-input" in cell.metadata.tags for cell in parameter_cells)
    shown = provenance_table(root / "book" / "runs" / "smoke", ["use"])
    assert [row["run"] for row in shown] == ["use"] and metrics["provenance"]["commit"].startswith(shown[0]["commit"])
    assert shown[0]["finished"].endswith(" UTC") and len(shown[0]["commit"]) == 12
    assert shown[0]["wall time (min)"] == f"{metrics['provenance']['wall_seconds'] / 60:.1f}"
    assert study(root, runs) == []  # all complete
    (root / "work" / "made.txt").unlink()  # a fresh clone has the results but not the work files
    assert study(root, runs) == []  # so rebuilding the book re-runs nothing
    assert study(root, runs, only=["use"], force=True) == ["make", "use"]
    assert study(root, runs, only=["make"], force=True) == ["make", "use"]  # "use" would be stale


def test_the_schedule_is_said_first_and_exact_runs_only_what_is_asked(sandbox):
    root, runs = sandbox
    said: list[str] = []
    assert run_study("smoke", root=root, runs=runs, dry_run=True, log=said.append) == ["make", "use"]
    assert said == ["[smoke] will run 2: make, use"] and not (root / "book" / "runs" / "smoke" / "make").exists()
    study(root, runs)
    said.clear()
    executed = run_study("smoke", root=root, runs=runs, only=["make"], force=True, follow=False, log=said.append)
    assert executed == ["make"]
    assert said[0].startswith("[smoke] will run 1: make (last ") and said[0].endswith(" s by the last runs")
    assert said[1] == "[smoke] left as they are, though they read a run made again here: use"


def test_kernels_run_without_progress_bars_and_the_callers_environment_is_kept(sandbox, monkeypatch):
    root, runs = sandbox
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    notebook(
        root / "notebooks" / "env.ipynb",
        "import json, os\njson.dump({'tqdm': os.environ.get('TQDM_DISABLE')}, open(metrics_path, 'w'))",
    )
    runs.append(Run("env", "env.ipynb", {}))
    study(root, runs, only=["env"])
    assert json.loads((root / "book" / "runs" / "smoke" / "env" / "metrics.json").read_text())["tqdm"] == "1"
    assert "TQDM_DISABLE" not in os.environ


def test_commit_is_taken_when_the_run_starts(sandbox, monkeypatch):
    root, runs = sandbox
    commits = iter(["start", "later"])
    monkeypatch.setattr(runner, "git_commit", lambda: next(commits))
    study(root, runs, only=["make"])
    assert (
        json.loads((root / "book" / "runs" / "smoke" / "make" / "metrics.json").read_text())["provenance"]["commit"]
        == "start"
    )


def test_failure_names_notebook_and_cell_lands_nothing_and_keeps_only_the_latest_copy(sandbox, monkeypatch):
    root, runs = sandbox
    runs.append(Run("broken", "fail.ipynb", {}))
    with pytest.raises(
        StudyError,
        match=r"run 'broken' failed in notebooks/fail\.ipynb, cell 3 of the executed copy "
        r"\(`raise ValueError\('broken on purpose'\)`\): ValueError: broken on purpose",
    ):
        study(root, runs, only=["broken"])
    assert not (root / "book" / "runs" / "smoke" / "broken").exists()
    kept = list((root / "book" / "runs" / "smoke").glob(".broken-*"))
    assert len(kept) == 1  # the executed copy, for inspection
    with pytest.raises(StudyError):
        study(root, runs, only=["broken"])
    assert (
        list((root / "book" / "runs" / "smoke").glob(".broken-*")) != kept
    )  # a retry replaces it, so copies do not pile up
    assert len(list((root / "book" / "runs" / "smoke").glob(".broken-*"))) == 1


def test_plans_cover_every_notebook():
    names = {run.notebook for run in plan(PROFILES["smoke"])}
    assert names == {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert plan(PROFILES["cpu"])[-1].name == "results"


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_every_parameter_a_plan_passes_is_one_its_notebook_declares(profile, caplog):
    """papermill injects an undeclared or unparseable parameter with only a log warning, so a typo or a
    comment it cannot parse (one holding '=') would otherwise go unnoticed."""
    import papermill

    for run in plan(PROFILES[profile]):
        declared = papermill.inspect_notebook(str(ROOT / "notebooks" / run.notebook))
        assert set(run.parameters) <= set(declared), run.notebook
    assert "Unable to parse" not in caplog.text


def test_forced_run_starts_from_empty_work_folders(sandbox):
    """A forced run must not resume what the run it replaces left behind (e.g. its checkpoints)."""
    root, runs = sandbox
    stale = root / "work" / "make" / "checkpoints" / "checkpoint-300"
    runs[0].folders.append(str(root / "work" / "make"))
    study(root, runs, only=["make"])
    stale.mkdir(parents=True)
    study(root, runs, only=["make"])  # complete: nothing runs, nothing is removed
    assert stale.exists()
    study(root, runs, only=["make"], force=True)
    assert not stale.exists()
    stale_use = root / "work" / "use" / "checkpoints" / "checkpoint-300"
    runs[1].folders.append(str(root / "work" / "use"))
    study(root, runs)
    stale_use.mkdir(parents=True)
    (
        root / "book" / "runs" / "smoke" / "make" / "metrics.json"
    ).unlink()  # "make" runs again, so "use" reads new inputs
    assert study(root, runs, only=["use"]) == ["make", "use"]
    assert not stale_use.exists()


def test_per_catalog_pages_are_titled_with_their_catalog(tmp_path):
    from itemlib.study.plan import catalog_title
    from itemlib.study.runner import retitle

    assert catalog_title("train-movielens") == "Fine-tuning (MovieLens)" and catalog_title("results") is None
    path = tmp_path / "page.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Fine-tuning\n\nText."), nbformat.v4.new_code_cell("1")]
    nbformat.write(nb, path)
    retitle(path, "Fine-tuning (Steam)")
    assert nbformat.read(path, as_version=4).cells[0].source == "# Fine-tuning (Steam)\n\nText."


def test_the_published_profile_is_complete_so_make_book_executes_nothing():
    """`make book` on a fresh clone only rebuilds the HTML: every run of the cpu plan is committed."""
    from itemlib.study.runner import is_complete

    profile = PROFILES["cpu"]
    missing = [run.name for run in plan(profile) if not is_complete(ROOT, profile, run)]
    assert not missing, f"planned but not published: {missing} (publish them, or leave them out of the cpu plan)"


def test_the_published_book_is_one_pass_of_the_cpu_plan_on_one_committed_tree():
    """A reader checks one commit: every run of the cpu plan, the pages that only present numbers
    (results, chat, diagnosis, use) included, started from the same clean commit, and nothing else is
    published beside them. (Their wall times are the compute table's and the reproduce page's to state,
    not a test's to hold: a figure of one machine.)"""
    provenance = {
        path.parent.name: json.loads(path.read_text())["provenance"]
        for path in (ROOT / "book" / "runs" / "cpu").glob("*/metrics.json")
    }
    planned = [run.name for run in plan(PROFILES["cpu"], available_only=False)]
    assert sorted(provenance) == sorted(planned), f"published {sorted(provenance)}, planned {sorted(planned)}"
    commits = {run: record["commit"] for run, record in provenance.items()}
    assert len(set(commits.values())) == 1, f"the published runs span several commits: {commits}"
    assert not any(commit.endswith("+uncommitted") for commit in commits.values()), commits


def test_the_book_shows_committed_runs_of_a_catalog_whose_data_this_machine_lacks(monkeypatch, tmp_path):
    import importlib

    from itemlib.study import book

    plan_module = importlib.import_module("itemlib.study.plan")  # the package's `plan` is the function
    monkeypatch.setattr(plan_module, "steam_available", lambda: False)
    assert not any(run.name.endswith("steam") for run in plan(PROFILES["cpu"]))  # nothing of Steam is executed
    toc = book.write_toc("cpu", root=ROOT).read_text()
    assert "book/runs/cpu/train-steam/train" in toc  # but its published pages stay in the book


def test_the_compute_table_writes_blanks_not_nan_and_totals_the_wall_time(tmp_path):
    from itemlib.study.notebook import compute_table

    def publish(name: str, seconds: float, card: dict | None = None) -> None:
        (tmp_path / name).mkdir()
        metrics = {"provenance": {"run": name, "wall_seconds": seconds, "hardware": "2 CPU cores"}}
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics | ({"card": card} if card else {})))

    card = {"global_step": 540, "examples": 18502, "hyperparameters": {"batch_size": 8, "gradient_accumulation": 1}}
    publish("train-movielens", 616.3, card)
    publish("data", 5.5)
    publish("results", 7.0)
    table = compute_table(tmp_path, exclude=["results"])
    assert list(table.index) == ["data", "train-movielens", "total"]
    assert table.loc["train-movielens", ["steps", "examples seen", "training examples", "epochs"]].tolist() == [
        "540", "4,320", "18,502", "0.23"
    ]  # fmt: skip
    assert table.loc["data", "epochs"] == "" and not table.isna().any().any()
    assert table.loc["total", "wall time (min)"] == f"{(616.3 + 5.5) / 60:.1f}"
