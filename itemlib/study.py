"""The reproducible study: profiles, the plan of papermill runs, and the book build.

``itemlib study --profile smoke|cpu|gpu`` executes the notebook templates of ``notebooks/`` with
papermill into ``book/runs/<profile>/<run>/`` (the executed notebook and its ``metrics.json``),
skipping runs already complete, then writes ``_toc.yml`` for that profile and builds the book.
A run is complete when its ``metrics.json`` exists; it is written last, and a run executes in a
scratch folder that is moved into place only on success, so a failure or an interruption never
leaves a half-written run where the book reads it. Generated data and fine-tuned models live in
``work/<profile>/`` (not committed); a run whose inputs are missing there re-runs its producer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from unittest import mock

from itemlib.catalog import Catalog
from itemlib.datasets import load_catalog
from itemlib.datasets.steam import default_steam_dir
from itemlib.provenance import git_commit

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ("movielens", "steam")


class StudyError(RuntimeError):
    """A run failed; the message names the run, the notebook and the failing cell."""


@dataclass(frozen=True)
class Profile:
    """Sizes of one profile. ``max_items`` shrinks catalogs for quick runs (None: full)."""

    name: str
    model: str = "minilm"
    max_items: int | None = None
    seed: int = 0
    per_task: int = 2000
    test_per_task: int = 200
    steps: int = 300
    batch_size: int = 8
    learning_rate: float = 5e-5
    temperature: float = 0.05  # a 300-step probe on MovieLens improved 7/10 tasks at 0.05, 6/10 at 0.01
    negatives: int = 7
    in_batch: str = "off"  # in-batch negatives of the in-domain runs: off | on | filtered
    oversample: tuple[tuple[str, int], ...] = ()  # (task, N): the in-domain runs repeat that task's examples N times
    resample_positives: tuple[str, ...] = ()  # tasks whose in-domain positives are drawn from every item the query accepts
    save_steps: int = 100  # checkpoint interval of training runs (0: none; a MiniLM checkpoint is ~270 MB)
    ablation_steps: int = 150
    ablation_negatives: tuple[int, ...] = (1, 3, 7, 15)
    ablation_in_batch: tuple[str, ...] = ("on", "filtered")
    ablation_in_batch_negatives: int = 7  # in-batch on/filtered are compared at the paper's 7 negatives
    dialogues: int = 500  # conversational test set size per catalog


PROFILES = {
    "smoke": Profile("smoke", max_items=1200, per_task=40, test_per_task=20, steps=6, batch_size=4, save_steps=0,
                     in_batch="filtered", oversample=(("NM2I", 2),), resample_positives=("VC2I",),
                     ablation_steps=3, ablation_negatives=(1, 3), ablation_in_batch=("on", "filtered"), dialogues=20),
    # 60 ablation steps per variant keep the whole profile under two hours on 2 cores (120 took 55 min)
    # At equal compute on 2 cores, 540 steps with 3 negatives beat 300 steps with 7 on 300 training examples
    # per task that neither run drew (a validation split; the test set was not used to choose).
    # Filtered in-batch negatives plus NM2I drawn twice as often: on a second validation split per catalog it took
    # Steam NM2I from .10 below the untuned model to within noise of it and kept 9/10 tasks above it on both catalogs
    # (book/method.md gives the variants tried).
    # VC2I positives drawn from every item the query accepts: on two fresh MovieLens validation splits VC2I went
    # from .02 below the untuned model to .03 and .05 above it, and 9 and 10 of 10 tasks were above it.
    "cpu": Profile("cpu", test_per_task=500, steps=540, negatives=3, in_batch="filtered", oversample=(("NM2I", 2),),
                   resample_positives=("VC2I",), ablation_steps=60),
    "gpu": Profile("gpu", per_task=20000, test_per_task=1000, steps=5000, batch_size=64, learning_rate=2e-5, ablation_steps=2000),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; profiles are {', '.join(PROFILES)}") from None


def study_catalog(name: str, max_items: int | None = None, seed: int = 0) -> Catalog:
    """A study catalog, shrunk to ``max_items`` for quick profiles."""
    catalog = load_catalog(name)
    return catalog.subset(max_items, seed) if max_items else catalog


def steam_available() -> bool:
    return (default_steam_dir() / "steam_games.json.gz").exists()


@dataclass
class Run:
    name: str
    notebook: str  # template in notebooks/
    parameters: dict
    needs: list[str] = field(default_factory=list)  # runs whose products this run reads
    products: list[str] = field(default_factory=list)  # paths under work/ that this run writes
    folders: list[str] = field(default_factory=list)  # its work folders, emptied before a forced run (no stale checkpoints)


def plan(profile: Profile) -> list[Run]:
    """The runs of a profile in execution order."""
    work = f"work/{profile.name}"
    catalogs = [c for c in CATALOGS if c != "steam" or steam_available()]
    common = {"profile": profile.name, "seed": profile.seed, "max_items": profile.max_items}
    runs = [Run("data", "data.ipynb", {**common, "catalogs": catalogs})]
    for name in catalogs:
        runs.append(Run(f"generate-{name}", "generate.ipynb", {
            **common, "catalog": name, "data_dir": f"{work}/data/{name}", "per_task": profile.per_task,
            "test_per_task": profile.test_per_task, "negatives": max(profile.negatives, *profile.ablation_negatives),
        }, products=[f"{work}/data/{name}/stats.json"]))
    for name in catalogs:
        runs.append(Run(f"train-{name}", "train.ipynb", {
            **common, "catalog": name, "data_dir": f"{work}/data/{name}", "model": profile.model, "out_dir": f"{work}/models/{name}",
            "steps": profile.steps, "batch_size": profile.batch_size, "learning_rate": profile.learning_rate,
            "temperature": profile.temperature, "negatives": profile.negatives, "in_batch": profile.in_batch,
            "oversample": dict(profile.oversample), "resample_positives": list(profile.resample_positives),
            "save_steps": profile.save_steps,
        }, needs=[f"generate-{name}"], products=[f"{work}/models/{name}/model.safetensors"], folders=[f"{work}/models/{name}"]))
    models = {"untuned": profile.model, "bm25": "bm25"} | {f"tuned-{c}": f"{work}/models/{c}" for c in catalogs}
    for name in catalogs:
        runs.append(Run(f"evaluate-{name}", "evaluate.ipynb", {
            **common, "catalog": name, "tests_dir": f"{work}/data/{name}", "models": models,
        }, needs=[f"generate-{name}"] + [f"train-{c}" for c in catalogs]))
    variants = [{"negatives": k, "in_batch": "off"} for k in profile.ablation_negatives]
    variants += [{"negatives": profile.ablation_in_batch_negatives, "in_batch": mode} for mode in profile.ablation_in_batch]
    runs.append(Run("ablation", "ablation.ipynb", {
        **common, "catalog": "movielens", "data_dir": f"{work}/data/movielens", "work_dir": f"{work}/ablation",
        "model": profile.model, "variants": variants, "steps": profile.ablation_steps, "batch_size": profile.batch_size,
        "learning_rate": profile.learning_rate, "temperature": profile.temperature, "save_steps": profile.save_steps,
    }, needs=["generate-movielens"], folders=[f"{work}/ablation"]))
    runs.append(Run("chat", "chat.ipynb", {
        **common, "catalogs": catalogs, "dialogues_per_catalog": profile.dialogues, "runs_dir": f"book/runs/{profile.name}",
        "models": {c: {"untuned": profile.model, "bm25": "bm25", f"tuned-{c}": f"{work}/models/{c}"} for c in catalogs},
    }, needs=[f"train-{c}" for c in catalogs]))
    runs.append(Run("diagnosis", "diagnosis.ipynb", {
        **common, "catalogs": catalogs, "tests_dirs": {c: f"{work}/data/{c}" for c in catalogs},
        "models": {c: {"untuned": profile.model, f"tuned-{c}": f"{work}/models/{c}"} for c in catalogs},
        "runs_dir": f"book/runs/{profile.name}",
    }, needs=[f"generate-{c}" for c in catalogs] + [f"train-{c}" for c in catalogs]))
    runs.append(Run("results", "results.ipynb", {**common, "runs_dir": f"book/runs/{profile.name}", "catalogs": catalogs},
                    needs=[r.name for r in runs]))
    return runs


def run_dir(profile: Profile, name: str) -> Path:
    return ROOT / "book" / "runs" / profile.name / name


def is_complete(profile: Profile, run: Run) -> bool:
    return (run_dir(profile, run.name) / "metrics.json").exists()


def hardware() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {device}, torch {torch.__version__}"


def hide_parameter_cells(path: Path) -> None:
    """Fold the template's default parameters and papermill's injected ones behind "Show code cell source"
    in the book: two near-identical cells, one naming the run's scratch metrics path, lead every page
    otherwise. The run's parameters stay in the notebook and in its metrics.json."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(notebook, path)


