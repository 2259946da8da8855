"""A validation split for choosing recipe settings without the test set.

A training run may draw only part of the generated training examples, and one of a whole epoch or
more holds some out (``validation_share``; the ``cpu`` profile: the last tenth of each task). The
rest are examples of the same tasks, phrasings and targets that the run never saw, which is what a
validation split needs: comparing settings on them leaves the test set, with its own phrasings and
held-out targets, untouched until the final measurement. Each example is judged as a test query of
its task would be (:meth:`itemlib.tasks.Task.as_test`), and the split is written in the test
format, so ``itemlib evaluate --tests`` reads it. I2I is judged as at test time, by users nothing
chosen on the split was fitted on: a training example's answers are co-occurrences among the users
the references are fitted on, so its answers here are the source's neighbours among the
*validation judges* (:func:`itemlib.cooccurrence.is_validation_judge`) instead.

The popularity prior's weights (:class:`itemlib.retrieval.PopularityPrior`) are chosen here too, on
such a split and never on the test set, by one criterion fixed in advance: per kind of query
(:mod:`itemlib.querykind`), the mean headline metric over the split's queries of that kind
(:func:`choose_popularity_weight`). So is the collaborative-filtering blend
(:class:`itemlib.retrieval.CollaborativeBlend`): its reference and its weight per kind of query, by
the same criterion (:func:`choose_blend`). The references it blends are fitted for that choice as
they would be for a test query, without what the split asks (:func:`reference_rows`): without the
validation judges, and each queried user's history cut where the query cuts it. Fitted on every
training row they read the split's targets: on the cpu profile's Steam split item-kNN answered I2I
at .99 (the answers were its own counts; .25 on the test draw), and the blend chose it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from itemlib.cards import TrainingCard
from itemlib.catalog import Catalog
from itemlib.collaborative import COLLABORATIVE
from itemlib.comparison import compare_per_task
from itemlib.config import Config, option
from itemlib.cooccurrence import BASKET_PREFIX, training_rows, validation_neighbours
from itemlib.evaluation import HEADLINE_LABEL, evaluate, load_tests
from itemlib.generate import test_record, write_jsonl
from itemlib.models import ModelError
from itemlib.publish import published_dir, require_catalog, require_complete, write_text_whole
from itemlib.querykind import KINDS, TitleMatcher
from itemlib.retrieval import (
    BLEND_FILE,
    POPULARITY_SUFFIX,
    WEIGHT_FILE,
    CollaborativeBlend,
    PopularityPrior,
    blend_references,
    make_retriever,
    model_of,
)
from itemlib.taskinfo import tasks_in
from itemlib.tasks import NEIGHBOURS, get_task
from itemlib.training import TrainConfig, drawn_rows, load_training_records, resample_positives, run_fingerprint

#: Weights tried on the validation split, doubling from .005: from the text model alone (0) to one where
#: popularity all but decides (1.28 · log(1 + interactions) outweighs any cosine difference).
WEIGHTS = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)
#: Blend weights tried, doubling from 1/16: from the text scores alone (0) to a reference that decides
#: (4 standard deviations of its scores outweigh any text difference).
BLEND_WEIGHTS = (0.0, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass
class ValidationConfig(Config):
    """A validation split: training examples that no given run drew, in the test format."""

    per_task: int = option(300, minimum=1, help="validation examples per task, at most")
    seed: int = option(0, help="fixes which unseen examples are drawn")


def validation_split(
    data_dir: str | Path, catalog: Catalog, trained: Sequence[str | Path], config: ValidationConfig | None = None
) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """Up to ``config.per_task`` test-form records per task from training examples none of ``trained``
    drew, then every test-shaped validation query the data holds (``validation/``, drawn as the test
    draws its own: for a user-history task a validation judge's next item, for I2I a source no run
    trains on), and the count of undrawn examples left out, per task and reason. Undrawn I2I examples are
    answered by the validation judges (:func:`validation_i2i`; a source without such an answer is
    left out) and, where the data holds test-shaped I2I queries, all left out: their sources were
    trained on with other answers, as no test source is (on Steam's cpu split of 9236936 they made
    tuned+popularity look nearly twice as good at I2I as on the test draw: .27 against .15).

    ``trained`` are model folders fine-tuned on ``data_dir``; an example counts as drawn by a run
    when its task and query match one that run's data loader yields.
    """
    config = config or ValidationConfig()
    require_catalog(data_dir, require_complete(data_dir, "stats.json", "run `itemlib generate` again"), catalog)
    drawn: set[tuple[str, str]] = set()
    for model_dir in trained:
        card = TrainingCard.read(model_dir)
        recipe = TrainConfig.from_card(card)
        records, _ = load_training_records(data_dir, recipe)
        if not _trained_on(card, recipe, records, catalog):
            raise ValueError(
                f"{model_dir} was not trained on {data_dir}: its examples (and settings) differ from what that data "
                "gives with the model's settings"
            )
        drawn.update(
            (records[row]["task"], records[row]["query"]) for row in drawn_rows(records, recipe, str(model_dir))
        )
    everything, _ = load_training_records(data_dir, TrainConfig(negatives=0))
    unseen: dict[str, list[dict]] = {}
    for record in everything:
        if (record["task"], record["query"]) not in drawn:
            unseen.setdefault(record["task"], []).append(record)
    # the test-shaped validation queries `itemlib generate --validation-per-task` wrote: no run trains on them
    shaped = load_tests(data_dir, catalog, folder="validation")
    left_out = {}
    if "I2I" in unseen and "I2I" in shaped:
        left_out["I2I (undrawn: their sources were trained on; test-shaped queries instead)"] = len(unseen.pop("I2I"))
    elif "I2I" in unseen:
        judged = validation_i2i(catalog, unseen["I2I"])
        left_out["I2I (no answer among the validation judges)"] = len(unseen["I2I"]) - len(judged)
        unseen["I2I"] = judged
    split = {}
    for task, records in unseen.items():
        chosen = random.Random(f"{config.seed}:{task}:validation").sample(records, min(config.per_task, len(records)))
        split[task] = [test_record(catalog, get_task(task).as_test(record)) for record in chosen]
    for task, records in shaped.items():
        split[task] = split.get(task, []) + records
    return split, left_out


def validation_i2i(catalog: Catalog, records: list[dict]) -> list[dict]:
    """I2I training ``records`` answered as a validation split needs: the source's neighbours among
    the validation judges' items (:func:`itemlib.cooccurrence.is_validation_judge`) in place of the
    other users' (which the references are fitted on); a source with no such neighbour is left out."""
    neighbours = validation_neighbours(catalog, NEIGHBOURS)
    judged = []
    for record in records:
        source = record["spec"]["ids"][0]
        answers = [catalog.items[at].id for at in neighbours.get(catalog.index[source], [])]
        if answers:
            judged.append(record | {"spec": record["spec"] | {"ids": [source, *answers]}})
    return judged


