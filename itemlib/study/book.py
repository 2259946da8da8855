"""The Jupyter Book of one profile: its table of contents and the HTML build (nothing is executed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from itemlib.provenance import ROOT
from itemlib.study.plan import Run, catalog_title, plan
from itemlib.study.profiles import get_profile
from itemlib.study.runner import StudyError, is_complete

#: Runs shown as chapters of the results part, in this order; the others are listed as runs.
CHAPTERS = ("results", "diagnosis", "chat")


def write_toc(profile_name: str, root: Path = ROOT) -> Path:
    """``_toc.yml`` with the book pages and the executed runs of one profile."""
    profile = get_profile(profile_name)
    runs = [run for run in plan(profile, available_only=False) if is_complete(root, profile, run)]

    def page(run: Run) -> str:
        return f"book/runs/{profile.name}/{run.name}/{Path(run.notebook).stem}"

    lines = [
        "# Written by `itemlib study` for the profile shown in the book; do not edit by hand.",
        "format: jb-book",
        "root: book/intro",
        "parts:",
        "  - caption: The method",
        "    chapters:",
        "      - file: book/method",
        "      - file: book/reproduce",
        "  - caption: Results",
        "    chapters:",
    ]
    lines += [f"      - file: {page(r)}" for name in CHAPTERS for r in runs if r.name == name]
    use = [r for r in runs if r.name == "use"]
    lines += ["  - caption: Use it", "    chapters:", f"      - file: {page(use[0])}"] if use else []
    lines += ["  - caption: The runs", "    chapters:"]
    for run in runs:
        if run.name not in (*CHAPTERS, "use"):
            lines.append(f"      - file: {page(run)}")
            if title := catalog_title(run.name):  # one page per catalog: the sidebar names the catalog
                lines.append(f"        title: {title}")
    toc = root / "_toc.yml"
    toc.write_text("\n".join(lines) + "\n")
    return toc


def build_book(profile_name: str, strict: bool = True, root: Path = ROOT) -> Path:
    """Write the toc for ``profile_name`` and build the HTML (no notebook is executed)."""
    write_toc(profile_name, root)
    binary = Path(sys.executable).parent / "jupyter-book"
    command = [str(binary) if binary.exists() else "jupyter-book", "build", str(root), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise StudyError(f"book build failed ({' '.join(command)})")
    return root / "_build" / "html" / "index.html"
