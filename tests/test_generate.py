"""Generated data: predicates, leakage rules, determinism."""

from __future__ import annotations

import filecmp
import json
import string
from pathlib import Path

import numpy as np
import pytest

from itemlib.catalog import Catalog, Field, FieldKind, Item, title_words
from itemlib.cooccurrence import is_judge, is_validation_judge, item_neighbours
from itemlib.datasets import load_steam
from itemlib.evaluation import load_tests
from itemlib.generate import generate, normalise_core
from itemlib.relevance import constraint_mask, near_miss_mask, relevant_mask
from itemlib.tasks import I2I, TASKS, Context
from itemlib.templates import template_bank

from .conftest import SMALL

BEHAVIOUR = ("UH2I", "US2I", "UQ2I")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_all_ten_tasks_non_empty(movielens_data):
    stats = json.loads((movielens_data / "stats.json").read_text())
    assert list(stats["tasks"]) == list(TASKS)
    for name in TASKS:
        assert read(movielens_data / "train" / f"{name}.jsonl"), name
        assert read(movielens_data / "test" / f"{name}.jsonl"), name
        assert stats["tasks"][name]["negatives_verified"] > 0


@pytest.mark.parametrize("task", list(TASKS))
def test_positives_satisfy_and_negatives_fail_the_predicate(movielens, movielens_data, task):
    for record in read(movielens_data / "train" / f"{task}.jsonl"):
        relevant = relevant_mask(movielens, record["spec"])
        assert all(relevant[movielens.index[i]] for i in record["pos_ids"]), record["query"]
        assert len(record["neg_ids"]) == SMALL["negatives"]
        assert not any(relevant[movielens.index[i]] for i in record["neg_ids"]), record["query"]
        assert not set(record["neg_ids"]) & set(record["pos_ids"])
        assert record["pos"] == [movielens.texts[movielens.index[i]] for i in record["pos_ids"]]
    for record in read(movielens_data / "test" / f"{task}.jsonl"):
        relevant = relevant_mask(movielens, record["spec"])
        assert all(relevant[movielens.index[i]] for i in record["pos_ids"])
        assert not set(record["mask_ids"]) & set(record["pos_ids"])


@pytest.mark.parametrize("task", list(TASKS))
def test_template_banks_are_disjoint_and_large_enough(task):
    bank = template_bank(task)
    assert len(bank["train"]) >= 15 and len(bank["test"]) >= 10
    assert not set(bank["train"]) & set(bank["test"])


def slot_names(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name and name not in WORDS]


WORDS = ("noun", "nouns", "verb", "verbed")


@pytest.mark.parametrize("task", list(TASKS))
def test_no_test_query_equals_a_training_query_after_stripping(movielens, movielens_data, task):
    """Each query is one of its split's templates filled with the slot values stored as ``core``
    (so ``core`` is the query with the template stripped); no test core is a training core."""
    words = {"noun": movielens.noun, "nouns": movielens.noun + "s", "verb": movielens.verb, "verbed": movielens.verbed}
    bank = template_bank(task)

    def cores(split: str) -> set[str]:
        found = set()
        for record in read(movielens_data / split / f"{task}.jsonl"):
            values = record["core"].split(" | ")
            renderings = {
                template.format(**words, **dict(zip(slot_names(template), values)))
                for template in bank[split] + ("{history}", "{title}")
                if len(slot_names(template)) == len(values)
            }
            assert record["query"] in renderings, f"{record['query']!r} is no {split} template filled with its core"
            found.add(normalise_core(record["core"]))
        return found

    assert not cores("test") & cores("train")


@pytest.mark.parametrize("task", BEHAVIOUR)
def test_no_users_last_item_is_a_training_target(movielens, movielens_data, task):
    for record in read(movielens_data / "train" / f"{task}.jsonl"):
        history = movielens.histories[record["user"]]
        assert record["pos_ids"][0] != history[-1]
        assert history.index(record["pos_ids"][0]) <= len(history) - 2
    for record in read(movielens_data / "test" / f"{task}.jsonl"):
        history = movielens.histories[record["user"]]
        assert record["pos_ids"] == [history[-1]] and record["mask_ids"] == history[:-1]


