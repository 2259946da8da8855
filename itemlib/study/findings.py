"""The README's account of the published pass, written from its runs' records, never by hand.

The README quotes what the published runs found: which commit and test draw made them, what they
cost, the verdict counts against every reference and the claims the results page judges. Copied by
hand, those figures went stale with every pass; here they are rendered from the ``metrics.json`` of
the runs under ``book/runs/<profile>/`` and written between two markers of the README, and a test
checks that the README still says what the committed runs say.

The book's introduction gets the same treatment in five lines (:func:`intro`), each linked to the
table it comes from, and the reproduce page the measurement of untuned mpnet on Steam made beside
the pass (:func:`general_steam`, from ``experiments/general_model_steam.json``).

Example::

    itemlib findings                    # print the README's section for book/runs/cpu
    itemlib findings --write README.md book/intro.md book/reproduce.md  # rewrite their sections
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from itemlib.comparison import interval_text, judged_text
from itemlib.provenance import ROOT
from itemlib.publish import write_text_whole
from itemlib.study.claims import REDIAL_METRIC, behaviour_judged
from itemlib.study.notebook import published_runs
from itemlib.study.plan import CATALOG_NAMES
from itemlib.study.runner import StudyError
from itemlib.taskinfo import tasks_in

#: The sections a file may hold, each between an opening and a closing line: ``findings`` (the README's
#: account, :func:`summary`), ``findings-intro`` (the book introduction's five lines, :func:`intro`) and
#: ``findings-general-steam`` (the reproduce page's mpnet-on-Steam measurement, :func:`general_steam`).
#: Everything between the two lines is rewritten.
SECTIONS = ("findings", "findings-intro", "findings-general-steam")

#: Untuned mpnet on Steam's test set, measured beside a pass (``experiments/general_model_steam.py``): the
#: two-hour cpu pass cannot hold embedding Steam's items with it (about an hour on 2 cores).
GENERAL_STEAM = ROOT / "experiments" / "general_model_steam.json"
#: Where the book shows that measurement (the reproduce page's section of that title).
GENERAL_STEAM_ANCHOR = "reproduce.html#untuned-mpnet-on-steam-measured-beside-the-pass"


def markers(name: str) -> tuple[str, str]:
    """The opening and closing lines of section ``name``."""
    return (f"<!-- {name}: written by `itemlib findings --write` from the published runs; do not edit by hand -->",
            f"<!-- /{name} -->")  # fmt: skip


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _published(runs_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every complete run's metrics under ``runs_dir``, by run name; a results run is required."""
    runs = dict(published_runs(runs_dir))
    if "results" not in runs:
        raise StudyError(f"{runs_dir}: no complete results run (its metrics.json) to summarise")
    return runs


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


def summary(runs_dir: str | Path = ROOT / "book" / "runs" / "cpu", measured: str | Path = GENERAL_STEAM) -> str:
    """The README's section for the runs under ``runs_dir``: the pass, its training, the verdict table,
    then every claim of the results run and Chat-Rec's, as the book words them, and the measurement of
    untuned mpnet on Steam where one was made on this pass's test set."""
    runs = _published(runs_dir)
    results = runs["results"]
    claims = [*results["claims"], *([chat] if (chat := chat_sentence(runs.get("chat", {}))) else [])]
    if (beside := general_measurement(runs, measured)) is not None:
        claims.append(f"**Untuned {beside['reference']} on Steam, measured beside the pass** (the pass leaves "
                      "it out for time; the reproduce page has the table). Against it: "
                      f"{_general_verdicts(beside)}.")  # fmt: skip
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


def _name(catalog: str) -> str:
    return CATALOG_NAMES.get(catalog, catalog)


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _link(text: str, href: str) -> str:
    return f'(<a href="{href}">{text}</a>).'


def _counts_against(counts: Sequence[Mapping[str, Any]], reference: str) -> tuple[str, list[str]] | None:
    """The words "7 of 10 MovieLens tasks and 7 of 10 Steam tasks" against ``reference``, and where it wins."""
    rows = [row for row in counts if row["reference"] == reference]
    if not rows:
        return None
    better = _and([f"{row['better']} of {row['tasks']} {_name(row['test set'])} tasks" for row in rows])
    wins = [f"{row['reference wins on']} on {_name(row['test set'])}" for row in rows if row["worse"]]
    return better, wins