def reference_rows(catalog: Catalog, validation_dir: str | Path) -> dict[str, list[str]]:
    """The training rows a collaborative-filtering reference is fitted on to be judged on the
    validation split ``validation_dir``, as it is fitted for the test: no validation judge's rows
    (their co-occurrences answer the split's I2I), and each queried user's history (and basket)
    without the items after what the query knows (its target and later; a user queried at two cut
    points keeps what both know)."""
    hidden: dict[str, set[str]] = {}
    histories = catalog.training_histories()
    for records in load_tests(validation_dir, catalog).values():
        for record in records:
            user = record.get("user")
            if user in histories and record["task"] != "I2I":
                hidden.setdefault(user, set()).update(set(histories[user]) - set(record["mask_ids"]))
    return {row: [item for item in ids if item not in hidden.get(row.removeprefix(BASKET_PREFIX), ())]
            for row, ids in training_rows(catalog, judges=False, validation_judges=False).items()}  # fmt: skip


def _trained_on(card: TrainingCard, recipe: TrainConfig, records: list[dict], catalog: Catalog) -> bool:
    """Whether the run of ``card`` trained on exactly ``records`` (its run fingerprint: settings and
    every example's texts, after the run's resampling of positives)."""
    if recipe.resample_positives:
        records = resample_positives(records, catalog, recipe.resample_positives, recipe.seed)
    # a card records the LoRA rank a preset chose; the run itself was fingerprinted with the rank it was given
    asked = [recipe, dataclasses.replace(recipe, lora_rank=0)]
    return card.fingerprint in {run_fingerprint(settings, records) for settings in asked}


