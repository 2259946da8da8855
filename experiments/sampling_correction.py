"""Does the text model learn behaviour once in-batch negatives stop punishing popular answers? (#29)

The cpu recipe trains with filtered in-batch negatives only: each query is contrasted with the other
examples' positives. A popular game is the positive of many behaviour examples (the next item of many
histories), so it is also a negative of nearly every other query, and the loss teaches the model to
keep it away: the model learns log p(item | query) − log q(item), with q the item's share of the
batch's answers (Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
Recommendations", RecSys 2019). On the published test draw the tuned model alone finds Steam's next
game in the top 5 for 1% of histories, where popularity alone finds it for 21%; the popularity prior
adds it back at ranking time, with one weight per kind of query.

The candidate subtracts log q (each item's share of the run's training positives) from the logits of
the behaviour tasks' queries during training (``TrainConfig.sampling_correction`` = UH2I, I2I, US2I,
UQ2I; the other tasks keep it off, so a title lookup is not drawn to popular items), on the cpu
recipe otherwise unchanged. Its prior weights are chosen on its own validation split as the pass
chooses the published model's; both splits hold the same queries (the same examples are drawn, the
loss aside), and both models are scored on the published one, query by query.

**Criterion, fixed before any score was seen:** the correction joins the cpu recipe if, on the
validation split of each catalog, tuned+popularity trained with it (its prior chosen on that split) is
better beyond noise (paired 95% interval) than the published recipe's tuned+popularity on at least one
behaviour task and worse beyond noise on none of the ten tasks. The tuned models alone are compared
too, for the reader; they decide nothing. The collaborative-filtering blend is chosen after the prior
and is left to the pass.

Run: ``python experiments/sampling_correction.py MODELS DATA [CATALOG ...]`` where ``MODELS`` is a cpu
pass's ``work/cpu/models`` (``CATALOG`` and ``CATALOG-validation``) and ``DATA`` its ``work/cpu/data``;
a training run per catalog (20-25 minutes on 2 cores) and a few minutes of scoring. Writes
``experiments/sampling_correction.json``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from itemlib.comparison import compare_per_task
from itemlib.evaluation import evaluate, load_tests
from itemlib.provenance import git_commit
from itemlib.retrieval import make_retriever
from itemlib.study.experiments import MEETS, conclude, write_record
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.taskinfo import tasks_in
from itemlib.training import train
from itemlib.validation import ValidationConfig, better_and_worse, tune_popularity_weight

SUFFIX = "-logq"
#: How the tables name the candidate and the published recipe.
LABELS = ("corrected", "published")


def main(models: str, data: str, catalogs: list[str]) -> dict:
    profile = PROFILES["cpu"]
    criterion = __doc__.split("fixed before any score was seen:** ")[1].split("\n\n")[0].replace("\n", " ")
    out = Path(__file__).with_name("sampling_correction.json")
    result = json.loads(out.read_text()) if out.exists() else {}
    result |= {"commit": git_commit(), "criterion": criterion}
    result.setdefault("catalogs", {})
    candidate = replace(profile.training, sampling_correction=list(tasks_in("behaviour")))
    for name in catalogs or ["movielens", "steam"]:
        catalog = study_catalog(name, profile.max_items, profile.seed)
        published, model = Path(models) / name, Path(models) / f"{name}{SUFFIX}"
        started = time.perf_counter()
        train(Path(data) / name, model, candidate, catalog=catalog)
        trained = time.perf_counter() - started
        validation = ValidationConfig(per_task=profile.popularity_validation, seed=profile.seed)
        prior = tune_popularity_weight(model, catalog, Path(data) / name, validation)
        split = Path(models) / f"{name}-validation"
        own = load_tests(f"{model}-validation", catalog)
        same = {task: [r["query"] for r in records] == [r["query"] for r in own.get(task, [])]
                for task, records in load_tests(split, catalog).items()}  # fmt: skip
        arms = {"published": str(published), "corrected": str(model)}
        arms |= {f"{label}+popularity": f"{spec}+popularity" for label, spec in arms.items()}
        scored = {label: evaluate(make_retriever(spec), catalog, split, progress=False).per_query
                  for label, spec in arms.items()}  # fmt: skip
        with_prior = compare_per_task(scored["corrected+popularity"], scored["published+popularity"], LABELS,
                                      profile.seed)  # fmt: skip
        better, worse = better_and_worse(with_prior)
        published_prior = json.loads((published / "popularity_weight.json").read_text())["weights"]
        result["catalogs"][name] = {
            "training seconds": round(trained, 1),
            "same validation queries": same,
            "prior weights": {"published": published_prior, "corrected": prior["weights"]},
            "tuned+popularity": with_prior,
            "tuned alone": compare_per_task(scored["corrected"], scored["published"], LABELS, profile.seed),
            "better on behaviour tasks": better,
            "worse on": worse,
            MEETS: bool(better) and not worse,
        }
        print(json.dumps(result["catalogs"][name], indent=1), flush=True)
        write_record(__file__, result)
    return conclude(__file__, result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