def test_i2i_neighbours_ignore_last_items():
    items = [Item(str(n), f"Item {n}") for n in range(12)]
    schema = [Field("tags", FieldKind.LIST)]
    rng = np.random.default_rng(0)
    histories = {f"u{u}": [str(i) for i in rng.choice(10, 5, replace=False)] for u in range(30)}
    catalog = Catalog("c", items, schema, histories=histories)
    # replace every last item by one of two items nobody else has: neighbours must not change
    swapped = {u: h[:-1] + [str(10 + n % 2)] for n, (u, h) in enumerate(histories.items())}
    other = Catalog("c", items, schema, histories=swapped)
    assert item_neighbours(catalog) == item_neighbours(other)
    assert 10 not in item_neighbours(other) and 11 not in item_neighbours(other)
    assert item_neighbours(catalog)  # not vacuous


def test_i2i_test_answers_come_from_judges_and_training_from_the_others(movielens, movielens_data):
    """I2I's test answers are co-occurrences among the judges only, and no behaviour training example
    comes from a judge, so a reference fitted on the other users cannot have seen the answers."""
    judged = Context(movielens).judge_neighbours
    for record in read(movielens_data / "test" / "I2I.jsonl"):
        source, *answers = record["spec"]["ids"]
        assert answers == [movielens.items[p].id for p in judged[movielens.index[source]]]
    for task in BEHAVIOUR:
        users = {record["user"] for record in read(movielens_data / "train" / f"{task}.jsonl")}
        assert users and not any(is_judge(u) for u in users)
    test_users = {record["user"] for record in read(movielens_data / "test" / "UH2I.jsonl")}
    assert any(is_judge(u) for u in test_users)  # tests come from every user
    trained = {record["spec"]["ids"][0] for record in read(movielens_data / "train" / "I2I.jsonl")}
    tested = {record["spec"]["ids"][0] for record in read(movielens_data / "test" / "I2I.jsonl")}
    assert trained and tested and not trained & tested  # no test source is a training source


def test_behaviour_share_cuts_histories_at_more_points(movielens, tmp_path):
    """``behaviour_per_task`` draws more behaviour examples than ``per_task``, several per user."""
    stats = generate(movielens, tmp_path, seed=1, progress=False, per_task=30, behaviour_per_task=1200,
                     test_per_task=5, negatives=0, tasks=["UH2I", "FA2I"])  # fmt: skip
    assert stats["tasks"]["FA2I"]["train_examples"] <= 30 < stats["tasks"]["UH2I"]["train_examples"] <= 1200
    users = [record["user"] for record in read(tmp_path / "train" / "UH2I.jsonl")]
    assert len(set(users)) < len(users)


def test_a_fresh_test_seed_draws_other_test_queries_and_keeps_the_leakage_rule(movielens, tmp_path):
    settings = dict(seed=1, progress=False, per_task=60, test_per_task=20, negatives=0, tasks=["SA2I", "UH2I"])
    generate(movielens, tmp_path / "a", **settings)
    stats = generate(movielens, tmp_path / "b", test_seed=9, **settings)
    assert stats["seed"] == 1 and stats["test_seed"] == 9
    for task in ("SA2I", "UH2I"):
        first, fresh = (read(tmp_path / side / "test" / f"{task}.jsonl") for side in ("a", "b"))
        assert [r["query"] for r in first] != [r["query"] for r in fresh]
        train = {normalise_core(r["core"]) for r in read(tmp_path / "b" / "train" / f"{task}.jsonl")}
        assert not train & {normalise_core(r["core"]) for r in fresh}


