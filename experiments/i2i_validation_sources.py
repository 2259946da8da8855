"""Test-shaped I2I validation queries: held-out sources answered by the validation judges (#29).

The published blend chooses, per kind of query, a collaborative-filtering reference and its weight on
the validation split. Until now the split's I2I queries were the training examples no run drew,
answered by the validation judges' co-occurrences: their *sources* were trained on (the recipe cycles
through its I2I sources, each time with another neighbour as the answer), as no test source is. On
Steam's split of the 9236936 pass tuned+popularity found I2I's answers in .27 of those queries and
in .15 of the test draw's; the item kind chose item-kNN at 1/16 (.319) over ALS (.287), and on the
test draw the blend stayed .106 below ALS alone on I2I. The split was asking an easier question
than the test.

The change (``GenerateConfig.i2i_validation_sources``; ``itemlib.tasks.I2I.validation_source``): a
fixed quarter of the items (crc32 % 4 == 1, as test sources are % 4 == 0) with at least five
neighbours among the validation judges are never I2I training sources, and ``generate
--validation-per-task`` draws I2I validation queries from them, phrased from the training templates,
answered by all their neighbours among the validation judges and masked as a test query is; a
validation split then leaves the undrawn I2I examples out. It takes those sources out of I2I
training, so it is a recipe change and must not cost the model.

**The criterion, fixed before any score was seen:** the held-out validation sources join the recipe
if, on both catalogs, tuned+popularity trained on the new data (its prior chosen on its own split) is
worse beyond noise (paired 95% interval) than the published recipe's tuned+popularity on no task,
over the validation queries both splits hold (for I2I: the new test-shaped queries, whose sources the
published model was trained on, so that comparison favours the published model). The blend each
split chooses is reported beside it, as information: whether the choice moves cannot be judged
without the test draw, which stays untouched until the next published pass.

Run: ``python experiments/i2i_validation_sources.py MODELS DATA OUT [CATALOG ...]`` where ``MODELS``
and ``DATA`` are a cpu pass's ``work/cpu/models`` and ``work/cpu/data`` (the published recipe's model,
its validation split and data) and ``OUT`` a folder for the new data and model; about 25 minutes of
training per catalog on 2 cores, plus generation and scoring. Writes
``experiments/i2i_validation_sources.json``.
"""

from __future__ import annotations

import filecmp
import json
import sys
from dataclasses import replace
from pathlib import Path

from itemlib.comparison import compare_per_task
from itemlib.evaluation import evaluate, load_tests
from itemlib.generate import generate, write_jsonl
from itemlib.provenance import git_commit
from itemlib.retrieval import BLEND_FILE, make_retriever
from itemlib.study.experiments import MEETS, conclude, write_record
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.training import train
from itemlib.validation import ValidationConfig, better_and_worse, tune_blend, tune_popularity_weight

#: How the tables name the candidate and the published recipe.
LABELS = ("held-out sources", "published")


def _same_files(old: Path, new: Path, folder: str) -> dict[str, bool]:
    """Per file of ``old/folder``, whether ``new`` holds the same bytes."""
    names = sorted(p.name for p in (old / folder).glob("*.jsonl"))
    same, _, _ = filecmp.cmpfiles(old / folder, new / folder, names, shallow=False)
    return {name.removesuffix(".jsonl"): name in same for name in names}


def shared_split(published: Path, candidate: Path, catalog, out: Path) -> dict[str, int]:
    """The validation queries both splits hold (by task and query text, the candidate's records), and
    the candidate's test-shaped I2I queries, written to ``out/test`` in the test format."""
    old, new = load_tests(published, catalog), load_tests(candidate, catalog)
    counts = {}
    for task, records in new.items():
        known = {record["query"] for record in old.get(task, [])}
        kept = records if task == "I2I" else [record for record in records if record["query"] in known]
        write_jsonl(out / "test" / f"{task}.jsonl", kept)
        counts[task] = len(kept)
    record = {"kind": "shared validation queries", "catalog": catalog.name, "catalog_fingerprint": catalog.fingerprint}
    (out / "stats.json").write_text(json.dumps(record | {"tasks": counts}, indent=1) + "\n")
    return counts


def main(models: str, data: str, out_dir: str, catalogs: list[str]) -> dict:
    profile = PROFILES["cpu"]
    criterion = __doc__.split("fixed before any score was seen:** ")[1].split("\n\n")[0].replace("\n", " ")
    result_path = Path(__file__).with_suffix(".json")
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    result |= {"commit": git_commit(), "criterion": criterion}
    result.setdefault("catalogs", {})
    for name in catalogs or ["movielens", "steam"]:
        catalog = study_catalog(name, profile.max_items, profile.seed)
        old_data, new_data = Path(data) / name, Path(out_dir) / "data" / name
        published, model = Path(models) / name, Path(out_dir) / "models" / name
        if not (new_data / "stats.json").exists():
            generate(catalog, new_data, replace(profile.generation, i2i_validation_sources=True), progress=False)
        files = {split: _same_files(old_data, new_data, split) for split in ("train", "test", "validation")}
        if not (model / "itemlib_training.json").exists():
            train(new_data, model, profile.training, catalog=catalog)
        trained = json.loads((model / "training_log.json").read_text())[-1]["train_runtime"]
        validation = ValidationConfig(per_task=profile.popularity_validation, seed=profile.seed)
        prior = tune_popularity_weight(model, catalog, new_data, validation)
        blend = tune_blend(model, catalog, seed=profile.seed)
        split_stats = json.loads((Path(f"{model}-validation") / "stats.json").read_text())
        shared = Path(out_dir) / "shared" / name
        counts = shared_split(Path(f"{published}-validation"), Path(f"{model}-validation"), catalog, shared)
        arms = {"published": f"{published}+popularity", "held-out sources": f"{model}+popularity"}
        arms |= {f"{label}+cf": f"{spec}+cf" for label, spec in arms.items()}
        scored = {label: evaluate(make_retriever(spec), catalog, shared, progress=False).per_query
                  for label, spec in arms.items()}  # fmt: skip
        rows = compare_per_task(scored["held-out sources"], scored["published"], LABELS, profile.seed)
        better, worse = better_and_worse(rows)
        old_blend = json.loads((published / BLEND_FILE).read_text())
        result["catalogs"][name] = {
            "training seconds": round(trained, 1),
            "files unchanged (test: must all be)": files,
            "new split": {key: split_stats[key] for key in ("tasks", "test-shaped", "left out")},
            "shared queries": counts,
            "prior weights": {
                "published": json.loads((published / "popularity_weight.json").read_text())["weights"],
                "held-out sources": prior["weights"],
            },
            "blend": {
                "published": {k: old_blend[k] for k in ("reference", "weights")},
                "held-out sources": {k: blend[k] for k in ("reference", "weights")},
            },
            "blend item-kind scores (held-out sources' split)": {
                ref: blend["references"][ref]["scores"]["item"] for ref in blend["references"]
            },
            "tuned+popularity": rows,
            "worse on": worse,
            "better on": better,
            "tuned+popularity+cf (information)": compare_per_task(
                scored["held-out sources+cf"], scored["published+cf"], LABELS, profile.seed
            ),
            MEETS: not worse and all(files["test"].values()),
        }
        print(json.dumps(result["catalogs"][name], indent=1), flush=True)
        write_record(__file__, result)
    return conclude(__file__, result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
