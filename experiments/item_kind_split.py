"""Would telling "games like X" from "I just played X" pay? An upper bound on validation (#29).

A query that names one catalog title and asks for nothing more is of the ``item`` kind
(:mod:`itemlib.querykind`), and gets one popularity weight and one blend (reference and weight).
Two tasks make that kind: I2I ("games like X": the answers are X's co-occurrence neighbours among
held-out users, rarely popular) and UH2I with a one-title history ("I just played X; what next?":
the answer is the user's next item, often a popular one; half of Steam's UH2I). On the test draw
of the pass ``547eac2`` the blend stayed worse than ALS alone on Steam's I2I (−.080) and than
popularity alone on Steam's UH2I (−.061): one weight cannot serve both if they pull apart.

Telling them apart would need a rule that reads the request's phrasing ("like", "similar to" against
"played", "next"), and those words are the generator's own templates. Before building one, this
measures what it could give at most: on the pass's validation split, each of the two groups (the
I2I queries of the item kind; the UH2I queries of the item kind) gets the prior weight, reference and
blend weight best *for that group alone* over the same grids the pass searched (an oracle: a form
rule that sorts the queries perfectly and chooses with hindsight on the very queries it is scored
on), and is compared query by query with what the pass chose for the kind as a whole.

The criterion, fixed before any score was seen: a rule that splits the item kind by phrasing is worth
building only if, on the validation split of Steam or MovieLens, this oracle is better beyond noise
(paired 95% interval) than the pass's choice on the item-kind queries of I2I or of UH2I, and worse on
neither (it cannot be worse on its own queries, short of ties, since the pass's choice is in its
grid). Otherwise the lever is closed and the method appendix reports it as tried and lost. Because
the oracle is chosen and scored on the same queries, its margin is an upper bound: passing this test
would be a reason to build and judge a real rule, not a result.

Also reported per group: the popularity prior alone and each reference alone (fitted without what the
split asks), so the distance the oracle leaves to them is visible. Validation data only: no test
query is read.

Run: ``python experiments/item_kind_split.py MODELS [CATALOG ...]`` where ``MODELS`` is a cpu pass's
``work/cpu/models`` (``CATALOG`` and ``CATALOG-validation``); a few minutes per catalog on 2 cores
with a warm embedding cache. Writes ``experiments/item_kind_split.json``.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from itemlib.cards import TrainingCard
from itemlib.collaborative import COLLABORATIVE
from itemlib.comparison import paired_comparison
from itemlib.evaluation import evaluate
from itemlib.querykind import KINDS
from itemlib.retrieval import BLEND_FILE, WEIGHT_FILE, CollaborativeBlend, PopularityPrior, make_retriever
from itemlib.study.experiments import new_record, pass_catalogs, write_record
from itemlib.study.profiles import PROFILES
from itemlib.validation import (
    BLEND_WEIGHTS,
    WEIGHTS,
    _kinds_of,
    _MemoItemScores,
    _MemoScores,
    reference_rows,
)

TASKS = ("I2I", "UH2I")
KIND = "item"


def item_rows(per_query, kinds: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per task of :data:`TASKS`, the headline of its item-kind queries, in file order."""
    out = {}
    for task in TASKS:
        group = per_query[per_query.task == task]
        keep = [kinds[task][row] == KIND for row in group["query"]]
        out[task] = group.value.to_numpy()[np.array(keep, dtype=bool)]
    return out


def item_scores(retriever, *, catalog, split: Path, kinds: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """``retriever`` scored on the split's I2I and UH2I queries, kept for the item-kind ones."""
    return item_rows(evaluate(retriever, catalog, split, progress=False, tasks=list(TASKS)).per_query, kinds)


def main(models: str, catalogs: list[str]) -> dict:
    profile = PROFILES["cpu"]
    result = new_record(__doc__)
    for name, catalog, model, split in pass_catalogs(models, catalogs):
        started = time.perf_counter()
        kinds = _kinds_of(catalog, split)
        prior = json.loads((model / WEIGHT_FILE).read_text())["weights"]
        blend = json.loads((model / BLEND_FILE).read_text())
        base = _MemoScores(make_retriever(str(model)))
        rows = reference_rows(catalog, split)
        references = {ref: _MemoItemScores(COLLABORATIVE[ref](), rows) for ref in COLLABORATIVE}

        scored = partial(item_scores, catalog=catalog, split=split, kinds=kinds)
        # every (prior weight, reference, blend weight) for the item kind; other kinds as the pass chose
        # (they do not touch item-kind queries)
        arms: dict[tuple[float, str, float], dict[str, np.ndarray]] = {}
        for weight in WEIGHTS:
            text = PopularityPrior(base, prior | {KIND: weight})
            for ref, reference in references.items():
                for mix in BLEND_WEIGHTS:
                    if mix == 0.0 and ref != next(iter(COLLABORATIVE)):
                        continue  # weight 0 is the text arm whatever the reference
                    arms[(weight, ref, mix)] = scored(
                        CollaborativeBlend(text, reference, dict.fromkeys(KINDS, 0.0) | {KIND: mix})
                    )
        joined = blend["judgement"]["joins"]
        chosen_key = (prior[KIND], blend["reference"][KIND] if joined else next(iter(COLLABORATIVE)),
                      blend["weights"][KIND] if joined else 0.0)  # fmt: skip
        if chosen_key[2] == 0.0:
            chosen_key = (chosen_key[0], next(iter(COLLABORATIVE)), 0.0)
        chosen = arms[chosen_key]
        alone = {"popularity": scored(PopularityPrior(base, dict.fromkeys(KINDS, 1e6)))}
        alone |= {ref: scored(reference) for ref, reference in references.items()}
        groups = {}
        for task in TASKS:
            # the best arm for this group alone (ties: the smaller prior, then the smaller blend weight)
            best_key = max(arms, key=lambda key: (round(float(arms[key][task].mean()), 6), -key[0], -key[2]))
            comparison = paired_comparison(arms[best_key][task], chosen[task], seed=profile.seed)
            groups[task] = {
                "queries": int(len(chosen[task])),
                "pass's choice": {"prior": chosen_key[0], "reference": chosen_key[1], "blend": chosen_key[2],
                                  "score": round(float(chosen[task].mean()), 4)},
                "oracle": {"prior": best_key[0], "reference": best_key[1], "blend": best_key[2],
                           "score": round(float(arms[best_key][task].mean()), 4)},
                "oracle against pass's choice": {k: round(v, 4) if isinstance(v, float) else v
                                                 for k, v in comparison.items()},
                "alone": {what: round(float(values[task].mean()), 4) for what, values in alone.items()},
                "grid": {f"prior {w} {ref} {mix}": round(float(values[task].mean()), 4)
                         for (w, ref, mix), values in arms.items()},
            }  # fmt: skip
            print(name, task, {k: v for k, v in groups[task].items() if k != "grid"}, flush=True)
        result["catalogs"][name] = {
            "model trained by": TrainingCard.read(model).commit,
            "item-kind share": {task: round(kinds[task].count(KIND) / len(kinds[task]), 3) for task in TASKS},
            "groups": groups,
            "seconds": round(time.perf_counter() - started, 1),
        }
    compared = [g["oracle against pass's choice"]["verdict"] for c in result["catalogs"].values()
                for g in c["groups"].values()]  # fmt: skip
    result["worth building"] = "better" in compared and "worse" not in compared
    write_record(__file__, result)
    print("worth building:", result["worth building"])
    return result


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