def intro_lines(runs_dir: str | Path = ROOT / "book" / "runs" / "cpu") -> list[str]:
    """What the published runs found, in at most five lines for the book's introduction: against the
    untuned model, against a larger general model, on behaviour tasks against a recommender, across
    domains and on requests people wrote; each with the figures it rests on and a link to its table."""
    runs = _published(runs_dir)
    results, profile = runs["results"], Path(runs_dir).name
    page = f"runs/{profile}/results/results.html"
    counts, lines = results["verdict_counts"], []
    if found := _counts_against(counts, "untuned"):
        better, wins = found
        lines.append(f"**Against the untuned model, in-domain.** The aligned model is better beyond query noise "
                     f"on {better}, and worse on {_and(wins) if wins else 'none'} "
                     + _link("headline table", f"{page}#the-headline-table"))  # fmt: skip
    general = sorted({row["reference"] for row in counts if row["reference"].startswith("untuned-")})
    for reference in general:
        better, wins = _counts_against(counts, reference)  # type: ignore[misc]
        absent = [_name(t) for t in dict.fromkeys(row["test set"] for row in counts)
                  if not any(r["reference"] == reference and r["test set"] == t for r in counts)]  # fmt: skip
        beside = general_measurement(runs) if absent == [_name("steam")] else None
        if beside is not None:
            row = beside[f"verdict counts (row − {beside['reference']})"]
            tuned = next(role for role in row if role != "untuned")
            steam_wins = f", worse on {row[tuned]['reference wins on']}" if row[tuned]["worse"] else ", worse on none"
            absent_text = (f"; on {row[tuned]['better']} of {row[tuned]['tasks']} Steam tasks{steam_wins}, "
                           f'<a href="{GENERAL_STEAM_ANCHOR}">measured beside the pass</a>')  # fmt: skip
        else:
            absent_text = f" (not run on {_and(absent)})" if absent else ""
        lines.append(f"**Against a larger general model.** Better than {reference} beyond noise on {better}, worse "
                     f"on {_and(wins) if wins else 'none'}{absent_text} "
                     + _link("verdicts", f"{page}#beyond-query-noise"))  # fmt: skip
    joined = {name.removeprefix("train-"): bool(((run.get("blend") or {}).get("judgement") or {}).get("joins"))
              for name, run in runs.items() if name.startswith("train-")}  # fmt: skip
    judged, _ = behaviour_judged(pd.DataFrame(results["behaviour"]), joined) if results["behaviour"] else ([], [])
    if len(judged):
        met = judged[(judged["verdict vs untuned"] == "better") & (judged.verdict != "worse")]
        worse = [f"{row.task} on {_name(row['test set'])} ({row['best reference'].split(' ')[0]} "
                 f"{row['vs best reference'].rsplit(' ', 1)[0]})"
                 for _, row in judged[judged.verdict == "worse"].iterrows()]  # fmt: skip
        # the arm judged can differ by catalog (the blend only where it met its criterion): say which where it does
        pairs = list(dict.fromkeys(zip(judged["test set"], judged.retriever)))
        arms = (pairs[0][1] if len({retriever for _, retriever in pairs}) == 1
                else _and([f"{retriever} on {_name(test)}" for test, retriever in pairs]))  # fmt: skip
        lines.append(f"**On what users did, against a recommender.** The fullest tuned arm ({arms}) is better than "
                     f"untuned and not worse than the best of popularity, item-kNN and ALS on {len(met)} of "
                     f"{len(judged)} behaviour tasks; worse than it on {_and(worse) if worse else 'none'} "
                     + _link("behaviour tasks", f"{page}#behaviour-tasks-against-a-recommender"))  # fmt: skip
    transfer = [row for row in results["paired_intervals"]
                if row["role"] == "out-of-domain" and row["reference"] == "untuned"]  # fmt: skip
    if transfer:
        behaviour = set(tasks_in("behaviour"))
        groups = {"behaviour": [r for r in transfer if r["task"] in behaviour],
                  "other": [r for r in transfer if r["task"] not in behaviour]}  # fmt: skip
        tally = {k: f"{sum(r['verdict'] == 'better' for r in v)} of {len(v)}" for k, v in groups.items()}
        worse = [f"{r['task']} on {_name(r['test set'])} ({interval_text(r['difference'], r['low'], r['high'])})"
                 for r in transfer if r["verdict"] == "worse"]  # fmt: skip
        tests = _and([_name(t) for t in dict.fromkeys(r["test set"] for r in transfer)])
        lines.append(f"**Across domains.** The model tuned on the other catalog (tested on {tests}) is better than "
                     f"untuned beyond noise on {tally['behaviour']} behaviour tasks and {tally['other']} others, "
                     f"worse on {_and(worse) if worse else 'none'} "
                     + _link("claims", f"{page}#the-paper-s-claims-point-by-point"))  # fmt: skip
    if line := _redial_line(runs.get("chat", {}), profile):
        lines.append(line)
    return lines


