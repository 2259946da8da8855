"""Choosing the popularity prior and the collaborative blend together, not one after the other (#29).

The study chooses, per kind of query (:mod:`itemlib.querykind`), first the popularity weight for the
tuned model alone (:func:`itemlib.validation.choose_popularity_weight`), then, on top of that prior,
the collaborative-filtering reference and its weight (:func:`itemlib.validation.choose_blend`). A
reference's scores already lean towards popular items, so the prior that is best for the text alone
can be too strong once a reference is added: ``experiments/item_kind_split.py`` found MovieLens'
I2I requests (one named film) better with the prior at .005 than at the .02 chosen for the text
alone, with the same blend (ALS, 1), on the queries that chose both (+.044 [+.009, +.088]).

Choosing with hindsight on the very queries scored flatters any larger search, and the joint search
has 150 settings per kind against the sequential one's 10 + 15. So the two procedures are compared
out of sample: each catalog's validation split is cut in two halves (per task, by a seeded shuffle);
each procedure chooses its per-kind settings on one half and every query of the other half is scored
with the settings chosen without it (two-fold cross-fitting), so every validation query gets one
out-of-sample score under each procedure, and the two are compared query by query.

The criterion, fixed before any score was seen: choosing jointly is adopted if, on the validation
splits of both catalogs, its out-of-sample scores are worse beyond noise (paired 95% interval) than
the sequential choice's on no task, and better beyond noise on at least one behaviour task (UH2I,
I2I, US2I, UQ2I) of one catalog. Otherwise it is reported as tried and lost and the study keeps
choosing one after the other.

Both procedures search the same grids (:data:`itemlib.validation.WEIGHTS` for the prior; each of
:data:`itemlib.collaborative.COLLABORATIVE` at :data:`itemlib.validation.BLEND_WEIGHTS` for the
blend), with the references fitted without what the split asks (:func:`itemlib.validation.reference_rows`),
and break ties the same way (the smaller blend weight, the smaller prior, the earlier reference).
The sequential procedure chosen on the whole split is checked against the pass's own files. The
blend's judgement (whether it joins at all) is left out of both: what is compared is the setting
each procedure gives each query. Validation data only: no test query is read.

Run: ``python experiments/joint_choice.py MODELS [CATALOG ...]`` where ``MODELS`` is a cpu pass's
``work/cpu/models`` (``CATALOG`` and ``CATALOG-validation``); about 20 minutes for Steam and 10 for
MovieLens on 2 cores with a warm embedding cache. Writes ``experiments/joint_choice.json``.
"""

from __future__ import annotations

import json
import sys
import time

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
    _kind_of_rows,
    _kinds_of,
    _MemoItemScores,
    _MemoScores,
    better_and_worse,
    reference_rows,
)

REFERENCES = tuple(COLLABORATIVE)
#: A setting for one kind of query: (prior weight, reference, blend weight).
Setting = tuple[float, str, float]


def settings() -> list[Setting]:
    """Every setting of the grids; blend weight 0 once (the text arm, whatever the reference)."""
    return [(prior, ref, mix) for prior in WEIGHTS for ref in REFERENCES for mix in BLEND_WEIGHTS
            if mix > 0 or ref == REFERENCES[0]]  # fmt: skip


def order(setting: Setting) -> tuple:
    """Ties between equal scores go to the smaller blend weight, the smaller prior, the earlier reference."""
    prior, ref, mix = setting
    return (-mix, -prior, -REFERENCES.index(ref))


def sequential(values: dict[Setting, np.ndarray], rows: np.ndarray) -> Setting:
    """The study's procedure on ``rows``: the prior best for the text alone, then the best blend on it."""
    text = [s for s in values if s[2] == 0.0]
    prior = max(text, key=lambda s: (round(float(values[s][rows].mean()), 6), -s[0]))[0]
    return max((s for s in values if s[0] == prior), key=lambda s: (round(float(values[s][rows].mean()), 6), *order(s)))


def joint(values: dict[Setting, np.ndarray], rows: np.ndarray) -> Setting:
    """The best setting of the whole grid on ``rows``."""
    return max(values, key=lambda s: (round(float(values[s][rows].mean()), 6), *order(s)))


