"""Executing a profile's runs: each in a scratch folder, moved into place only on success.

A run is complete when its ``metrics.json`` exists; it is written last, so a failure or an
interruption never leaves a half-written run where the book reads it. Generated data and
fine-tuned models live in ``work/<profile>/`` (not committed); a run whose inputs are missing
there re-runs its producer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from itemlib.provenance import ROOT, git_commit
from itemlib.study.plan import Run, catalog_title, plan
from itemlib.study.profiles import Profile, get_profile

Log = Callable[[str], None]


class StudyError(RuntimeError):
    """A run failed; the message names the run, the notebook and the failing cell."""


def run_dir(root: Path, profile: Profile, name: str) -> Path:
    return root / "book" / "runs" / profile.name / name


def is_complete(root: Path, profile: Profile, run: Run) -> bool:
    return (run_dir(root, profile, run.name) / "metrics.json").exists()


def hardware() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {device}, torch {torch.__version__}"


def retitle(path: Path, title: str) -> None:
    """Give an executed per-catalog page its own title (its first heading), the catalog named."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    first = next((c for c in notebook.cells if c.cell_type == "markdown" and c.source.startswith("# ")), None)
    if first is not None:
        first.source = "\n".join([f"# {title}", *first.source.split("\n")[1:]])
        nbformat.write(notebook, path)


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