def test_same_seed_same_bytes_other_seed_other_bytes(movielens, movielens_data, tmp_path):
    again = tmp_path / "again"
    generate(movielens, again, seed=3, progress=False, **SMALL)
    files = sorted(p.relative_to(movielens_data) for p in movielens_data.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(movielens_data, again, [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    other = tmp_path / "other"
    generate(movielens, other, seed=4, progress=False, tasks=["FA2I"], **SMALL)
    assert (other / "train" / "FA2I.jsonl").read_bytes() != (movielens_data / "train" / "FA2I.jsonl").read_bytes()


def test_test_shaped_validation_queries_are_drawn_apart_and_change_nothing_else(movielens, movielens_data, tmp_path):
    """Validation judges' next items, phrased from training templates, masked as test queries are; the
    training and test files are the bytes they are without them (I2I's training file but for the
    sources it keeps out, with ``i2i_validation_sources``)."""
    tasks = [*BEHAVIOUR, "I2I", "FA2I"]
    plain = generate(
        movielens, tmp_path / "plain", seed=3, progress=False, tasks=tasks, validation_per_task=25, **SMALL
    )
    assert (
        "validation_examples" not in plain["tasks"]["I2I"]
        and not (tmp_path / "plain" / "validation" / "I2I.jsonl").exists()
    )
    assert (tmp_path / "plain" / "train" / "I2I.jsonl").read_bytes() == (
        movielens_data / "train" / "I2I.jsonl"
    ).read_bytes()
    shaped = tmp_path / "shaped"
    stats = generate(movielens, shaped, seed=3, progress=False, tasks=tasks, validation_per_task=25,
                     i2i_validation_sources=True, **SMALL)  # fmt: skip
    for task in tasks:
        for split in ("train", "test") if task != "I2I" else ("test",):
            assert (shaped / split / f"{task}.jsonl").read_bytes() == (
                movielens_data / split / f"{task}.jsonl"
            ).read_bytes(), (task, split)
    assert not (shaped / "validation" / "FA2I.jsonl").exists() and "validation_examples" not in stats["tasks"]["FA2I"]
    for task in BEHAVIOUR:
        records = read(shaped / "validation" / f"{task}.jsonl")
        assert 0 < len(records) == stats["tasks"][task]["validation_examples"] <= 25, task
        training = read(shaped / "train" / f"{task}.jsonl")
        taken = {(r["user"], r["pos_ids"][0]) for r in training}
        test_cores = {normalise_core(r["core"]) for r in read(shaped / "test" / f"{task}.jsonl")}
        queries = {normalise_core(r["query"]) for r in training}
        for record in records:
            history = movielens.histories[record["user"]]
            assert is_validation_judge(record["user"]) and not is_judge(record["user"])
            # the next item after the history, masked as a test query's is
            assert record["pos_ids"] == [history[-2]] and record["mask_ids"] == history[:-2]
            assert (record["user"], history[-2]) not in taken and normalise_core(record["query"]) not in queries
            assert normalise_core(record["core"]) not in test_cores
        assert len({r["user"] for r in records}) == len(records)
    # I2I: held-out sources, each answered by all its neighbours among the validation judges, masked
    records, validated = read(shaped / "validation" / "I2I.jsonl"), Context(movielens).validation_neighbours
    assert 0 < len(records) == stats["tasks"]["I2I"]["validation_examples"] <= 25
    trained = {r["spec"]["ids"][0] for r in read(shaped / "train" / "I2I.jsonl")}
    validating = {movielens.items[p].id for p, ids in validated.items()
                  if I2I.validation_source(movielens.items[p].id, len(ids))}  # fmt: skip
    assert trained and not trained & validating  # every validation source is kept out of training
    for record in records:
        source = record["mask_ids"][0]
        answers = [movielens.items[p].id for p in validated[movielens.index[source]]]
        assert record["mask_ids"] == [source] and record["pos_ids"] == answers and source not in trained
        assert I2I.validation_source(source, len(answers))
    assert len({r["mask_ids"][0] for r in records}) == len(records)
    assert load_tests(shaped, movielens, folder="validation").keys() == {*BEHAVIOUR, "I2I"}
    assert load_tests(movielens_data, movielens, folder="validation") == {}  # data generated without them


def test_steam_generates_all_ten_tasks(steam_dir, tmp_path):
    steam = load_steam(steam_dir)
    stats = generate(steam, tmp_path, seed=0, progress=False, per_task=60, test_per_task=30)
    for name, counts in stats["tasks"].items():
        assert counts["train_examples"] > 0 and counts["test_examples"] > 0, name
    record = read(tmp_path / "test" / "AS2I.jsonl")[0]
    assert "game" in record["query"]
    for task in ("AS2I", "FA2I", "SA2I"):  # Steam's genres and tags share values ("Indie"): each is said once
        for record in read(tmp_path / "train" / f"{task}.jsonl"):
            values = [v.lower() for c in record["spec"]["constraints"] for v in c.get("values", [])]
            assert len(values) == len(set(values)), record["query"]


def test_generated_queries_read_as_a_person_would_write_them(movielens, movielens_data):
    """Faults a reader found in the generated-task pages, each checked on every generated query."""
    summaries = [r["query"] for split in ("train", "test") for r in read(movielens_data / split / "US2I.jsonl")]
    assert not [q for q in summaries if "pay" in q or "cheap" in q or "$" in q]  # a film's budget is no price
    conditions = [r for r in read(movielens_data / "train" / "VC2I.jsonl")]
    assert not [r["query"] for r in conditions if "cheap" in r["query"] or "expensive" in r["query"]]
    for record in read(movielens_data / "train" / "FA2I.jsonl"):  # "full" attributes: three or more when there are
        item = movielens.item(record["pos_ids"][0])
        stated = [c for c in record["spec"]["constraints"] if c["field"] != "title"]
        assert len(stated) >= min(3, len([f for f in movielens.query_fields() if f.name in item.fields])), record
    for record in read(movielens_data / "test" / "NA2I.jsonl"):  # what is wanted, and what is excluded
        ops = sorted(c["op"] for c in record["spec"]["constraints"])
        assert ops == ["has_all", "has_none"], record["query"]
        assert record["base_rate"] <= 0.4, record["query"]
    assert all(r["base_rate"] <= 0.5 for r in read(movielens_data / "test" / "VC2I.jsonl"))


def test_threshold_near_misses_sit_just_on_the_wrong_side(movielens):
    constraint = {"field": "year", "op": "gt", "value": "2000-12-31"}
    near = near_miss_mask(movielens, constraint)
    years = movielens.numeric_column("year")
    assert near.any() and not (near & constraint_mask(movielens, constraint)).any()
    wrong_side = ~constraint_mask(movielens, constraint) & ~np.isnan(years)
    assert years[near].min() > np.median(years[wrong_side]), "near misses are the closest failing items"


def test_title_near_misses_share_a_distinctive_word(movielens):
    position = next(p for p, key in enumerate(movielens.title_keys) if "heat" in key.split())
    constraint = {"field": "title", "op": "title_eq", "value": movielens.title_keys[position]}
    near = near_miss_mask(movielens, constraint)
    assert near.any() and not near[position]
    assert all(
        set(title_words(movielens.title_keys[p])) & set(title_words(movielens.title_keys[position]))
        for p in np.flatnonzero(near)
    )


def test_single_condition_queries_get_near_miss_negatives(movielens, movielens_data):
    """A one-condition VC2I query has no partial matches; its hard negatives are near misses."""
    records = [r for r in read(movielens_data / "train" / "VC2I.jsonl") if len(r["spec"]["constraints"]) == 1]
    assert records
    for record in records:
        near = near_miss_mask(movielens, record["spec"]["constraints"][0])
        assert any(near[movielens.index[i]] for i in record["neg_ids"]), record["query"]


def test_every_prefix_of_stored_negatives_mixes_hard_and_easy(movielens, movielens_data):
    """Training takes the first K stored negatives, so hard ones must not all come first. A
    one-condition VC2I query's hard negatives are its near misses (a few percent of the catalog):
    they fill the even positions, random ones (rarely near misses by chance) the odd ones."""
    records = [r for r in read(movielens_data / "train" / "VC2I.jsonl") if len(r["spec"]["constraints"]) == 1]
    positions = np.zeros(SMALL["negatives"])
    for record in records:
        near = near_miss_mask(movielens, record["spec"]["constraints"][0])
        positions += [near[movielens.index[i]] for i in record["neg_ids"]]
    share = positions / len(records)
    assert share[0::2].min() > 0.9 and share[1::2].max() < 0.2, share