def execute(profile: Profile, run: Run, log=print, fresh: bool = False) -> None:
    """Execute one run in a scratch folder; move it into place only when it succeeded.

    ``fresh`` empties the run's work folders first: a run that replaces a complete one, or whose
    inputs were just made again, trains from scratch instead of resuming stale checkpoints.
    Without it, an interrupted run resumes.
    """
    import papermill

    if fresh:
        for folder in run.folders:
            shutil.rmtree(ROOT / folder, ignore_errors=True)

    target = run_dir(profile, run.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    for earlier in target.parent.glob(f".{run.name}-*"):  # a failed or interrupted try's copy, kept until this retry
        shutil.rmtree(earlier, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{run.name}-", dir=target.parent))
    notebook = scratch / run.notebook
    metrics_path = scratch / "metrics.json.partial"
    commit = git_commit()  # the code the run starts from, not whatever is checked out when it ends
    started = time.time()
    log(f"[{profile.name}] {run.name}: executing notebooks/{run.notebook}")
    try:
        with mock.patch.dict(os.environ, TQDM_DISABLE="1"):  # quiet kernels; the caller's environment comes back
            papermill.execute_notebook(
                str(ROOT / "notebooks" / run.notebook), str(notebook),
                parameters={**run.parameters, "metrics_path": str(metrics_path)},
                cwd=str(ROOT), kernel_name="python3", progress_bar=False, log_output=False,
            )
    except papermill.PapermillExecutionError as error:
        line = next((l for l in reversed(str(error.source).splitlines()) if l.strip()), "")
        raise StudyError(
            f"run {run.name!r} failed in notebooks/{run.notebook}, cell {error.exec_count} of the executed copy "
            f"(`{line.strip()[:80]}`): {error.ename}: {error.evalue} (executed copy kept at {notebook})"
        ) from None
    if not metrics_path.exists():
        raise StudyError(f"run {run.name!r}: notebooks/{run.notebook} wrote no metrics (parameter metrics_path)")
    hide_parameter_cells(notebook)
    metrics = json.loads(metrics_path.read_text())
    metrics["provenance"] = {
        "run": run.name, "notebook": run.notebook, "profile": profile.name, "seed": profile.seed,
        "commit": commit, "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.time() - started, 1), "hardware": hardware(), "parameters": run.parameters,
    }
    (scratch / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    metrics_path.unlink()
    if target.exists():
        shutil.rmtree(target)
    os.replace(scratch, target)
    log(f"[{profile.name}] {run.name}: done in {metrics['provenance']['wall_seconds']} s")


def run_study(profile_name: str, only: Sequence[str] | None = None, force: bool = False, log=print) -> list[str]:
    """Execute the profile's incomplete runs (``only``: just these; ``force``: even complete ones).

    Complete runs that read a run executed here follow it, so no published result is left computed
    from inputs that were since replaced. Returns the names of the runs executed.
    """
    profile = get_profile(profile_name)
    runs = {run.name: run for run in plan(profile)}
    unknown = set(only or []) - set(runs)
    if unknown:
        raise ValueError(f"unknown runs {sorted(unknown)}; runs of {profile.name!r}: {', '.join(runs)}")
    wanted = list(only) if only else list(runs)
    executed: list[str] = []

    def ensure(name: str, rerun: bool) -> None:
        run = runs[name]
        if name in executed:
            return
        for need in run.needs:
            if not is_complete(profile, runs[need]):
                ensure(need, False)
        if is_complete(profile, run) and not rerun and not any(n in executed for n in run.needs):
            return  # complete results are kept even when the work files behind them are gone (a fresh clone)
        for need in run.needs:
            if need not in executed and any(not (ROOT / p).exists() for p in runs[need].products):
                ensure(need, True)  # this run reads work files that are gone: produce them again
        # only an interrupted run whose inputs are unchanged resumes; any other starts from empty folders
        resumes = not is_complete(profile, run) and not any(n in executed for n in run.needs)
        execute(profile, run, log, fresh=not resumes)
        executed.append(name)

    for name in wanted:
        ensure(name, force)
    for name, run in runs.items():  # plan order: a run comes after every run it needs
        if name not in executed and is_complete(profile, run) and any(n in executed for n in run.needs):
            ensure(name, True)  # its results were made from inputs just made again: stale, so it follows
    return executed


RUN_STEPS = {"generate": "Generated tasks", "train": "Fine-tuning", "evaluate": "Evaluation"}  # runs made per catalog
CATALOG_NAMES = {"movielens": "MovieLens", "steam": "Steam"}


def write_toc(profile_name: str) -> Path:
    """``_toc.yml`` with the book pages and the executed runs of one profile."""
    profile = get_profile(profile_name)
    runs = [run for run in plan(profile) if is_complete(profile, run)]
    def page(run: Run) -> str:
        return f"book/runs/{profile.name}/{run.name}/{Path(run.notebook).stem}"
    lines = [
        "# Written by `itemlib study` for the profile shown in the book; do not edit by hand.",
        "format: jb-book", "root: book/intro", "parts:",
        "  - caption: The method", "    chapters:", "      - file: book/method", "      - file: book/reproduce",
        "  - caption: Results", "    chapters:",
    ]
    chapters = ("results", "diagnosis", "chat")
    lines += [f"      - file: {page(r)}" for name in chapters for r in runs if r.name == name]
    lines += ["  - caption: The runs", "    chapters:"]
    for run in runs:
        if run.name not in chapters:
            step, _, catalog = run.name.partition("-")
            lines.append(f"      - file: {page(run)}")
            if step in RUN_STEPS:  # one page per catalog: the sidebar names the catalog
                lines.append(f"        title: {RUN_STEPS[step]} ({CATALOG_NAMES.get(catalog, catalog)})")
    toc = ROOT / "_toc.yml"
    toc.write_text("\n".join(lines) + "\n")
    return toc


def build_book(profile_name: str, strict: bool = True) -> Path:
    """Write the toc for ``profile_name`` and build the HTML (no notebook is executed)."""
    write_toc(profile_name)
    command = ["jupyter-book", "build", str(ROOT), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    binary = Path(sys.executable).parent / "jupyter-book"
    command[0] = str(binary) if binary.exists() else command[0]
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode != 0:
        raise StudyError(f"book build failed ({' '.join(command)})")
    return ROOT / "_build" / "html" / "index.html"


def page_provenance(profile: str, seed: int) -> str:
    """The line a results page prints about its own execution (its run's metrics.json is written
    only after the notebook finishes, so the page cannot read it)."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return f"This page was executed at commit `{git_commit()}`, profile `{profile}`, seed {seed}, on {now}, on {hardware()}."


def provenance_table(runs_dir: str | Path, runs: Sequence[str] | None = None) -> list[dict]:
    """One row per completed run (``runs``: only these): what the book's provenance boxes show.

    The commit is cut to its first 12 hex digits and the finish time to the minute (UTC), so the
    table fits a page; each run's ``metrics.json`` keeps the full values.
    """
    rows = []
    for path in sorted(Path(runs_dir).glob("*/metrics.json")):
        if runs is not None and path.parent.name not in runs:
            continue
        info = json.loads(path.read_text()).get("provenance", {})
        row = {key: info.get(key) for key in ("run", "profile", "seed", "commit", "finished", "wall_seconds", "hardware")}
        if row["commit"]:
            row["commit"] = str(row["commit"])[:12]
        if row["finished"]:
            row["finished"] = dt.datetime.fromisoformat(str(row["finished"])).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rows.append(row)
    return rows


__all__ = ["PROFILES", "Profile", "Run", "StudyError", "build_book", "page_provenance", "plan", "provenance_table", "run_study",
           "study_catalog", "write_toc"]
