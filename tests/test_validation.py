"""The validation split: exactly the training examples a run never drew, judged as test queries."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from itemlib.catalog import CatalogError
from itemlib.cli import main
from itemlib.cooccurrence import BASKET_PREFIX, is_validation_judge, neighbours_in, rows_matrix, training_rows
from itemlib.evaluation import load_tests
from itemlib.generate import generate
from itemlib.losses import ItemInfoNCELoss
from itemlib.tasks import NEIGHBOURS, TASKS
from itemlib.training import TrainConfig, drawn_rows, load_training_records, train
from itemlib.validation import (
    ValidationConfig,
    better_and_worse,
    reference_rows,
    validation_split,
    write_validation_split,
)

from .conftest import SMALL
from .tiny_models import tiny_bert


def _config(base: str, **changes) -> TrainConfig:
    settings = dict(
        model=base, negatives=2, batch_size=4, max_steps=5, learning_rate=1e-3, progress=False, precision="fp32"
    )
    return TrainConfig(**settings | changes)


def test_drawn_rows_are_the_rows_training_sees(movielens_data, tmp_path):
    base = tiny_bert(tmp_path / "bert")
    config = _config(base)
    seen: list[int] = []
    forward = ItemInfoNCELoss.forward

    def recording(self, features, labels):
        seen.extend(int(row) for row in labels)
        return forward(self, features, labels)

    with mock.patch.object(ItemInfoNCELoss, "forward", recording):
        train(movielens_data, tmp_path / "out", config)
    records, _ = load_training_records(movielens_data, config)
    assert len(seen) == 5 * 4
    assert drawn_rows(records, config) == set(seen)
    assert drawn_rows(records, _config(base, max_steps=-1, epochs=1.0)) == set(range(len(records)))


def test_split_holds_undrawn_examples_judged_like_test_queries(movielens, movielens_data, tmp_path):
    base = tiny_bert(tmp_path / "bert")
    config = _config(base)
    model = train(movielens_data, tmp_path / "out", config)
    records, _ = load_training_records(movielens_data, config)
    drawn = {(records[r]["task"], records[r]["query"]) for r in drawn_rows(records, config)}
    split, left_out = validation_split(movielens_data, movielens, [model], ValidationConfig(per_task=30, seed=1))
    assert set(split) == set(TASKS)
    judges = {row: ids for row, ids in training_rows(movielens, judges=False).items()
              if is_validation_judge(row.removeprefix(BASKET_PREFIX))}  # fmt: skip
    judged = neighbours_in(rows_matrix(movielens, judges), NEIGHBOURS)
    i2i_sources = {json.loads(line)["spec"]["ids"][0]
                   for line in (movielens_data / "train" / "I2I.jsonl").read_text().splitlines()}  # fmt: skip
    assert set(left_out) == {"I2I (no answer among the validation judges)"}  # the data holds no test-shaped I2I
    assert 0 <= left_out["I2I (no answer among the validation judges)"] <= len(i2i_sources)
    train_files = {
        t: [json.loads(line) for line in (movielens_data / "train" / f"{t}.jsonl").read_text().splitlines()]
        for t in TASKS
    }
    for task, rows in split.items():
        assert len(rows) == 30
        assert not drawn & {(task, r["query"]) for r in rows}
        stored = {r["query"]: r for r in train_files[task]}
        for row in rows:
            source = stored[row["query"]]
            assert not set(row["mask_ids"]) & set(row["pos_ids"])
            if task in ("UH2I", "US2I", "UQ2I"):  # the history before the target is masked, as in test
                history = source["spec"]["ids"]
                assert row["mask_ids"] == history[: history.index(source["pos_ids"][0])]
            elif task == "I2I":  # the source is masked; its answers are its neighbours among the validation judges
                assert row["mask_ids"] == source["spec"]["ids"][:1]
                assert row["pos_ids"] == [movielens.items[at].id for at in judged[movielens.index[row["mask_ids"][0]]]]
            else:
                assert row["pos_ids"] == source["pos_ids"] and row["mask_ids"] == []
    assert (
        validation_split(movielens_data, movielens, [model], ValidationConfig(per_task=30, seed=1))[0] == split
    )  # seeded


def test_split_adds_every_test_shaped_validation_query_the_data_holds(movielens, tmp_path):
    data = tmp_path / "data"
    generate(movielens, data, seed=3, progress=False, validation_per_task=12, i2i_validation_sources=True, **SMALL)
    model = train(data, tmp_path / "out", _config(tiny_bert(tmp_path / "bert")))
    shaped = load_tests(data, movielens, folder="validation")
    assert set(shaped) == {"UH2I", "I2I", "US2I", "UQ2I"}
    out = tmp_path / "valid"
    counts = write_validation_split(data, movielens, [model], out, ValidationConfig(per_task=20, seed=1))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["test-shaped"] == {task: len(records) for task, records in shaped.items()}
    split = load_tests(out, movielens)
    undrawn = {task: 0 if task == "I2I" else 20 for task in TASKS}  # I2I's undrawn sources were trained on
    for task in TASKS:
        assert counts[task] == undrawn[task] + len(shaped.get(task, [])), task
        assert [r["query"] for r in split[task][undrawn[task] :]] == [r["query"] for r in shaped.get(task, [])]
    ((reason, count),) = stats["left out"].items()
    i2i_training = (data / "train" / "I2I.jsonl").read_text().splitlines()
    assert reason.startswith("I2I (undrawn") and 0 < count <= len(i2i_training)
    hidden = reference_rows(movielens, out)  # their users are validation judges: in no row the references fit
    assert not {r["user"] for records in shaped.values() for r in records} & set(hidden)


def test_cli_writes_a_split_that_evaluate_reads_and_rejects_foreign_models(movielens, movielens_data, tmp_path, capsys):
    base = tiny_bert(tmp_path / "bert")
    model = train(movielens_data, tmp_path / "out", _config(base))
    out = tmp_path / "valid"
    split = ["validation-split", "--data", str(movielens_data), "--catalog", "movielens", "--out", str(out)]
    assert main([*split, "--trained", str(model), "--per-task", "10"]) == 0
    assert {t: len(r) for t, r in load_tests(out, movielens).items()} == {t: 10 for t in TASKS}
    assert main([*split, "--trained", base]) == 2
    assert "not a model fine-tuned by itemlib" in capsys.readouterr().err
    card = model / "itemlib_training.json"
    written = card.read_text()
    card.write_text(json.dumps(json.loads(written) | {"fingerprint": "0" * 16}))  # same count, other examples
    with pytest.raises(ValueError, match="was not trained on .*: its examples"):
        validation_split(movielens_data, movielens, [model], ValidationConfig(per_task=10))
    card.write_text(written)
    with pytest.raises(CatalogError, match="was generated from catalog 'movielens' .* wrong --catalog"):
        validation_split(movielens_data, movielens.subset(500, 0), [model], ValidationConfig(per_task=10))
    with pytest.raises(CatalogError, match="wrong --catalog"):
        load_tests(movielens_data, movielens.subset(500, 0), ["NM2I"])


def test_references_judged_on_a_split_are_fitted_without_what_it_asks(movielens, movielens_data, tmp_path):
    model = train(movielens_data, tmp_path / "out", _config(tiny_bert(tmp_path / "bert")))
    split = tmp_path / "valid"
    write_validation_split(movielens_data, movielens, [model], split, ValidationConfig(per_task=20))
    stats = json.loads((split / "stats.json").read_text())
    assert list(stats["left out"]) == ["I2I (no answer among the validation judges)"]
    rows = reference_rows(movielens, split)
    everything = training_rows(movielens, judges=False)
    assert rows and not any(is_validation_judge(row.removeprefix(BASKET_PREFIX)) for row in rows)
    assert set(rows) == {row for row in everything if not is_validation_judge(row.removeprefix(BASKET_PREFIX))}
    known: dict[str, list[set[str]]] = {}
    for task, records in load_tests(split, movielens).items():
        for record in records:
            user = record.get("user")
            if task == "I2I" or user not in rows:
                continue
            kept = set(rows[user]) | set(rows.get(f"{BASKET_PREFIX}{user}", []))
            assert not kept & set(record["pos_ids"])  # the target is not fitted
            known.setdefault(user, []).append(set(record["mask_ids"]))
    assert len(known) > 10 and any(len(sets) > 1 for sets in known.values())
    for user, sets in known.items():  # a user's row keeps what every one of their queries knows
        assert set(rows[user]) == set(everything[user]) & set.intersection(*sets)


def test_a_change_is_judged_by_behaviour_tasks_better_and_any_task_worse():
    rows = [{"task": "UH2I", "verdict": "better"}, {"task": "FA2I", "verdict": "better"},
            {"task": "I2I", "verdict": "within noise"}, {"task": "NM2I", "verdict": "worse"}]  # fmt: skip
    assert better_and_worse(rows) == (["UH2I"], ["NM2I"])  # FA2I is no behaviour task
    assert better_and_worse(iter(rows[1:3])) == ([], [])


def test_an_experiment_records_its_criterion_and_verdict_beside_itself(tmp_path):
    from itemlib.study.experiments import MEETS, conclude, new_record, write_record

    doc = "What it measures.\n\nThe criterion, fixed before any score: adopted if better.\nStill it.\n\nRun: it."
    record = new_record(doc)
    assert record["criterion"] == " before any score: adopted if better.\nStill it." and record["catalogs"] == {}
    with pytest.raises(ValueError, match="states its criterion"):
        new_record("No criterion here.")
    out = write_record(tmp_path / "some_test.py", record | {"adopted": False})
    assert out == tmp_path / "some_test.json" and json.loads(out.read_text())["adopted"] is False
    # adopted only when both catalogs are done and each meets the criterion
    record["catalogs"]["movielens"] = {MEETS: True}
    assert conclude(tmp_path / "some_test.py", record)["adopted"] is False  # Steam not done
    record["catalogs"]["steam"] = {MEETS: False}
    assert conclude(tmp_path / "some_test.py", record)["adopted"] is False
    record["catalogs"]["steam"] = {MEETS: True}
    assert conclude(tmp_path / "some_test.py", record)["adopted"] is True
    assert json.loads(out.read_text())["adopted"] is True
