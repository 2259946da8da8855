"""What every study notebook does, exported once (d2l's ``#@save`` idea): the setup cell, writing the
run's metrics, and the provenance box of a results page."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from itemlib.cards import examples_seen
from itemlib.provenance import git_commit
from itemlib.publish import write_text_whole
from itemlib.study.tables import number, use_book_tables


def setup() -> None:
    """Offline hub, quiet warnings, the book's plot theme and table style."""
    import seaborn as sns

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    sns.set_theme(style="whitegrid")
    pd.set_option("display.float_format", number)
    use_book_tables()


def shell(command: str) -> str:
    """Show ``command`` as a reader types it in a shell (an ``itemlib ...`` line they can paste) and run
    it here with this environment's itemlib; show and return what it printed. A command that fails
    fails the page, naming it."""
    from IPython.display import Markdown, display

    words = shlex.split(command)
    if words[0] != "itemlib":
        raise ValueError(f"not an itemlib command: {command}")
    display(Markdown(f"```bash\n{command}\n```"))
    done = subprocess.run([sys.executable, "-m", "itemlib.cli", *words[1:]], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"`{command}` exited with {done.returncode}: {done.stderr.strip()[-800:]}")
    print(done.stdout, end="")
    return done.stdout


def write_metrics(path: str | Path, metrics: dict[str, Any]) -> None:
    """The run's results, as the study runner expects them at the ``metrics_path`` parameter."""
    write_text_whole(path, json.dumps(metrics, indent=1, default=str))


def page_provenance(profile: str, seed: int) -> str:
    """The line a results page prints about its own execution (its run's metrics.json is written
    only after the notebook finishes, so the page cannot read it)."""
    from itemlib.study.runner import hardware

    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return (
        f"This page was executed at commit `{git_commit()}`, profile `{profile}`, seed {seed}, on {now}, "
        f"on {hardware()}."
    )


def published_runs(runs_dir: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(run name, its metrics.json) of every completed run under ``runs_dir``, in name order."""
    for path in sorted(Path(runs_dir).glob("*/metrics.json")):
        yield path.parent.name, json.loads(path.read_text())


def provenance_table(runs_dir: str | Path, runs: Sequence[str] | None = None) -> list[dict]:
    """One row per completed run (``runs``: only these): what the book's provenance boxes show.

    The commit is cut to its first 12 hex digits, the finish time to the minute (UTC) and the wall time
    to a tenth of a minute, so the table fits a page; each run's ``metrics.json`` keeps the full values.
    """
    rows = []
    for name, metrics in published_runs(runs_dir):
        if runs is not None and name not in runs:
            continue
        info = metrics.get("provenance", {})
        row = {key: info.get(key) for key in ("run", "profile", "seed", "commit", "finished")}
        seconds = info.get("wall_seconds")
        row |= {"wall time (min)": None if seconds is None else f"{seconds / 60:.1f}", "hardware": info.get("hardware")}
        if row["commit"]:
            row["commit"] = str(row["commit"])[:12]
        if row["finished"]:
            finished = dt.datetime.fromisoformat(str(row["finished"])).astimezone(dt.timezone.utc)
            row["finished"] = finished.strftime("%Y-%m-%d %H:%M UTC")
        rows.append(row)
    return rows


def provenance(
    profile: str, seed: int, runs_dir: str | Path, runs: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> pd.DataFrame | None:
    """Show this page's own execution line and return the table of the runs it reads (indexed by run;
    ``None`` when it reads no run's products, as the catalogs page)."""
    from IPython.display import Markdown, display

    display(Markdown(page_provenance(profile, seed)))
    table = pd.DataFrame(provenance_table(runs_dir, runs))
    if table.empty:
        return None
    return table[~table.run.isin(exclude)].set_index("run")


def run_minutes(runs_dir: str | Path, runs: Sequence[str]) -> float:
    """The wall time in minutes of ``runs`` as published under ``runs_dir`` (0 where none is)."""
    return (
        sum(m.get("provenance", {}).get("wall_seconds", 0) for name, m in published_runs(runs_dir) if name in runs) / 60
    )


def compute_table(runs_dir: str | Path, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """What each run cost (``exclude``: runs left out, such as the page that shows the table, whose own
    cost is not known while it runs): wall time and hardware, and for training runs the steps, the
    examples seen (steps x batch x accumulation) and the epochs that makes over its training set, then a
    row with the total wall time. Cells are written for the page: a blank where a run has no such figure."""
    rows, total = [], 0.0
    for name, metrics in published_runs(runs_dir):
        if name in exclude:
            continue
        info = metrics.get("provenance", {})
        minutes = info.get("wall_seconds", 0) / 60
        total += minutes
        row = {"run": info.get("run", name), "wall time (min)": f"{minutes:.1f}"}
        row |= dict.fromkeys(["steps", "examples seen", "training examples", "epochs"], "")
        if card := metrics.get("card"):
            seen = examples_seen(card)
            row |= {
                "steps": f"{card['global_step']:,}",
                "examples seen": f"{seen:,}",
                "training examples": f"{card['examples']:,}",
                "epochs": f"{seen / card['examples']:.2f}",
            }
        rows.append(row | {"hardware": info.get("hardware", "")})
    if not rows:
        return pd.DataFrame()
    rows.append(dict.fromkeys(rows[0], "") | {"run": "total", "wall time (min)": f"{total:.1f}"})
    return pd.DataFrame(rows).set_index("run")
