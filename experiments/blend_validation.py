"""Does the text+CF blend join the study? (#29, #34) Chosen and judged on validation data only.

Superseded by ``experiments/blend_leak.py``: here the references were fitted on every training row,
so on the validation split they read what it asks (item-kNN answered Steam's I2I at .99); the
record below is kept as the decision it was.

The tuned model with its popularity prior is the study's best text arm on the behaviour tasks, yet
on Steam "most popular" still beats it on UH2I and US2I, and nothing in it reads what users did
with the items a request names. :class:`itemlib.retrieval.CollaborativeBlend` adds a
collaborative-filtering reference (item-kNN or ALS from ``implicit``) over the items a request
names by title. Here, for each catalog, on the cpu recipe's model (``work/cpu/models/CATALOG``, as
``itemlib study --profile cpu`` trains it) and its validation split (``-validation``: examples the
run never drew, written when its popularity weight was chosen):

1. the blend's reference and weight per kind of query are chosen on that split
   (:func:`itemlib.validation.choose_blend`, the criterion of the popularity weight);
2. the blend, tuned+popularity, tuned, untuned, popularity and the two references are scored on it,
   and the blend is compared with tuned+popularity task by task (paired 95% intervals);
3. on MovieLens, every text arm ranks ReDial's *training* dialogues (requests people wrote).

**Criterion, fixed before any score was seen:** the blend joins the study as the arm
"tuned+popularity+CF" when, on each catalog's validation split, it is better than tuned+popularity
beyond noise on at least one behaviour task (UH2I, I2I, US2I, UQ2I) and worse beyond noise on none
of the ten tasks. Its choice and its judgement share one split (three weights and a reference chosen
from sixteen settings, so its own score is a little optimistic); the published test draw, which
no decision has seen, is where it is measured.

Run: ``python experiments/blend_validation.py [movielens|steam ...]`` after the cpu profile's train
runs (about five minutes per catalog on 2 cores); writes ``experiments/blend_validation-CATALOG.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from itemlib.comparison import paired_comparison
from itemlib.evaluation import evaluate
from itemlib.provenance import git_commit
from itemlib.retrieval import make_retriever
from itemlib.study.arms import Arm
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.study.redial import run_redial
from itemlib.taskinfo import tasks_in
from itemlib.validation import tune_blend

WORK = Path("work/cpu/models")


def arms_for(catalog: str) -> list[Arm]:
    """The arms scored, the blend last."""
    model = str(WORK / catalog)
    untuned = PROFILES["cpu"].training.model
    return [
        Arm("untuned", untuned, "reference"),
        Arm("popularity", "popularity", "reference"),
        Arm("itemknn", "itemknn", "reference"),
        Arm("als", "als", "reference"),
        Arm("tuned", model, "tuned", catalog),
        Arm("tuned+popularity", f"{model}+popularity", "tuned", catalog, prior=True),
        Arm("tuned+popularity+cf", f"{model}+popularity+cf", "tuned", catalog, prior=True),
    ]


def judge(catalog_name: str) -> dict:
    profile = PROFILES["cpu"]
    catalog = study_catalog(catalog_name, profile.max_items, profile.seed)
    model, split = WORK / catalog_name, WORK / f"{catalog_name}-validation"
    started = time.perf_counter()
    choice = tune_blend(model, catalog)
    chose_s = time.perf_counter() - started
    arms = arms_for(catalog_name)
    scored = {arm.label: evaluate(make_retriever(arm.model), catalog, split, progress=False).per_query for arm in arms}
    behaviour = set(tasks_in("behaviour"))
    rows = []
    blend, prior = scored["tuned+popularity+cf"], scored["tuned+popularity"]
    for task, group in prior.groupby("task", sort=False):
        ours = blend[blend.task == task].value.to_numpy()
        means = {label: round(float(s[s.task == task].value.mean()), 4) for label, s in scored.items()}
        rows.append({"task": task, "queries": len(group), **means,
                     **paired_comparison(ours, group.value.to_numpy(), seed=profile.seed)})  # fmt: skip
    table = pd.DataFrame(rows)
    better = sorted(table[(table.verdict == "better") & table.task.isin(behaviour)].task)
    worse = sorted(table[table.verdict == "worse"].task)
    result = {
        "commit": git_commit(),
        "catalog": catalog_name,
        "criterion": __doc__.split("**Criterion, fixed before any score was seen:** ")[1].split("\n\n")[0],
        "choice": choice,
        "choice seconds": round(chose_s, 1),
        "blend - tuned+popularity on the validation split": json.loads(table.round(4).to_json(orient="records")),
        "better on behaviour tasks": better,
        "worse on": worse,
        "joins on this catalog": bool(better) and not worse,
    }
    if catalog_name == "movielens":
        text_arms = [arm for arm in arms if arm.label not in ("itemknn", "als", "popularity")] + arms[1:4]
        train = run_redial(catalog, text_arms, split="train", seed=profile.seed)
        result["redial train"] = {
            "report": train.report,
            "table": json.loads(train.table.round(4).reset_index().to_json(orient="records")),
            "vs untuned": json.loads(train.intervals.round(4).to_json(orient="records")),
            "blend - tuned+popularity hit@50": paired_comparison(
                train.per_case["tuned+popularity+cf"]["hit@50"],
                train.per_case["tuned+popularity"]["hit@50"],
                seed=profile.seed,
            ),
        }
    out = Path(__file__).with_name(f"blend_validation-{catalog_name}.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=float) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("choice",)}, indent=1, default=float)[:6000])
    return result


def main(catalogs: list[str]) -> None:
    for name in catalogs or ["movielens", "steam"]:
        judge(name)


if __name__ == "__main__":
    main(sys.argv[1:])
