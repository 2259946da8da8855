"""Compare a candidate training recipe with the published one on a validation split, never the test set.

Both recipes train on the `cpu` profile's generated data of one catalog (the published one into
``work/recipes/<catalog>/published``, the candidate into ``work/recipes/<catalog>/<name>``; a finished
run is not trained again, an interrupted one resumes). The validation split holds training examples
neither run drew (``itemlib.validation``: a candidate that trains an epoch or more needs
``validation_share``). Untuned, published and candidate are scored on it, and each task's paired
95% interval of candidate - published is judged. The criterion the method page states: the candidate
replaces the published recipe when it is not worse beyond noise on at least 9 of the 10 tasks of each
catalog. Fix it, and the candidate, before looking at any score.

Run: ``python benchmarks/recipe_validation.py --catalog movielens --name B negatives=0 batch_size=32
max_steps=-1 epochs=1 validation_share=0.1`` (after ``itemlib generate --catalog movielens --out
work/cpu/data/movielens`` with the profile's settings).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd

from itemlib.evaluation import evaluate, paired_difference, verdict
from itemlib.retrieval import make_retriever
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.training import train
from itemlib.validation import write_validation_split


def _field(text: str) -> tuple[str, object]:
    """("negatives", 0) of "negatives=0"; a value that is not JSON stays a string (item_tower=frozen)."""
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--name", required=True, help="the candidate's folder name")
    parser.add_argument("--per-task", type=int, default=300, help="validation queries per task, at most")
    parser.add_argument("fields", nargs="+", metavar="FIELD=VALUE", help="TrainConfig fields the candidate changes")
    args = parser.parse_args()
    published = PROFILES["cpu"].training
    candidate = replace(published, **dict(_field(text) for text in args.fields))
    catalog, data, root = study_catalog(args.catalog), f"work/cpu/data/{args.catalog}", f"work/recipes/{args.catalog}"
    folders = {"published": f"{root}/published", args.name: f"{root}/{args.name}"}
    for config, folder in ((published, folders["published"]), (candidate, folders[args.name])):
        started = time.perf_counter()
        train(data, folder, config, catalog=catalog)
        print(json.dumps({"trained": folder, "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    split = f"{root}/validation-{args.name}"
    write_validation_split(data, catalog, list(folders.values()), split, per_task=args.per_task)
    scores = {
        label: evaluate(make_retriever(model), catalog, split, progress=False).per_query
        for label, model in {"untuned": "minilm", **folders}.items()
    }
    rows = []
    for task, group in scores["published"].groupby("task", sort=False):
        values = {label: table[table.task == task].value.to_numpy() for label, table in scores.items()}
        difference = paired_difference(values[args.name], values["published"])
        rows.append({"task": task, "queries": len(group), **{label: v.mean() for label, v in values.items()},
                     **difference, "verdict": verdict(difference["low"], difference["high"])})  # fmt: skip
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    print(f"not worse than the published recipe on {int((table.verdict != 'worse').sum())} of {len(table)} tasks")


if __name__ == "__main__":
    main()