def write_validation_split(
    data_dir: str | Path,
    catalog: Catalog,
    trained: Sequence[str | Path],
    out_dir: str | Path,
    config: ValidationConfig | None = None,
) -> dict[str, int]:
    """Write :func:`validation_split` to ``out_dir/test/<TASK>.jsonl`` and its completion record
    ``out_dir/stats.json`` (published whole, as ``itemlib generate`` does); returns the count per task."""
    with published_dir(out_dir, "stats.json", "validation-split", [data_dir, *trained]) as scratch:
        config = config or ValidationConfig()
        split, left_out = validation_split(data_dir, catalog, trained, config)
        for task, records in split.items():
            write_jsonl(scratch / "test" / f"{task}.jsonl", records)
        counts = {task: len(records) for task, records in split.items()}
        record = {
            "kind": "validation-split",
            "catalog": catalog.name,
            "catalog_fingerprint": catalog.fingerprint,
            "data": str(data_dir),
            "trained": [str(t) for t in trained],
            "per_task": config.per_task,
            "seed": config.seed,
            "tasks": counts,
            "test-shaped": {
                task: len(records) for task, records in load_tests(data_dir, catalog, folder="validation").items()
            },  # fmt: skip
            "left out": left_out,
        }
        (scratch / "stats.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return counts


class _MemoScores:
    """Scores of a retriever remembered per query batch: the weight grid re-scores the same queries.
    The memory belongs to one catalog; indexing another starts it afresh."""

    def __init__(self, base) -> None:
        self.base, self.name, self.memo = base, getattr(base, "name", "model"), {}
        self.catalog: Catalog | None = None

    def index(self, catalog: Catalog) -> None:
        if catalog is not self.catalog:
            self.base.index(catalog)
            self.catalog, self.memo = catalog, {}

    def score(self, queries: Sequence[str]) -> np.ndarray:
        key = tuple(queries)
        if key not in self.memo:
            self.memo[key] = self.base.score(queries)
        return self.memo[key]


class _MemoItemScores:
    """A collaborative-filtering reference fitted once per catalog on ``rows``
    (:meth:`~itemlib.collaborative.CollaborativeRetriever.fit_rows`),
    its scores remembered per list of item lists: the weight grid re-scores the same queries."""

    reads_items = True

    def __init__(self, base, rows: dict[str, list[str]]) -> None:
        self.base, self.name, self.rows, self.memo = base, base.name, rows, {}
        self.catalog: Catalog | None = None

    def index(self, catalog: Catalog) -> None:
        if catalog is not self.catalog:
            self.base.fit_rows(catalog, self.rows)
            self.catalog, self.memo = catalog, {}

    def score_items(self, item_lists: Sequence[Sequence[int]]) -> np.ndarray:
        key = tuple(tuple(items) for items in item_lists)
        if key not in self.memo:
            self.memo[key] = self.base.score_items(item_lists)
        return self.memo[key].copy()


def _kinds_of(catalog: Catalog, validation_dir: str | Path) -> dict[str, list[str]]:
    """Each validation query's kind (:mod:`itemlib.querykind`), per task."""
    matcher = TitleMatcher(catalog)
    return {
        task: [matcher.kind(r["query"]) for r in records]
        for task, records in load_tests(validation_dir, catalog).items()
    }


def _kind_of_rows(per_query: pd.DataFrame, kinds: dict[str, list[str]]) -> list[str]:
    """The kind of each row of an evaluation's per-query table."""
    return [kinds[task][row] for task, row in zip(per_query["task"], per_query["query"])]


def _mean_by_kind(per_query: pd.DataFrame, kinds: dict[str, list[str]]) -> pd.Series:
    """The mean per-query headline over the validation queries of each kind."""
    return pd.Series(per_query["value"].to_numpy()).groupby(_kind_of_rows(per_query, kinds)).mean()


def _grid_by_kind(
    retriever_at: Callable[[float], object],
    weights: Sequence[float],
    catalog: Catalog,
    validation_dir: str | Path,
    kinds: dict[str, list[str]],
) -> dict[str, dict[float, float]]:
    """Evaluate ``retriever_at(weight)`` on the validation split for each weight of the grid: the mean
    per-query headline per kind of query present (``{kind: {weight: score}}``)."""
    present = [kind for kind in KINDS if any(kind in found for found in kinds.values())]
    scores: dict[str, dict[float, float]] = {kind: {} for kind in present}
    for weight in weights:
        per_query = evaluate(retriever_at(weight), catalog, validation_dir, progress=False).per_query
        by_kind = _mean_by_kind(per_query, kinds)
        for kind in present:
            scores[kind][weight] = float(by_kind[kind])
    return scores


def _best_per_kind(scores: dict[str, dict[float, float]], weights: Sequence[float]) -> dict[str, float]:
    """Per kind, the weight with the best score (ties, to six decimals: the smaller); 0 for a kind
    the split has no queries of."""
    return {kind: max(weights, key=lambda w: (round(scores[kind][w], 6), -w)) if kind in scores else 0.0
            for kind in KINDS}  # fmt: skip


def choose_popularity_weight(model: str, catalog: Catalog, validation_dir: str | Path,
                             weights: Sequence[float] = WEIGHTS) -> dict:  # fmt: skip
    """Per kind of query (:data:`itemlib.querykind.KINDS`, read from its words), the weight with the
    best mean per-query headline over the validation queries of that kind (ties: the smaller weight;
    a kind without queries gets 0), written to ``model/popularity_weight.json`` with every weight's
    score per kind and how the kind rule sorts each task's validation queries."""
    if not Path(model).is_dir():
        raise ModelError(f"{model}: the popularity weight is chosen for a model folder (a fine-tuned model)")
    base = _MemoScores(make_retriever(model))
    kinds = _kinds_of(catalog, validation_dir)
    scores = _grid_by_kind(lambda weight: PopularityPrior(base, weight), weights, catalog, validation_dir, kinds)
    chosen = _best_per_kind(scores, weights)
    choice = {
        "weights": chosen,
        "criterion": f"per kind of query, the mean per-query {HEADLINE_LABEL} over the validation queries of that kind",
        "validation": str(validation_dir),
        "scores": {kind: {str(w): round(s, 4) for w, s in table.items()} for kind, table in scores.items()},
        "kinds": {task: {kind: round(found.count(kind) / len(found), 3) for kind in KINDS if kind in found}
                  for task, found in kinds.items() if found},
    }  # fmt: skip
    write_text_whole(Path(model) / WEIGHT_FILE, json.dumps(choice, indent=1) + "\n")
    return choice


def tune_popularity_weight(
    model_dir: str | Path, catalog: Catalog, data_dir: str | Path, config: ValidationConfig | None = None
) -> dict:
    """Write a validation split of ``data_dir`` for the model trained on it (``MODEL-validation``:
    examples the run never drew, and the test-shaped validation queries the data holds) and choose
    the weight on it."""
    split = f"{Path(model_dir)}-validation"
    write_validation_split(data_dir, catalog, [model_dir], split, config)
    return choose_popularity_weight(str(model_dir), catalog, split)


def choose_blend(text: str, catalog: Catalog, validation_dir: str | Path, weights: Sequence[float] = BLEND_WEIGHTS,
                 references: Sequence[str] = tuple(COLLABORATIVE)) -> dict:  # fmt: skip
    """The collaborative-filtering blend of the text retriever ``text`` (``MODEL`` or
    ``MODEL+popularity``, MODEL a model folder), chosen on a validation split by the criterion of
    :func:`choose_popularity_weight`, fixed in advance: per kind of query, the reference and weight
    with the best mean per-query headline over that kind's queries (ties: the smaller weight, then
    the first of ``references``). The references are fitted on :func:`reference_rows`, as for a test
    query. Written to ``MODEL/`` :data:`itemlib.retrieval.BLEND_FILE` with every score, so
    ``make_retriever(text + "+cf")`` ranks with it."""
    model = model_of(text)
    if not Path(model).is_dir():
        raise ModelError(f"{model}: the blend is chosen for a model folder (a fine-tuned model)")
    unknown = [name for name in references if name not in COLLABORATIVE]
    if unknown or not references:
        raise ValueError(f"blend references are among {', '.join(COLLABORATIVE)}, got {list(references)}")
    base = _MemoScores(make_retriever(text))
    kinds = _kinds_of(catalog, validation_dir)
    rows = reference_rows(catalog, validation_dir)
    scores: dict[str, dict[str, dict[float, float]]] = {}
    tables: dict[str, dict] = {}
    for name in references:
        reference = _MemoItemScores(COLLABORATIVE[name](), rows)
        scores[name] = _grid_by_kind(partial(CollaborativeBlend, base, reference), weights, catalog, validation_dir,
                                     kinds)  # fmt: skip
        tables[name] = {
            "scores": {kind: {str(w): round(v, 4) for w, v in table.items()} for kind, table in scores[name].items()},
            "setting": reference.base.chosen,
        }
    best = {name: _best_per_kind(scores[name], weights) for name in references}
    chosen: dict[str, tuple[str, float]] = {}
    for kind in KINDS:
        # each reference at its best weight; the best of them (ties: the smaller weight, then the earlier reference)
        present = [name for name in references if kind in scores[name]]
        name = max(present, default=references[0], key=lambda name: (
            round(scores[name][kind][best[name][kind]], 6), -best[name][kind], -references.index(name)))  # fmt: skip
        chosen[kind] = (name, best[name][kind])
    choice = {
        "reference": {kind: name for kind, (name, _) in chosen.items()},
        "weights": {kind: weight for kind, (_, weight) in chosen.items()},
        "base": text.removeprefix(model),
        "criterion": f"per kind of query, the reference and weight with the best mean per-query {HEADLINE_LABEL} "
        "over the validation queries of that kind, the references fitted without what the split asks",
        "validation": str(validation_dir),
        "references": tables,
    }
    write_text_whole(Path(model) / BLEND_FILE, json.dumps(choice, indent=1) + "\n")
    return choice


#: Whether the blend joins the study's comparisons on a catalog: fixed before any score was seen (#29).
BLEND_CRITERION = (
    "better than the text retriever it blends (tuned+popularity) beyond noise on at least one behaviour task "
    "(UH2I, I2I, US2I, UQ2I) and worse beyond noise on none of the tasks, on the validation split that chose it"
)


def better_and_worse(rows: Iterable[Mapping]) -> tuple[list[str], list[str]]:
    """Of paired-comparison rows (``task``, ``verdict``): the behaviour tasks judged better beyond
    noise and the tasks judged worse. The study adopts a change when the first is not empty and the
    second is (:data:`BLEND_CRITERION`, and each experiment's criterion)."""
    better = [r["task"] for r in rows if r["verdict"] == "better" and r["task"] in tasks_in("behaviour")]
    return better, [r["task"] for r in rows if r["verdict"] == "worse"]


def validation_blend(text: str, catalog: Catalog, validation_dir: str | Path) -> CollaborativeBlend:
    """The blend chosen for ``text`` (``make_retriever(text + "+cf")``) with its references fitted on
    :func:`reference_rows` of ``validation_dir``: how a blend is scored on a validation split. Fitted
    on every training row, as for a test query, they would read what the split asks."""
    choice = json.loads((Path(model_of(text)) / BLEND_FILE).read_text())
    rows = reference_rows(catalog, validation_dir)
    references = blend_references(choice["reference"], lambda name: _MemoItemScores(COLLABORATIVE[name](), rows))
    return CollaborativeBlend(make_retriever(text), references, choice["weights"])


def judge_blend(text: str, catalog: Catalog, validation_dir: str | Path, seed: int = 0) -> dict:
    """The blend chosen for ``text`` against ``text`` alone, task by task on ``validation_dir``
    (paired 95% intervals), and whether it meets :data:`BLEND_CRITERION`; stored in the blend's file.
    It is judged on the split that chose it, so its margin there is a little optimistic; its
    references are fitted as they were to choose it (:func:`reference_rows`)."""
    path = Path(model_of(text)) / BLEND_FILE
    choice = json.loads(path.read_text())
    ours = evaluate(validation_blend(text, catalog, validation_dir), catalog, validation_dir, progress=False).per_query
    theirs = evaluate(make_retriever(text), catalog, validation_dir, progress=False).per_query
    rows = compare_per_task(ours, theirs, ("blend", "text"), seed)
    better, worse = better_and_worse(rows)
    judgement = {"criterion": BLEND_CRITERION, "tasks": rows, "better on behaviour tasks": better,
                 "worse on": worse, "joins": bool(better) and not worse}  # fmt: skip
    write_text_whole(path, json.dumps(choice | {"judgement": judgement}, indent=1) + "\n")
    return judgement


def tune_blend(model_dir: str | Path, catalog: Catalog, *, prior: bool = True, seed: int = 0) -> dict:
    """Choose the blend of ``model_dir`` (with its popularity prior, by default) on the validation
    split :func:`tune_popularity_weight` wrote (``MODEL-validation``) and judge it there
    (:func:`judge_blend`); returns the choice with its judgement."""
    split = Path(f"{Path(model_dir)}-validation")
    require_complete(split, "stats.json", "choose the popularity weight first (`itemlib popularity-weight`)")
    text = str(model_dir) + (POPULARITY_SUFFIX if prior else "")
    choice = choose_blend(text, catalog, split)
    return choice | {"judgement": judge_blend(text, catalog, split, seed)}
