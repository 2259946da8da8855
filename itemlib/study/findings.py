"""The README's account of the published pass, written from its runs' records, never by hand.

The README quotes what the published runs found: which commit and test draw made them, what they
cost, the verdict counts against every reference and the claims the results page judges. Copied by
hand, those figures went stale with every pass; here they are rendered from the ``metrics.json`` of
the runs under ``book/runs/<profile>/`` and written between two markers of the README, and a test
checks that the README still says what the committed runs say.

Example::

    itemlib findings                    # print the section for book/runs/cpu
    itemlib findings --write README.md  # replace the README's section with it
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from itemlib.comparison import interval_text
from itemlib.provenance import ROOT
from itemlib.study.notebook import published_runs
from itemlib.study.runner import StudyError

#: The lines that open and close the README's section; everything between them is rewritten.
START = "<!-- findings: written by `itemlib findings --write README.md` from book/runs/cpu; do not edit by hand -->"
END = "<!-- /findings -->"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def pass_sentence(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """Which commit(s), profile, seeds and machine made the runs, when, and their summed wall time."""
    provenance = {name: run["provenance"] for name, run in runs.items()}
    commits: dict[str, list[str]] = {}
    for name, info in provenance.items():
        commits.setdefault(str(info["commit"])[:7], []).append(name)
    made = (
        f"every run from commit `{next(iter(commits))}`"
        if len(commits) == 1
        else "runs from commits " + ", ".join(f"`{c}` ({', '.join(names)})" for c, names in commits.items())
    )
    profiles = sorted({str(info["profile"]) for info in provenance.values()})
    seeds = sorted({int(info["seed"]) for info in provenance.values()})
    test_seeds = sorted(
        {
            int(run["provenance"]["parameters"]["generate_config"]["test_seed"])
            for name, run in runs.items()
            if name.startswith("generate-")
        }
    )
    hardware = sorted({str(info["hardware"]) for info in provenance.values()})
    finished = sorted(str(info["finished"])[:10] for info in provenance.values())
    when = finished[0] if finished[0] == finished[-1] else f"{finished[0]} to {finished[-1]}"
    minutes = sum(float(info["wall_seconds"]) for info in provenance.values()) / 60
    return (
        f"The published runs: {_plural(len(runs), 'run')} of the `{'`, `'.join(profiles)}` profile "
        f"(`book/runs/{profiles[0]}/`): {made}, "
        f"seed {', '.join(map(str, seeds))}, test queries drawn with test seed {', '.join(map(str, test_seeds))}, "
        f"finished {when} on {'; '.join(hardware)}; their wall times add up to {minutes:.0f} minutes (the results "
        "page's compute table gives each run's)."
    )


def training_sentence(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """How much each in-domain model was trained, from its training card."""
    parts = []
    for name, run in runs.items():
        if name.startswith("train-") and (card := run.get("card")):
            hyper = card["hyperparameters"]
            parts.append(
                f"{card['global_step']:,} steps of {hyper['batch_size']} over {card['examples']:,} "
                f"{name.removeprefix('train-')} examples ({card['epoch']:.2f} epochs)"
            )
    return f"The base model fine-tuned on each catalog's generated tasks: {'; '.join(parts)}." if parts else ""


def verdict_table(counts: Sequence[Mapping[str, Any]]) -> str:
    """Test sets as rows, references as columns: better beyond noise on N of M tasks (Holm's count in
    brackets), and the tasks where the reference is better."""
    references = list(dict.fromkeys(row["reference"] for row in counts))
    tests = list(dict.fromkeys(row["test set"] for row in counts))
    cells = {(row["test set"], row["reference"]): row for row in counts}
    lines = [f"| test set | {' | '.join(references)} |", "|---" * (len(references) + 1) + "|"]
    for test in tests:
        row = []
        for reference in references:
            count = cells.get((test, reference))
            if count is None:
                row.append("—")
                continue
            cell = f"{count['better']}/{count['tasks']} ({count['better (Holm)']})"
            if count["worse"]:
                cell += f", worse on {count['reference wins on']}"
            row.append(cell)
        lines.append(f"| {test} | {' | '.join(row)} |")
    missing = len(tests) * len(references) > len(cells)
    return "\n".join(lines) + ("\n\n—: that reference is not run on that test set (the reproduce page says why)."
                               if missing else "")  # fmt: skip


def chat_sentence(chat: Mapping[str, Any]) -> str:
    """Claim (d) on the language-model dialogues, per catalog: every comparison the chat page makes,
    with its interval and verdict."""
    llm = chat.get("llm") or {}
    intervals, cost = llm.get("intervals") or [], llm.get("cost") or []
    if not intervals:
        return ""
    dialogues = ", ".join(f"{row['catalog']} {row['dialogues']}" for row in cost)
    per_catalog: dict[str, list[str]] = {}
    for row in intervals:
        text = f"{row['comparison']} {interval_text(row['difference'], row['low'], row['high'])} {row['verdict']}"
        per_catalog.setdefault(row["catalog"], []).append(text)
    said = ". ".join(f"On {catalog}: {'; '.join(rows)}" for catalog, rows in per_catalog.items())
    return (
        f"**Chat-Rec (generated dialogues re-ranked by the local language model: {dialogues}; Hit@5).** "
        f"{said}. The chat page shows how often the language model changed the top five at all."
    )


def summary(runs_dir: str | Path = ROOT / "book" / "runs" / "cpu") -> str:
    """The README's section for the runs under ``runs_dir``: the pass, its training, the verdict table,
    then every claim of the results run and Chat-Rec's, as the book words them."""
    runs = dict(published_runs(runs_dir))
    if "results" not in runs:
        raise StudyError(f"{runs_dir}: no complete results run (its metrics.json) to summarise")
    results = runs["results"]
    claims = [*results["claims"], *([chat] if (chat := chat_sentence(runs.get("chat", {}))) else [])]
    parts = [
        f"{pass_sentence(runs)} {training_sentence(runs)}",
        "The tuned model against each reference, in-domain: better beyond query noise (95% paired bootstrap "
        "interval above zero) on this many test tasks; in brackets, the count left after Holm's correction over "
        "a reference's tasks; the collaborative-filtering references answer the four behaviour tasks only.",
        verdict_table(results["verdict_counts"]),
        "The claims, as the results page judges them:",
        "\n".join(f"- {claim}" for claim in claims),
        "The results page of the book has every table, interval and caveat.",
    ]
    return "\n\n".join(parts)


def section(text: str) -> str:
    """``text`` between the README's markers."""
    return f"{START}\n\n{text}\n\n{END}"


def rewrite(readme_text: str, text: str, readme: str | Path = "README.md") -> str:
    """``readme_text`` with its section replaced by ``text``."""
    start, end = readme_text.find(START), readme_text.find(END)
    if start < 0 or end < start:
        raise StudyError(f"{readme}: no findings section (a line {START!r}, then a line {END!r})")
    return readme_text[:start] + section(text) + readme_text[end + len(END) :]


def write_readme(readme: str | Path, runs_dir: str | Path) -> bool:
    """Replace ``readme``'s section with the summary of ``runs_dir``; True when it changed."""
    path = Path(readme)
    old = path.read_text(encoding="utf-8")
    new = rewrite(old, summary(runs_dir), path)
    if new != old:
        partial = path.with_name(path.name + ".partial")
        partial.write_text(new, encoding="utf-8")
        partial.replace(path)  # atomic: a reader never sees half a README
    return new != old