def intro(runs_dir: str | Path = ROOT / "book" / "runs" / "cpu") -> str:
    """:func:`intro_lines` as a numbered list."""
    return "\n".join(f"{number}. {line}" for number, line in enumerate(intro_lines(runs_dir), start=1))


def _redial_line(chat: Mapping[str, Any], profile: str) -> str | None:
    """Requests people wrote: every tuned arm and the best reference on ReDial, against untuned."""
    redial = chat.get("redial") or {}
    if not redial.get("table"):
        return None
    scores = {row["arm"]: row[REDIAL_METRIC] for row in redial["table"]}
    judged = {row["arm"]: row for row in redial.get("intervals", []) if row["metric"] == REDIAL_METRIC}
    kinds = {arm["label"]: arm["kind"] for arm in redial.get("arms", [])}
    tuned = [label for label in scores if kinds.get(label) == "tuned" and label in judged]
    references = [label for label in scores if kinds.get(label) == "reference" and label != "untuned"]
    if not tuned or "untuned" not in scores:
        return None
    best = max(references, key=lambda label: scores[label])
    said = "; ".join(f"{label} {scores[label]:.3f} ({judged[label]['verdict']}, "
                     f"{interval_text(judged[label]['difference'], judged[label]['low'], judged[label]['high'])})"
                     for label in tuned)  # fmt: skip
    cases = redial.get("report", {}).get("test cases", "the")
    metric = REDIAL_METRIC.replace("hit", "Hit")
    return (f"**Requests people wrote (ReDial).** On {cases} recommendation turns, {metric}"
            f" against untuned {scores['untuned']:.3f}: {said}; the best reference, {best}, {scores[best]:.3f} "
            + _link("ReDial", f"runs/{profile}/chat/chat.html#requests-people-wrote-redial"))  # fmt: skip


def general_measurement(runs: Mapping[str, Mapping[str, Any]],
                        measured: str | Path = GENERAL_STEAM) -> dict[str, Any] | None:  # fmt: skip
    """The mpnet-on-Steam measurement when it was made on the test set of the pass whose ``runs`` are
    given (its Steam evaluation's commit), else ``None`` (absent, or made beside another pass)."""
    record = _measurement(measured)
    return record if record is not None and record["published pass"] == _steam_commit(runs) else None


