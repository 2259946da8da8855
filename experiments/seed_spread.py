"""How much does the training seed alone move the scores? Three seeds of one recipe (#30).

Every interval in the study is a paired bootstrap over test *queries*: it says how much the score
would move with another draw of queries, not with another training run. Here the cpu profile's
recipe is trained three times on the same generated data of one catalog, changing only
``TrainConfig.seed``: the order of the data, hence each example's in-batch neighbours, and the
resampled positives (the weights start from the same pretrained MiniLM every time). The three models are scored on one
validation split none of them drew (the test set is not read), per task:

- each seed's mean headline value, the range (max − min) and the standard deviation over seeds;
- the paired 95% interval of seed 1 − seed 0 and seed 2 − seed 0 with its verdict: a seed "better"
  or "worse beyond noise" than another means the query interval understates the run-to-run spread.

This is a measurement, not a decision: nothing in the recipe depends on it. It lives outside the
two-hour profile (about 55 minutes on 2 cores for MovieLens: three trainings of ~17 minutes and the
scoring).

Run: ``python experiments/seed_spread.py movielens [SEED ...]`` (default 0 1 2); it writes
``experiments/seed_spread-<catalog>.json`` with the per-task table and the training times (a subset of
the seeds writes ``...-seeds-0-1.json`` and scores its own validation split).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from itemlib.comparison import paired_comparison
from itemlib.evaluation import evaluate
from itemlib.generate import generate
from itemlib.provenance import git_commit
from itemlib.retrieval import make_retriever
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.training import train
from itemlib.validation import ValidationConfig, write_validation_split

SEEDS = (0, 1, 2)


def main(catalog_name: str, seeds: tuple[int, ...] = SEEDS) -> dict:
    profile = PROFILES["cpu"]
    catalog = study_catalog(catalog_name, profile.max_items, profile.seed)
    data = Path("work") / profile.name / "data" / catalog_name
    if not (data / "stats.json").exists():
        generate(catalog, data, profile.generation, progress=False)
    folder = Path("work") / "seeds" / profile.name / catalog_name
    models, seconds = {}, {}
    for seed in seeds:
        models[seed] = folder / f"seed-{seed}"
        started = time.perf_counter()
        train(data, models[seed], replace(profile.training, seed=seed), catalog=catalog)
        seconds[f"seed {seed}"] = round(time.perf_counter() - started, 1)
        print(f"trained seed {seed} into {models[seed]} ({seconds[f'seed {seed}']} s)", flush=True)
    split = folder / ("validation" if seeds == SEEDS else "validation-" + "-".join(map(str, seeds)))
    validation = ValidationConfig(per_task=400, seed=profile.seed)
    write_validation_split(data, catalog, list(models.values()), split, validation)
    scored = {
        seed: evaluate(make_retriever(str(model)), catalog, split, progress=False).per_query
        for seed, model in models.items()
    }
    rows = []
    for task, group in scored[0].groupby("task", sort=False):
        values = {seed: table[table.task == task].value.to_numpy() for seed, table in scored.items()}
        means = pd.Series({seed: v.mean() for seed, v in values.items()})
        row = {"task": task, "queries": len(group), **{f"seed {s}": m for s, m in means.items()},
               "range": means.max() - means.min(), "sd": means.std(ddof=1)}  # fmt: skip
        for seed in seeds[1:]:
            comparison = paired_comparison(values[seed], values[0])
            row[f"seed {seed} - seed 0"] = comparison["difference"]
            row[f"interval {seed}"] = [comparison["low"], comparison["high"]]
            row[f"verdict {seed}"] = comparison["verdict"]
        rows.append(row)
    table = pd.DataFrame(rows)
    result = {
        "catalog": catalog_name,
        "commit": git_commit(),
        "recipe": profile.name,
        "seeds": list(seeds),
        "table": json.loads(table.round(4).to_json(orient="records")),
        "largest range": round(float(table["range"].max()), 4),
        "median range": round(float(table["range"].median()), 4),
        "seed comparisons beyond noise": int(sum((table[f"verdict {s}"] != "within noise").sum() for s in seeds[1:])),
        "seconds": seconds,
    }
    suffix = "" if seeds == SEEDS else "-seeds-" + "-".join(map(str, seeds))  # a partial run never overwrites
    out = Path(__file__).with_name(f"seed_spread-{catalog_name}{suffix}.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(table.round(3).to_string(index=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1], tuple(int(seed) for seed in sys.argv[2:]) or SEEDS)
