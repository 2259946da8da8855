"""Does the mix need more behaviour examples? A validation comparison for the behaviour share (#29).

The paper generates more data for the tasks tied to user behaviour; the published recipe draws the
same 2,000 per task for every task. Here the data of one catalog is generated once with 4,000
examples per behaviour task (UH2I, I2I, US2I, UQ2I: more cut points per user, more I2I sources),
and two recipes of the cpu profile train on it:

- ``published``: the cpu recipe with every task capped at 2,000 examples (``max_per_task``), as
  the published data holds;
- ``behaviour-x2``: the same recipe without the cap, so each behaviour task gives about twice as
  many examples (the other tasks hold 2,000 anyway).

Both hold out the last tenth of each task; the validation split is what neither drew (for the
behaviour tasks the held-out tenth of the 4,000, which neither run reads), scored per query.

**Criterion, fixed before any score was seen:** ``behaviour-x2`` replaces the recipe's share when,
on the validation split of *each* catalog, (a) the paired difference behaviour-x2 − published
over the four behaviour tasks' validation queries pooled is better beyond noise (95% paired
bootstrap interval above zero), and (b) no other task is worse beyond noise. One catalog alone
decides nothing.

Run: ``python experiments/behaviour_share.py movielens`` (about 50 minutes on 2 cores); it writes
``experiments/behaviour_share-<catalog>.json`` with the per-task table, the pooled comparison,
both training times and the verdict.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from itemlib.generate import generate
from itemlib.provenance import git_commit
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.study.recipes import compare_recipes
from itemlib.taskinfo import tasks_in
from itemlib.validation import ValidationConfig

BEHAVIOUR_PER_TASK = 4000
PUBLISHED_PER_TASK = 2000


def main(catalog_name: str) -> dict:
    cpu = PROFILES["cpu"]
    profile = replace(
        cpu,
        name="cpu-behaviour",
        generation=replace(cpu.generation, behaviour_per_task=BEHAVIOUR_PER_TASK),
        training=replace(cpu.training, max_per_task=PUBLISHED_PER_TASK),
    )
    data = Path("work") / profile.name / "data" / catalog_name
    if not (data / "stats.json").exists():
        generate(study_catalog(catalog_name, profile.max_items, profile.seed), data, profile.generation, progress=False)
    comparison = compare_recipes(
        profile, catalog_name, "behaviour-x2", {"max_per_task": None}, ValidationConfig(per_task=400, seed=profile.seed)
    )
    behaviour = tasks_in("behaviour")
    pooled = comparison.pooled(behaviour)
    others = comparison.table[~comparison.table.task.isin(behaviour)]
    meets = pooled["verdict"] == "better" and not (others.verdict == "worse").any()
    result = {
        "catalog": catalog_name,
        "commit": git_commit(),
        "criterion": __doc__.split("**Criterion, fixed before any score was seen:** ")[1].split("\n\n")[0],
        "table": comparison.table.round(4).to_dict(orient="records"),
        "behaviour pooled": {k: round(v, 4) if isinstance(v, float) else v for k, v in pooled.items()},
        "seconds": comparison.seconds,
        "meets criterion on this catalog": bool(meets),
    }
    out = Path(__file__).with_name(f"behaviour_share-{catalog_name}.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(comparison.table.round(3).to_string(index=False))
    print("behaviour tasks pooled:", result["behaviour pooled"], "-> meets" if meets else "-> does not meet")
    return result


if __name__ == "__main__":
    main(sys.argv[1])