def _measurement(measured: str | Path) -> dict[str, Any] | None:
    """The record ``experiments/general_model_steam.py`` wrote, whichever pass it measured; None when absent."""
    path = Path(measured)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _steam_commit(runs: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The commit of the pass's Steam evaluation, whose test set a measurement must have used; None without one."""
    return runs["evaluate-steam"]["provenance"]["commit"] if "evaluate-steam" in runs else None


def _judged(row: Mapping[str, Any]) -> str:
    holm = f", Holm: {row['verdict (Holm)']}" if row["verdict (Holm)"] != row["verdict"] else ""
    return f"{judged_text(row)}{holm}"


def general_steam(runs_dir: str | Path, measured: str | Path = GENERAL_STEAM) -> str:
    """The reproduce page's account of untuned mpnet on Steam's test set: per task, the tuned and untuned
    MiniLM as the pass published them, mpnet, and each MiniLM's paired difference to mpnet; then the counts.
    A measurement made beside an earlier pass is shown under a paragraph that says so (its test draw and its
    tuned model are that pass's), never as this one's; the intro quotes only a measurement of this pass."""
    record = _measurement(measured)
    rerun = ("run `python experiments/general_model_steam.py work/cpu/data/steam` after the pass (about an hour "
             "on 2 cores), then `itemlib findings --write book/reproduce.md`")  # fmt: skip
    if record is None:
        return f"No measurement of untuned mpnet on the Steam test set of this pass: {rerun}."
    this = _steam_commit(_published(runs_dir))
    earlier = [] if record["published pass"] == this else [
        f"**Measured beside an earlier pass, not this one.** No measurement was made on this pass's Steam "
        f"test set{f' (commit `{this[:7]}`)' if this else ''}; the one below was made on "
        f"the test draw of the pass of commit `{record['published pass'][:7]}`, so its queries are that draw's "
        "and its tuned column is that pass's model, not the figures of the results page. Its untuned columns "
        "(MiniLM against mpnet, no training involved) still say whether a larger general model is enough, on "
        f"another draw of the same tasks. To measure this pass, {rerun}."]  # fmt: skip
    table = pd.DataFrame(record["table"])
    tuned = next(role for role in dict.fromkeys(table.role) if role != "untuned")
    general = record["reference"]
    lines = [f"| task | {tuned} | untuned MiniLM | untuned {general} | {tuned} − {general} "
             f"| untuned MiniLM − {general} |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for task, rows in table.groupby("task", sort=False):
        mine, theirs = (rows[rows.role == role].iloc[0] for role in (tuned, "untuned"))
        lines.append(f"| {task} | {mine[tuned]:.3f} | {theirs['untuned']:.3f} | {mine[general]:.3f} "
                     f"| {_judged(mine)} | {_judged(theirs)} |")  # fmt: skip
    minutes = record["seconds"] / 60
    return "\n\n".join([
        *earlier,
        f"Measured by `experiments/general_model_steam.py` at commit `{record['commit'][:7]}` on the Steam test "
        f"queries of the pass of commit `{record['published pass'][:7]}`, against the per-query scores "
        f"that pass published for its MiniLM models; {minutes:.0f} minutes of wall time on 2 cores (an upper "
        f"bound where other work shared the machine), almost all of it embedding Steam's items with {general}. "
        "Headline @5 per task; each difference with its 95% paired bootstrap interval and verdict, and the "
        "verdict after Holm's correction over the ten tasks where it differs.",
        "\n".join(lines),
        f"Against untuned {general}: {_general_verdicts(record)}.",
    ])  # fmt: skip


def _general_verdicts(record: Mapping[str, Any]) -> str:
    """The tuned and the untuned MiniLM's verdict counts against the general model of a measurement."""
    counts = record[f"verdict counts (row − {record['reference']})"]

    def said(role: str) -> str:
        row = counts[role]
        wins = f": {row['reference wins on']}" if row["worse"] else ""
        name = "untuned MiniLM" if role == "untuned" else role
        return (f"{name} is better beyond noise on {row['better']} of {row['tasks']} tasks ({row['better (Holm)']} "
                f"after Holm), within noise on {row['within noise']}, worse on {row['worse']}{wins}")  # fmt: skip

    tuned = next(role for role in counts if role != "untuned")
    return f"{said(tuned)}; {said('untuned')}"


def rewrite(text: str, runs_dir: str | Path, path: str | Path = "README.md") -> str:
    """``text`` (the contents of ``path``) with each section it holds rendered anew from ``runs_dir``."""
    render = {"findings": summary, "findings-intro": intro, "findings-general-steam": general_steam}
    found = 0
    for name in SECTIONS:
        start, end = markers(name)
        begin, close = text.find(start), text.find(end)
        if begin < 0:
            continue
        if close < begin:
            raise StudyError(f"{path}: section {name!r} opens but never closes (a line {end!r})")
        found += 1
        text = f"{text[:begin]}{start}\n\n{render[name](runs_dir)}\n\n{end}{text[close + len(end) :]}"
    if not found:
        raise StudyError(f"{path}: no findings section (a line {markers(SECTIONS[0])[0]!r} and its closing line)")
    return text


def write(path: str | Path, runs_dir: str | Path) -> bool:
    """Render the sections of ``path`` from ``runs_dir`` in place (atomically); True when it changed."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    new = rewrite(old, runs_dir, path)
    if new != old:
        write_text_whole(path, new)
    return new != old
