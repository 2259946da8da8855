"""How far a second training run moves the published figures: the cpu pass of 7299d2c against the
pass of 31792fd, both on test seed 5 (the same generated data, the same test queries).

The two passes differ only in how training embeds a batch (7299d2c embeds each column in chunks of
texts of similar length, ``chunk_rows`` 8, for speed): the same loss and gradients up to rounding
and the dropout masks drawn. So the difference between them is what one more training run costs or
gives by chance, a spread the test-query bootstrap intervals of the results page do not contain.

The criterion, fixed before the second pass's scores were read (this file is committed before its
run): nothing is chosen here. Per catalog, task and arm (tuned, tuned+popularity, the fullest arm
tuned+popularity+cf, and untuned as a check that the queries are the same: its difference must be
exactly 0), the mean per-query difference second − first with its 95% paired interval is recorded,
and each behaviour task's verdict of the fullest arm against untuned and against the best reference
is listed for both passes, so that a verdict that changes between the two runs is named.
The second pass is published whatever this shows (decided when it was started, for its time).

Run after the second pass, in the repository whose book/runs/cpu holds it:
``python experiments/rerun_spread.py [FIRST_COMMIT]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from itemlib.comparison import paired_comparison
from itemlib.study.claims import BEHAVIOUR_BAR
from itemlib.study.experiments import CATALOGS, new_record, write_record
from itemlib.taskinfo import tasks_in

FIRST = "cd2b4bd"  # the commit that published the pass of 31792fd
RUNS = Path("book/runs/cpu")


def first_metrics(commit: str, catalog: str) -> dict:
    """The first pass's evaluation of ``catalog``, as committed."""
    shown = subprocess.run(["git", "show", f"{commit}:{RUNS}/evaluate-{catalog}/metrics.json"],
                           check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(shown.stdout)


def main(commit: str = FIRST) -> None:
    record = new_record(__doc__) | {"first": commit}
    for catalog in CATALOGS:
        first = first_metrics(commit, catalog)
        second = json.loads((RUNS / f"evaluate-{catalog}" / "metrics.json").read_text())
        arms = ["untuned", f"tuned-{catalog}", f"tuned-{catalog}+popularity", f"tuned-{catalog}+popularity+cf"]
        rows = []
        for arm in arms:
            for task, scores in second["per_query"][arm].items():
                old = first["per_query"][arm][task]
                if len(old) != len(scores):
                    raise ValueError(f"{catalog} {task}: {len(old)} queries in the first pass, {len(scores)} now")
                comparison = paired_comparison(scores, old)
                rows.append({"arm": arm, "task": task, "first": sum(old) / len(old),
                             "second": sum(scores) / len(scores)} | comparison)  # fmt: skip
                if arm == "untuned" and comparison["difference"] != 0:
                    raise ValueError(f"{catalog} {task}: untuned differs between the passes: not the same queries")
        record["catalogs"][catalog] = {"differences": rows, "verdicts": verdicts(first, second, arms[-1])}
    out = write_record(__file__, record)
    for catalog, result in record["catalogs"].items():
        for row in result["differences"]:
            if row["arm"] != "untuned":
                print(f"{catalog:9s} {row['arm']:32s} {row['task']:5s} {row['first']:.3f} -> {row['second']:.3f}  "
                      f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}] {row['verdict']}")  # fmt: skip
        for row in result["verdicts"]:
            print(catalog, row)
    print("->", out)


def verdicts(first: dict, second: dict, arm: str) -> list[dict]:
    """Per behaviour task and pass: the fullest arm against untuned and against the reference with
    the highest mean in that pass (the behaviour claim's bar)."""
    rows = []
    for task in tasks_in("behaviour"):
        row = {"task": task}
        for name, metrics in (("first", first), ("second", second)):
            scores = metrics["per_query"]
            best = max(BEHAVIOUR_BAR, key=lambda ref: sum(scores[ref][task]) / len(scores[ref][task]))
            row[name] = {
                "untuned": paired_comparison(scores[arm][task], scores["untuned"][task])["verdict"],
                "best reference": best,
                "against it": paired_comparison(scores[arm][task], scores[best][task])["verdict"],
            }
        rows.append(row)
    return rows


if __name__ == "__main__":
    main(*sys.argv[1:])