@contextlib.contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Set environment variables for the kernels started inside; the caller's values come back."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(root: Path, profile: Profile, run: Run, log: Log = print, fresh: bool = False) -> None:
    """Execute one run in a scratch folder; move it into place only when it succeeded.

    ``fresh`` empties the run's work folders first: a run that replaces a complete one, or whose
    inputs were just made again, trains from scratch instead of resuming stale checkpoints.
    Without it, an interrupted run resumes.
    """
    import papermill

    if fresh:
        for folder in run.folders:
            shutil.rmtree(root / folder, ignore_errors=True)

    target = run_dir(root, profile, run.name)
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
        with environment(TQDM_DISABLE="1"):  # quiet kernels
            papermill.execute_notebook(
                str(root / "notebooks" / run.notebook),
                str(notebook),
                parameters={**run.parameters, "metrics_path": str(metrics_path)},
                cwd=str(root),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
            )
    except papermill.PapermillExecutionError as error:
        line = next((line for line in reversed(str(error.source).splitlines()) if line.strip()), "")
        raise StudyError(
            f"run {run.name!r} failed in notebooks/{run.notebook}, cell {error.exec_count} of the executed copy "
            f"(`{line.strip()[:80]}`): {error.ename}: {error.evalue} (executed copy kept at {notebook})"
        ) from None
    if not metrics_path.exists():
        raise StudyError(f"run {run.name!r}: notebooks/{run.notebook} wrote no metrics (parameter metrics_path)")
    hide_parameter_cells(notebook)
    if title := catalog_title(run.name):
        retitle(notebook, title)
    metrics = json.loads(metrics_path.read_text())
    metrics["provenance"] = {
        "run": run.name,
        "notebook": run.notebook,
        "profile": profile.name,
        "seed": profile.seed,
        "commit": commit,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.time() - started, 1),
        "hardware": hardware(),
        "parameters": run.parameters,
    }
    (scratch / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    metrics_path.unlink()
    if target.exists():
        shutil.rmtree(target)
    os.replace(scratch, target)
    log(f"[{profile.name}] {run.name}: done in {metrics['provenance']['wall_seconds']} s")


def schedule(
    by_name: dict[str, Run],
    only: Sequence[str] | None,
    force: bool,
    complete: Callable[[str], bool],
    products_exist: Callable[[str], bool],
    follow: bool = True,
) -> list[str]:
    """The runs to execute, in order (see :func:`run_study`), decided before any of them runs.

    ``complete`` and ``products_exist`` say what is on disk now; a run scheduled earlier counts as
    complete, with its products, for the runs after it.
    """
    order: list[str] = []

    def done(name: str) -> bool:
        return name in order or complete(name)

    def ensure(name: str, rerun: bool) -> None:
        run = by_name[name]
        if name in order:
            return
        for need in run.needs:
            if not done(need):
                ensure(need, False)
        if complete(name) and not rerun and not any(n in order for n in run.needs):
            return  # complete results are kept even when the work files behind them are gone (a fresh clone)
        for need in run.needs:
            if need not in order and not products_exist(need):
                ensure(need, True)  # this run reads work files that are gone: produce them again
        order.append(name)

    for name in list(only) if only else list(by_name):
        ensure(name, force)
    if follow:
        for name, run in by_name.items():  # plan order: a run comes after every run it needs
            if name not in order and complete(name) and any(n in order for n in run.needs):
                ensure(name, True)  # its results were made from inputs just made again: stale, so it follows
    return order


def stale_after(by_name: dict[str, Run], order: Sequence[str], complete: Callable[[str], bool]) -> list[str]:
    """Complete runs not in ``order`` that read a run in it: what ``follow=False`` leaves stale."""
    return [name for name, run in by_name.items()
            if name not in order and complete(name) and any(n in order for n in run.needs)]  # fmt: skip


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def last_wall_seconds(root: Path, profile: Profile, name: str) -> float | None:
    """The wall time of a run's published execution, if there is one: what the next one will roughly take."""
    path = run_dir(root, profile, name) / "metrics.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("provenance", {}).get("wall_seconds")


def run_study(
    profile_name: str | Profile,
    only: Sequence[str] | None = None,
    force: bool = False,
    log: Log = print,
    *,
    root: Path = ROOT,
    runs: Sequence[Run] | None = None,
    follow: bool = True,
    dry_run: bool = False,
) -> list[str]:
    """Execute the profile's incomplete runs (``only``: just these; ``force``: even complete ones).

    Complete runs that read a run executed here follow it (unless ``follow`` is False, which runs
    exactly what was asked and names the runs it leaves stale), so no published result is silently
    left computed from inputs that were since replaced. The schedule is logged first, with each
    run's last wall time; ``dry_run`` stops there. ``root`` holds ``notebooks/``, ``book/runs/``
    and ``work/``; ``runs`` replaces the profile's plan (tests). A :class:`Profile` may be given
    instead of a name (a shrunk copy of one, :func:`itemlib.study.profiles.shrink`). Returns the
    names of the runs executed (with ``dry_run``: that would be).
    """
    profile = profile_name if isinstance(profile_name, Profile) else get_profile(profile_name)
    by_name = {run.name: run for run in (runs if runs is not None else plan(profile))}
    unknown = set(only or []) - set(by_name)
    if unknown:
        raise ValueError(f"unknown runs {sorted(unknown)}; runs of {profile.name!r}: {', '.join(by_name)}")

    def complete(name: str) -> bool:
        return is_complete(root, profile, by_name[name])

    def products_exist(name: str) -> bool:
        return all((root / p).exists() for p in by_name[name].products)

    order = schedule(by_name, only, force, complete, products_exist, follow)
    times = [last_wall_seconds(root, profile, name) for name in order]
    known = sum(t for t in times if t)
    listed = ", ".join(f"{name} (last {duration(t)})" if t else name for name, t in zip(order, times))
    estimate = f"; about {duration(known)} by the last runs" if known else ""
    log(f"[{profile.name}] will run {len(order)}: {listed}{estimate}" if order
        else f"[{profile.name}] nothing to run: every run asked for is complete (--force re-runs it)")  # fmt: skip
    if stale := ([] if follow else stale_after(by_name, order, complete)):
        log(f"[{profile.name}] left as they are, though they read a run made again here: {', '.join(stale)}")
    if dry_run:
        return order
    executed: list[str] = []
    for name in order:
        run = by_name[name]
        # only an interrupted run whose inputs are unchanged resumes; any other starts from empty folders
        resumes = not complete(name) and not any(n in executed for n in run.needs)
        execute(root, profile, run, log, fresh=not resumes)
        executed.append(name)
    return executed