def halves(tasks: np.ndarray, seed: int) -> np.ndarray:
    """Each row's half (0 or 1): per task, a seeded shuffle dealt alternately."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(tasks), dtype=int)
    for task in dict.fromkeys(tasks):
        rows = np.flatnonzero(tasks == task)
        fold[rng.permutation(rows)[1::2]] = 1
    return fold


def chosen(procedure, values: dict[Setting, np.ndarray], kinds: np.ndarray, rows: np.ndarray) -> dict[str, Setting]:
    """Per kind, the setting ``procedure`` chooses on ``rows`` (a kind without rows there: no prior, no blend)."""
    masks = {kind: rows & (kinds == kind) for kind in KINDS}
    return {kind: procedure(values, mask) if mask.any() else (0.0, REFERENCES[0], 0.0) for kind, mask in masks.items()}


def out_of_sample(procedure, values, kinds: np.ndarray, fold: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Every row's score under the settings ``procedure`` chose on the other half, and those settings."""
    scores = np.zeros(len(kinds))
    choices = []
    for half in (0, 1):
        choice = chosen(procedure, values, kinds, fold != half)
        choices.append({kind: list(setting) for kind, setting in choice.items()})
        for row in np.flatnonzero(fold == half):
            scores[row] = values[choice[kinds[row]]][row]
    return scores, choices


def main(models: str, catalogs: list[str]) -> dict:
    profile = PROFILES["cpu"]
    result = new_record(__doc__)
    for name, catalog, model, split in pass_catalogs(models, catalogs):
        started = time.perf_counter()
        base = _MemoScores(make_retriever(str(model)))
        training_rows = reference_rows(catalog, split)
        references = {ref: _MemoItemScores(COLLABORATIVE[ref](), training_rows) for ref in REFERENCES}
        values: dict[Setting, np.ndarray] = {}
        frame = None
        for setting in settings():
            prior, ref, mix = setting
            retriever = CollaborativeBlend(PopularityPrior(base, prior), references[ref], mix)
            per_query = evaluate(retriever, catalog, split, progress=False).per_query
            if frame is None:
                frame = per_query[["task", "query"]]
            values[setting] = per_query.value.to_numpy()
        tasks = frame.task.to_numpy()
        kinds = np.array(_kind_of_rows(frame, _kinds_of(catalog, split)))
        every = np.ones(len(tasks), dtype=bool)
        pass_prior = json.loads((model / WEIGHT_FILE).read_text())["weights"]
        pass_blend = json.loads((model / BLEND_FILE).read_text())
        check = {kind: [pass_prior[kind], pass_blend["reference"][kind] if pass_blend["weights"][kind]
                        else REFERENCES[0], pass_blend["weights"][kind]] for kind in KINDS}  # fmt: skip
        whole = {proc.__name__: {k: list(s) for k, s in chosen(proc, values, kinds, every).items()}
                 for proc in (sequential, joint)}  # fmt: skip
        fold = halves(tasks, profile.seed)
        ours, joint_choices = out_of_sample(joint, values, kinds, fold)
        theirs, sequential_choices = out_of_sample(sequential, values, kinds, fold)
        rows = []
        for task in dict.fromkeys(tasks):
            mask = tasks == task
            comparison = paired_comparison(ours[mask], theirs[mask], seed=profile.seed)
            rows.append({"task": task, "queries": int(mask.sum()), "sequential": round(float(theirs[mask].mean()), 4),
                         "joint": round(float(ours[mask].mean()), 4),
                         **{k: round(v, 4) if isinstance(v, float) else v for k, v in comparison.items()}})  # fmt: skip
        result["catalogs"][name] = {
            "model trained by": TrainingCard.read(model).commit,
            "pass's choice": check,
            "sequential on the whole split matches the pass": whole["sequential"] == check,
            "on the whole split": whole,
            "chosen per half": {"sequential": sequential_choices, "joint": joint_choices},
            "joint against sequential, out of sample": rows,
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(name, json.dumps({k: v for k, v in result["catalogs"][name].items() if k != "chosen per half"}, indent=0),
              flush=True)  # fmt: skip
    better, worse = better_and_worse(
        r for c in result["catalogs"].values() for r in c["joint against sequential, out of sample"]
    )
    result["adopted"] = bool(better) and not worse
    write_record(__file__, result)
    print("adopted:", result["adopted"])
    return result


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
