"""A fourth kind of query, ``request``: a title with a wish is not "games like X" (#29).

Up to this experiment a query's kind (:mod:`itemlib.querykind`) came from how many catalog titles it
named: two or more, a history; one, an item; none, a description. On the cpu pass of ``1c6d80b``
(test seed 3) that put 106 of Steam's 199 UQ2I validation requests ("I played X; now show me an
Indie game") and every titled FA2I/SA2I query in the ``item`` kind beside I2I's "games like X", so
one weight served them all: the blend's item-kNN weight, chosen mostly for I2I, made UQ2I worse
(−.040 [−.075, −.015]) and the blend did not join on Steam. The rule now also asks whether the query
*asks for attributes* (a number or a field value outside the titles it names): if so, it is a
``request`` and gets its own prior and blend weights.

The criterion, fixed before any score of the new rule was seen: the new rule is adopted if, on the
validation split of each catalog, the fullest arm it gives (tuned+popularity+cf where its blend
meets :data:`itemlib.validation.BLEND_CRITERION`, else tuned+popularity) is worse beyond noise (paired
95% interval) than the fullest arm the count rule gave on no task of either catalog, and better beyond
noise on at least one behaviour task (UH2I, I2I, US2I, UQ2I) of one catalog. Otherwise it is reported
as tried and lost, and the count rule stays. Both arms are chosen and judged on the same split (so
both margins are a little optimistic); the test draw of the next pass is seed 4, which no decision
has seen.

For each catalog, on a copy of the pass's tuned model and its validation split (this writes the
copy's prior and blend files): the count rule's arm, with the weights and blend the pass chose
(its per-task scores checked against the pass's own judgement); the prior and blend chosen again
under the new rule, the blend judged; the two fullest arms compared task by task. Validation data
only: no test query is read.

Run: ``python experiments/request_kind.py MODELS SCRATCH [CATALOG ...]`` where ``MODELS`` is a cpu
pass's ``work/cpu/models`` (``CATALOG`` and ``CATALOG-validation``); with a warm embedding cache, a
few minutes per catalog on 2 cores. Writes ``experiments/request_kind.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from itemlib.cards import TrainingCard
from itemlib.collaborative import COLLABORATIVE
from itemlib.comparison import paired_comparison
from itemlib.evaluation import evaluate
from itemlib.querykind import TitleMatcher
from itemlib.retrieval import (
    BLEND_FILE,
    WEIGHT_FILE,
    CollaborativeBlend,
    PopularityPrior,
    blend_references,
    make_retriever,
)
from itemlib.study.experiments import new_record, pass_catalogs, write_record
from itemlib.study.profiles import PROFILES
from itemlib.validation import (
    _MemoItemScores,
    better_and_worse,
    choose_popularity_weight,
    reference_rows,
    tune_blend,
    validation_blend,
)


class CountRule(TitleMatcher):
    """The rule the pass chose with: the kind from how many titles a query names."""

    def kind(self, text: str) -> str:
        count = len(self.named(text))
        return "history" if count >= 2 else "item" if count == 1 else "description"


class CountRulePrior(PopularityPrior):
    def index(self, catalog) -> None:
        super().index(catalog)
        self.matcher = CountRule(catalog)


class CountRuleBlend(CollaborativeBlend):
    def index(self, catalog) -> None:
        super().index(catalog)
        self.matcher = CountRule(catalog)


def count_rule_arm(model: Path, catalog, split: Path):
    """The fullest arm the pass chose under the count rule (its files, three kinds; ``request`` never
    occurs under that rule, so its weight is immaterial), and whether its blend joined."""
    prior = json.loads((model / WEIGHT_FILE).read_text())["weights"]
    text = CountRulePrior(make_retriever(str(model)), prior | {"request": 0.0})
    blend = json.loads((model / BLEND_FILE).read_text())
    if not blend["judgement"]["joins"]:
        return text, blend
    rows = reference_rows(catalog, split)
    names = blend["reference"] | {"request": blend["reference"]["item"]}
    references = blend_references(names, lambda name: _MemoItemScores(COLLABORATIVE[name](), rows))
    return CountRuleBlend(text, references, blend["weights"] | {"request": 0.0}), blend


def per_task(per_query) -> dict:
    return {task: group.value.to_numpy() for task, group in per_query.groupby("task", sort=False)}


def main(models: str, scratch_root: str, catalogs: list[str]) -> dict:
    profile = PROFILES["cpu"]
    result = new_record(__doc__)
    for name, catalog, model, split in pass_catalogs(models, catalogs):
        started = time.perf_counter()
        scratch = Path(scratch_root) / f"{name}-request"
        for source, target in ((model, scratch), (split, Path(f"{scratch}-validation"))):
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoints"))
        old_arm, old_blend = count_rule_arm(model, catalog, split)
        old = per_task(evaluate(old_arm, catalog, split, progress=False).per_query)
        expected = {r["task"]: r["blend" if old_blend["judgement"]["joins"] else "text"]
                    for r in old_blend["judgement"]["tasks"]}  # fmt: skip
        check = {task: round(float(values.mean()), 4) for task, values in old.items()}
        assert all(abs(check[t] - expected[t]) < 1e-3 for t in expected), (check, expected)
        prior = choose_popularity_weight(str(scratch), catalog, Path(f"{scratch}-validation"))
        blend = tune_blend(scratch, catalog, seed=profile.seed)
        joins = blend["judgement"]["joins"]
        text = f"{scratch}+popularity"
        new_arm = validation_blend(text, catalog, Path(f"{scratch}-validation")) if joins else make_retriever(text)
        new = per_task(evaluate(new_arm, catalog, Path(f"{scratch}-validation"), progress=False).per_query)
        rows = []
        for task in old:
            comparison = paired_comparison(new[task], old[task], seed=profile.seed)
            rows.append({"task": task, "queries": len(old[task]), "count rule": round(float(old[task].mean()), 4),
                         "new rule": round(float(new[task].mean()), 4),
                         **{k: round(v, 4) if isinstance(v, float) else v for k, v in comparison.items()}})  # fmt: skip
        result["catalogs"][name] = {
            "model trained by": TrainingCard.read(model).commit,
            "seconds": round(time.perf_counter() - started, 1),
            "count rule": {"prior": json.loads((model / WEIGHT_FILE).read_text())["weights"],
                           "blend": {k: old_blend[k] for k in ("reference", "weights")},
                           "joins": old_blend["judgement"]["joins"],
                           "arm": "tuned+popularity+cf" if old_blend["judgement"]["joins"] else "tuned+popularity"},
            "new rule": {"kinds": prior["kinds"], "prior": prior["weights"], "prior scores": prior["scores"],
                         "blend": {k: blend[k] for k in ("reference", "weights")}, "blend scores": blend["references"],
                         "judgement": blend["judgement"],
                         "arm": "tuned+popularity+cf" if joins else "tuned+popularity"},
            "new rule against count rule": rows,
        }  # fmt: skip
        print(json.dumps(result["catalogs"][name]["new rule against count rule"], indent=0), flush=True)
    better, worse = better_and_worse(r for c in result["catalogs"].values() for r in c["new rule against count rule"])
    result["adopted"] = bool(better) and not worse
    write_record(__file__, result)
    print("adopted:", result["adopted"])
    return result


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
