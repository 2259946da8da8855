"""The blend chosen without the leak, on the seed-2 test draw, which is a development set from now on (#29).

The published pass (test seed 2) measured a blend chosen with the leak ``experiments/blend_leak.py``
describes, and its test figures showed the symptom, so seed 2 has guided a decision and the next
publication draws a fresh test seed. As a development set it can still say how far the blend chosen
without the leak is from #29's goal before that publication: on each behaviour task, the best of
tuned+popularity and tuned+popularity+cf against the best of popularity, item-kNN and ALS (paired 95%
intervals), on the pass's own models with the prior and blend chosen again by ``blend_leak.py``.

Nothing here is a published result, and no choice in the recipe is made from it: the blend's
settings come from the validation split alone.

Run after ``experiments/blend_leak.py``: ``python experiments/blend_dev_seed2.py MODELS DATA`` with
the same ``MODELS`` (its ``CATALOG-blend-leak`` folders) and ``DATA`` (a cpu pass's ``work/cpu/data``,
test seed 2); a few minutes per catalog on 2 cores with a warm embedding cache. Writes
``experiments/blend_dev_seed2.json``. The references' and popularity's per-query scores are checked
against those the published pass recorded (``book/runs/cpu/evaluate-CATALOG/metrics.json``), so the
draw is the published one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from itemlib.comparison import paired_comparison
from itemlib.evaluation import EvaluateConfig, evaluate
from itemlib.provenance import git_commit
from itemlib.retrieval import make_retriever
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.taskinfo import tasks_in

RUNS = Path(__file__).parents[1] / "book" / "runs" / "cpu"
REFERENCES = ("popularity", "itemknn", "als")


def main(models: str, data: str) -> dict:
    profile = PROFILES["cpu"]
    tasks = list(tasks_in("behaviour"))
    result = {"commit": git_commit(), "catalogs": {}}
    for name in ("movielens", "steam"):
        catalog = study_catalog(name, profile.max_items, profile.seed)
        model = Path(models) / f"{name}-blend-leak"
        published = json.loads((RUNS / f"evaluate-{name}" / "metrics.json").read_text())
        arms = {**{ref: ref for ref in REFERENCES}, "tuned+popularity": f"{model}+popularity",
                "tuned+popularity+cf": f"{model}+popularity+cf"}  # fmt: skip
        config = EvaluateConfig(tasks=tasks, progress=False)
        scores = {label: evaluate(make_retriever(spec), catalog, Path(data) / name, config).per_query
                  for label, spec in arms.items()}  # fmt: skip
        rows = []
        for task in tasks:
            values = {label: table[table.task == task].value.to_numpy() for label, table in scores.items()}
            for ref in REFERENCES:
                if not np.allclose(values[ref], published["per_query"][ref][task]):
                    raise ValueError(f"{data}/{name}: {ref}'s {task} scores differ from the published pass's")
            ours = max(("tuned+popularity", "tuned+popularity+cf"), key=lambda label: values[label].mean())
            best = max(REFERENCES, key=lambda label: values[label].mean())
            rows.append({"task": task, **{label: round(float(v.mean()), 4) for label, v in values.items()},
                         "ours": ours, "best reference": best,
                         **paired_comparison(values[ours], values[best], seed=profile.seed)})  # fmt: skip
        result["catalogs"][name] = rows
        for row in rows:
            print(name, json.dumps(row))
    out = Path(__file__).with_name("blend_dev_seed2.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
