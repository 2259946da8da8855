"""Untuned all-mpnet-base-v2 on Steam: the general-model reference the cpu pass leaves out (#31).

The cpu profile judges the aligned MiniLM against untuned mpnet (110M parameters, five times
MiniLM) on MovieLens only: embedding Steam's 32,131 long item texts with mpnet takes about an hour
on 2 cores (the 3,776 longest took 11 minutes, about a sixth of the catalog's tokens), which the
two-hour pass cannot hold. This measures it once, outside the pass, on
the test set of a published pass: mpnet is scored on the pass's own Steam test queries and compared,
query by query, with the per-query scores that pass published for its tuned Steam model and its
untuned MiniLM (``book/runs/cpu/evaluate-steam/metrics.json``), by the same paired 95% bootstrap
intervals and Holm's correction over the ten tasks as the results page. Before the hour of mpnet, BM25
(seconds) is scored on ``TESTS_DIR`` and must match that pass's published BM25 score on every query:
equal query counts alone would not show that the queries are the ones the pass scored.

A measurement, not a decision: nothing in the recipe depends on it, and the test draw it reads had
already been published.

Run: ``python experiments/general_model_steam.py TESTS_DIR`` where ``TESTS_DIR`` holds the pass's
generated Steam data (``work/cpu/data/steam`` of the clone that ran it); about an hour on 2 cores.
It writes ``experiments/general_model_steam.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from itemlib.comparison import corrected_verdict, holm, paired_comparison
from itemlib.evaluation import evaluate
from itemlib.provenance import git_commit
from itemlib.retrieval import make_retriever
from itemlib.study.claims import verdict_counts
from itemlib.study.profiles import PROFILES, study_catalog

PUBLISHED = Path(__file__).parents[1] / "book" / "runs" / "cpu" / "evaluate-steam" / "metrics.json"
GENERAL = "mpnet"
#: A retriever that reads the query text and takes seconds: it checks the test set is the published one.
CHECK = "bm25"


def _require_published_queries(catalog, tests_dir: str, published: dict) -> None:
    """Refuse a ``tests_dir`` whose queries are not the published pass's: BM25 reads the query text,
    so its per-query scores match the published ones only on the same queries, in the same order."""
    scored = evaluate(make_retriever(CHECK), catalog, tests_dir).per_query
    for task, group in scored.groupby("task", sort=False):
        if group.value.tolist() != published["per_query"][CHECK][task]:
            raise ValueError(f"{tests_dir}: {CHECK}'s {task} scores differ from {PUBLISHED}'s: "
                             "not the test set that pass scored")  # fmt: skip


def main(tests_dir: str) -> dict:
    commit = git_commit()  # the code that runs: read before the hour it takes, while commits may land
    profile = PROFILES["cpu"]
    published = json.loads(PUBLISHED.read_text())
    tuned = next(arm["label"] for arm in published["arms"] if arm["kind"] == "tuned" and not arm["prior"])
    catalog = study_catalog("steam", profile.max_items, profile.seed)
    _require_published_queries(catalog, tests_dir, published)
    started = time.perf_counter()
    scored = evaluate(make_retriever(GENERAL, progress=True), catalog, tests_dir, progress=True).per_query
    seconds = round(time.perf_counter() - started, 1)
    rows = []
    for task, group in scored.groupby("task", sort=False):
        ours = group.value.to_numpy()
        for label in (tuned, "untuned"):
            theirs = published["per_query"][label][task]
            rows.append({"test set": "steam", "role": label, "task": task, "reference": GENERAL, "queries": len(ours),
                         label: sum(theirs) / len(theirs), GENERAL: float(ours.mean()),
                         **paired_comparison(theirs, ours, seed=profile.seed)})  # fmt: skip
    table = pd.DataFrame(rows)
    # Holm over each row's family, as the results page reads it (itemlib.study.claims.paired_intervals)
    table["p (Holm)"] = table.groupby("role", sort=False).p.transform(lambda p: holm(p.to_numpy()))
    table["verdict (Holm)"] = [corrected_verdict(d, p) for d, p in zip(table.difference, table["p (Holm)"])]
    counts = {label: verdict_counts(table, label).drop(columns=["test set", "reference"]).iloc[0].to_dict()
              for label in (tuned, "untuned")}  # fmt: skip
    result = {
        "commit": commit,
        "published pass": published["provenance"]["commit"],
        "test set": tests_dir,
        "reference": GENERAL,
        "seconds": seconds,
        "verdict counts (row − mpnet)": json.loads(json.dumps(counts, default=int)),
        "table": json.loads(table.round(4).to_json(orient="records")),
    }
    out = Path(__file__).with_name("general_model_steam.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(table.round(4).to_string(index=False))
    print(json.dumps(counts, indent=1))
    return result


if __name__ == "__main__":
    main(sys.argv[1])
