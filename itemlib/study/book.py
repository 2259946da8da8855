"""The Jupyter Book of one profile: its table of contents and the HTML build (nothing is executed)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from itemlib.provenance import ROOT
from itemlib.publish import write_text_whole
from itemlib.study.plan import Run, catalog_title, plan
from itemlib.study.profiles import get_profile
from itemlib.study.runner import StudyError, is_complete

#: Runs shown as chapters of the results part, in this order; the others are listed as runs.
CHAPTERS = ("results", "diagnosis", "chat")

#: Width in pixels of a cell's output area in headless Chromium at a 1,400-pixel window (the book's
#: theme), and the estimate of a table's narrowest layout: per column, its longest unbreakable word
#: (browsers break at spaces and after hyphens) at ``TABLE_CHAR_PX`` plus ``TABLE_CELL_PX`` of padding.
#: Calibrated against the widths Chromium measured on the cpu and smoke books of 2026-12: every table
#: it drew wider than the output area is estimated wider, and no table of the smoke book that fits is
#: estimated wider (a rough rule: a table near the limit deserves a narrower shape anyway).
PAGE_PX, TABLE_CHAR_PX, TABLE_CELL_PX = 772, 9.4, 13
EXPONENT = re.compile(r"\b\d(?:\.\d+)?e[-+]?\d+\b")
#: A number padded with zeros past the third decimal (pandas writes a float label as "32.000000").
LONG_DECIMALS = re.compile(r"^[-+]?\d+\.\d{3,}0$")


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
    write_text_whole(toc, "\n".join(lines) + "\n")
    return toc


def table_problems(page: Path) -> list[str]:
    """What a reader would trip over in the tables of one built HTML page: a table wider than the page
    (cut off, or scrolled sideways), a ``NaN`` cell, a number in exponent form or padded with zeros."""
    from bs4 import BeautifulSoup

    problems = []
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for number, table in enumerate(soup.select("article table"), start=1):
        widest: dict[int, int] = {}  # column -> its longest unbreakable word, in characters
        for row in table.find_all("tr"):
            column = 0
            for cell in row.find_all(["th", "td"]):
                text = cell.get_text(" ", strip=True)
                if text == "NaN":
                    problems.append(f"{page}: table {number} shows NaN (write a dash for a missing value)")
                if match := EXPONENT.search(text):
                    problems.append(f"{page}: table {number} writes {match.group()!r} in exponent form")
                if LONG_DECIMALS.match(text):
                    problems.append(f"{page}: table {number} writes {text!r} (zeros past the third decimal)")
                span = int(cell.get("colspan", 1))
                if span == 1:
                    word = max((len(w) for w in re.split(r"\s+|(?<=-)", text)), default=0)
                    widest[column] = max(widest.get(column, 0), word)
                column += span
        width = round(sum(TABLE_CHAR_PX * chars + TABLE_CELL_PX for chars in widest.values()))
        if width > PAGE_PX:
            problems.append(f"{page}: table {number} is about {width} px wide, the page {PAGE_PX} px "
                            f"({len(widest)} columns): split it, stack it or shorten its headers")  # fmt: skip
    return sorted(set(problems), key=problems.index)


def book_table_problems(html_dir: Path, pages: str = "book/**/*.html") -> list[str]:
    """:func:`table_problems` of every built page under ``html_dir``."""
    return [problem for page in sorted(html_dir.glob(pages)) for problem in table_problems(page)]


def build_book(profile_name: str, strict: bool = True, root: Path = ROOT, checked_runs: Sequence[str] = ()) -> Path:
    """Write the toc for ``profile_name`` and build the HTML (no notebook is executed); ``strict``
    turns Sphinx warnings, and :func:`table_problems` on the pages of ``checked_runs`` (the runs just
    executed: a page is held to the book's table style when it is made), into errors."""
    write_toc(profile_name, root)
    binary = Path(sys.executable).parent / "jupyter-book"
    command = [str(binary) if binary.exists() else "jupyter-book", "build", str(root), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise StudyError(f"book build failed ({' '.join(command)})")
    html = root / "_build" / "html"
    problems = [p for run in checked_runs for p in book_table_problems(html, f"book/runs/{profile_name}/{run}/*.html")]
    if strict and problems:
        raise StudyError("the book's tables need mending:\n" + "\n".join(problems))
    return html / "index.html"
