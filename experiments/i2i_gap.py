"""Where the blend's distance to ALS on I2I comes from: the published test draw, by kind of query (#29).

The pass of ``547eac2`` (test seed 4) left Steam's fullest arm, tuned+popularity+cf, worse than ALS
alone on I2I (.352 against .432). ALS reads the id of the item a test query was written from; the
blend reads the query's words and reaches a reference only through the titles it finds
(:mod:`itemlib.querykind`), with the weight of the query's kind. This splits each catalog's I2I and
UH2I test queries by the kind the rule reads and compares the blend with ALS (and popularity) query
by query within each kind (paired 95% intervals), so a reader can see whether the distance is the
blend's ranking where it reads the item, or queries it misreads.

A diagnosis of a draw already published, read after publication: nothing is chosen from it, and the
test seed moves on before the next pass reports (seed 4 is a development set from here). For each
misread kind it also lists the phrasings, so a reader can see why they were misread.

Run: ``python experiments/i2i_gap.py TESTS_ROOT`` where ``TESTS_ROOT`` is the published pass's
``work/cpu/data`` (``CATALOG/test``); seconds. Reads ``book/runs/cpu/evaluate-CATALOG/metrics.json``
and writes ``experiments/i2i_gap.json``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from itemlib.comparison import paired_comparison
from itemlib.evaluation import load_tests
from itemlib.provenance import git_commit
from itemlib.querykind import TitleMatcher
from itemlib.study.experiments import write_record
from itemlib.study.profiles import PROFILES, study_catalog

RUNS = Path(__file__).parents[1] / "book" / "runs" / "cpu"
TASKS = ("I2I", "UH2I")


def main(tests_root: str) -> dict:
    profile = PROFILES["cpu"]
    result = {"commit": git_commit(), "catalogs": {}}
    for name in ("movielens", "steam"):
        catalog = study_catalog(name, profile.max_items, profile.seed)
        matcher = TitleMatcher(catalog)
        published = json.loads((RUNS / f"evaluate-{name}" / "metrics.json").read_text())
        per_query, arm = published["per_query"], f"tuned-{name}+popularity+cf"
        tests = load_tests(Path(tests_root) / name / "test", catalog, list(TASKS))
        result["catalogs"][name] = {"provenance": published["provenance"], "tasks": {}}
        for task in TASKS:
            records = tests[task]
            blend, als, popularity = (np.asarray(per_query[a][task]) for a in (arm, "als", "popularity"))
            assert len(blend) == len(records), (name, task, len(blend), len(records))
            kinds = np.array([matcher.kind(r["query"]) for r in records])
            rows = []
            for kind in dict.fromkeys(sorted(kinds)):
                mask = kinds == kind
                comparison = paired_comparison(blend[mask], als[mask], seed=profile.seed)
                phrasings = Counter(" ".join(r["query"].split()[-4:]) for r, m in zip(records, mask) if m)
                rows.append({"kind": kind, "queries": int(mask.sum()), "blend": round(float(blend[mask].mean()), 4),
                             "als": round(float(als[mask].mean()), 4),
                             "popularity": round(float(popularity[mask].mean()), 4),
                             "blend against als": {k: round(v, 4) if isinstance(v, float) else v
                                                   for k, v in comparison.items()},
                             "share of the distance": round(float((blend[mask] - als[mask]).sum() / len(blend)), 4),
                             "commonest endings": phrasings.most_common(3)})  # fmt: skip
            whole = paired_comparison(blend, als, seed=profile.seed)
            result["catalogs"][name]["tasks"][task] = {
                "queries": len(records),
                "blend against als": {k: round(v, 4) if isinstance(v, float) else v for k, v in whole.items()},
                "by kind": rows,
            }
            print(name, task, json.dumps(result["catalogs"][name]["tasks"][task], ensure_ascii=False), flush=True)
    write_record(__file__, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1])
