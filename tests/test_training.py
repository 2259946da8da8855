"""Loss against a reference, filtered in-batch masks, training of tiny BERT and Llama+LoRA models,
resume after interruption, and 2-process torchrun against 1 process."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from itemlib.losses import ItemInfoNCELoss
from itemlib.models import ModelError, load_encoder
from itemlib.relevance import relevant_mask
from itemlib.training import (
    TrainConfig,
    build_dataset,
    false_negative_mask,
    load_training_records,
    resample_positives,
    run_fingerprint,
    sampling_correction,
    train,
)

from .tiny_models import tiny_bert, tiny_llama


def free_port() -> int:
    """A TCP port nobody listens on now, for torchrun's rendezvous (a fixed one collides with parallel runs)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reference_loss(q, p, negs, temperature, mode, blocked=None):
    """One query at a time: -log softmax of its positive among the candidates it may see."""

    def cos(a, b):
        return float(torch.nn.functional.cosine_similarity(a, b, dim=0))

    batch, k = q.shape[0], len(negs)
    total = 0.0
    for i in range(batch):
        logits = [cos(q[i], p[i])] + [cos(q[i], negs[j][i]) for j in range(k)]
        if mode != "off":
            for other in range(batch):
                if other == i:
                    continue
                columns = [(other, p[other])] + [(batch + other * k + j, negs[j][other]) for j in range(k)]
                logits += [cos(q[i], c) for column, c in columns if mode == "on" or not blocked[i, column]]
        logits = torch.tensor(logits) / temperature
        total += float(-torch.log_softmax(logits, 0)[0])
    return total / batch


@pytest.mark.parametrize("mode", ["off", "on", "filtered"])
@pytest.mark.parametrize("k", [0, 2])
def test_loss_equals_reference_on_hand_made_batch(mode, k):
    torch.manual_seed(0)
    batch, dim = 4, 6
    q, p = torch.randn(batch, dim), torch.randn(batch, dim)
    negs = [torch.randn(batch, dim) for _ in range(k)]
    blocked = torch.rand(batch, batch * (1 + k)) < 0.4
    loss = ItemInfoNCELoss(torch.nn.Identity(), temperature=0.05, in_batch=mode, false_negatives=lambda rows: blocked)
    value = loss.compute_loss_from_embeddings([q, p, *negs], blocked if mode == "filtered" else None)
    assert float(value) == pytest.approx(reference_loss(q, p, negs, 0.05, mode, blocked), rel=1e-5, abs=1e-6)


def test_the_sampling_correction_subtracts_log_q_from_the_rows_it_applies_to():
    """logQ correction: each logit minus its passage's log q, for the corrected rows only; a popular
    positive then costs its query less than it did, a rare one more."""
    torch.manual_seed(1)
    batch, dim = 4, 6
    q, p = torch.randn(batch, dim), torch.randn(batch, dim)
    offsets = torch.zeros(batch, batch)
    offsets[:2] = torch.log(torch.tensor([0.4, 0.01, 0.01, 0.01]))  # rows 0 and 1 corrected; item 0 popular
    loss = ItemInfoNCELoss(torch.nn.Identity(), temperature=0.05, in_batch="on")
    logits = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(p, dim=-1).T / 0.05
    expected = torch.nn.functional.cross_entropy(logits - offsets, torch.arange(batch))
    assert float(loss.compute_loss_from_embeddings([q, p], None, offsets)) == pytest.approx(float(expected), rel=1e-6)
    assert float(loss.compute_loss_from_embeddings([q, p], None, torch.zeros(batch, batch))) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, torch.arange(batch))), rel=1e-6
    )


def test_sampling_correction_is_log_of_each_items_share_of_positives_for_the_named_tasks(movielens_data):
    records, _ = load_training_records(movielens_data, TrainConfig(tasks=["UH2I", "FA2I"], negatives=2))
    rows = [r for r in range(len(records)) if records[r]["task"] == "UH2I"][:3] + [
        r for r in range(len(records)) if records[r]["task"] == "FA2I"
    ][:2]
    offsets = sampling_correction(records, ["UH2I"], 2)(rows)
    assert offsets.shape == (5, 5 * 3)
    assert not offsets[3:].any()  # FA2I rows: no correction
    counts = {}
    for record in records:
        counts[record["pos_ids"][0]] = counts.get(record["pos_ids"][0], 0) + 1
    total = len(records) + len(counts)
    first = records[rows[0]]["pos_ids"][0]
    assert float(offsets[0, 0]) == pytest.approx(np.log((counts[first] + 1) / total), rel=1e-6)
    negative = records[rows[1]]["neg_ids"][0]  # column of row 1's first verified negative
    assert float(offsets[0, 5 + 2]) == pytest.approx(np.log((counts.get(negative, 0) + 1) / total), rel=1e-6)
    assert (offsets[:3] < 0).all()


def test_a_setting_added_later_leaves_the_fingerprints_of_runs_without_it_unchanged(movielens_data):
    config = TrainConfig(negatives=2)
    records, _ = load_training_records(movielens_data, config)
    assert run_fingerprint(dataclasses.replace(config, sampling_correction=None), records) == run_fingerprint(
        config, records
    )
    corrected = dataclasses.replace(config, sampling_correction=["UH2I"])
    assert run_fingerprint(corrected, records) != run_fingerprint(config, records)


def test_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        ItemInfoNCELoss(torch.nn.Identity(), temperature=0)
    with pytest.raises(ValueError, match="in_batch must be one of"):
        ItemInfoNCELoss(torch.nn.Identity(), in_batch="sometimes")
    with pytest.raises(ValueError, match="needs false_negatives"):
        ItemInfoNCELoss(torch.nn.Identity(), in_batch="filtered")


def test_oversample_repeats_a_tasks_examples_and_counts_them_once(movielens_data):
    plain, plain_stats = load_training_records(movielens_data, TrainConfig(tasks=["NM2I", "VC2I"], negatives=3))
    records, stats = load_training_records(
        movielens_data, TrainConfig(tasks=["NM2I", "VC2I"], negatives=3, oversample={"nm2i": 3})
    )
    nm2i = [r for r in plain if r["task"] == "NM2I"]
    assert [r for r in records if r["task"] == "NM2I"] == [r for r in nm2i for _ in range(3)]
    assert [r for r in records if r["task"] == "VC2I"] == [r for r in plain if r["task"] == "VC2I"]
    assert stats["examples_per_task"] == plain_stats["examples_per_task"] and stats["oversample"] == {"NM2I": 3}
    for bad in ({"NM2I": 0}, {"NM2I": 1.5}, {"XX2I": 2}):
        with pytest.raises(ValueError):
            TrainConfig(oversample=bad).validate()


def test_resampled_positives_meet_the_query_and_only_the_chosen_task_changes(movielens, movielens_data):
    records, _ = load_training_records(
        movielens_data, TrainConfig(tasks=["VC2I", "FA2I"], negatives=3, oversample={"VC2I": 2})
    )
    resampled = resample_positives(records, movielens, ["vc2i"], seed=5)
    assert resample_positives(records, movielens, ["VC2I"], seed=5) == resampled  # seeded
    assert [r for r in resampled if r["task"] == "FA2I"] == [r for r in records if r["task"] == "FA2I"]
    vc2i = [(old, new) for old, new in zip(records, resampled) if old["task"] == "VC2I"]
    for old, new in vc2i:
        position = movielens.index[new["pos_ids"][0]]
        assert relevant_mask(movielens, old["spec"])[position]
        assert new["pos"] == [movielens.texts[position]]
        assert (new["query"], new["neg_ids"], new["neg"]) == (old["query"], old["neg_ids"], old["neg"])
    assert sum(old["pos_ids"] != new["pos_ids"] for old, new in vc2i) > len(vc2i) / 2  # not the phrased-from item
    with pytest.raises(ValueError, match="need the catalog"):
        train(movielens_data, "unused", TrainConfig(resample_positives=["VC2I"]))
    impossible = vc2i[0][0] | {"spec": {"constraints": [{"field": "year", "op": "lt", "value": "1000-01-01"}]}}
    with pytest.raises(ValueError, match="accepts no item of movielens"):  # CatalogError: data from another catalog
        resample_positives([impossible], movielens, ["VC2I"], seed=0)
    with pytest.raises(ValueError):
        TrainConfig(resample_positives=["XX2I"]).validate()


def test_filtered_mode_blocks_exactly_what_the_predicate_accepts(movielens, movielens_data):
    records, _ = load_training_records(movielens_data, TrainConfig(tasks=["NA2I", "FA2I"], negatives=3))
    rows = list(range(0, len(records), max(1, len(records) // 12)))[:12]
    blocked = false_negative_mask(movielens, records, 3)(rows).numpy()
    items = [records[r]["pos_ids"][0] for r in rows] + [i for r in rows for i in records[r]["neg_ids"][:3]]
    for row, r in enumerate(rows):
        relevant = relevant_mask(movielens, records[r]["spec"])
        expected = [bool(relevant[movielens.index[i]]) or i == records[r]["pos_ids"][0] for i in items]
        assert blocked[row].tolist() == expected
        own_negatives = [len(rows) + row * 3 + j for j in range(3)]
        assert not blocked[row, own_negatives].any()  # verified negatives are never relevant
    off_diagonal = blocked & ~np.eye(len(rows), len(items), dtype=bool)
    assert off_diagonal.any() and not off_diagonal.all()  # the filter really removes some, not all


def fixed_batch_loss(model, records, negatives=3):
    dataset = build_dataset(records[:16], negatives)
    loss = ItemInfoNCELoss(model, temperature=0.05)
    with torch.no_grad():
        columns = [c for c in dataset.column_names if c != "label"]
        features = [model.tokenize(dataset[c]) for c in columns]
        return float(loss(features, torch.tensor(dataset["label"])))


@pytest.mark.parametrize("negatives", [0, 3])
@pytest.mark.parametrize("maker", [tiny_bert, tiny_llama])
def test_chunks_of_similar_length_give_the_same_loss_and_gradients(movielens_data, tmp_path, negatives, maker):
    """chunk_rows only saves padding: the loss and every gradient equal one pass per column (no dropout
    in the tiny models), with the rows back in their order and a last chunk shorter than the others."""
    model = load_encoder(maker(tmp_path / "model"))
    records, _ = load_training_records(movielens_data, TrainConfig(negatives=3))
    rows = list(range(0, len(records), len(records) // 13))[:13]  # every task: queries of very unequal length
    dataset = build_dataset([records[r] for r in rows], negatives)
    columns = [c for c in dataset.column_names if c != "label"]
    labels = torch.tensor(dataset["label"])

    def loss_and_gradients(chunk_rows):
        model.zero_grad()
        features = [model.tokenize(dataset[c]) for c in columns]
        value = ItemInfoNCELoss(model, temperature=0.05, in_batch="on", chunk_rows=chunk_rows)(features, labels)
        value.backward()
        return value.item(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    whole, whole_gradients = loss_and_gradients(0)
    chunked, chunked_gradients = loss_and_gradients(4)
    assert chunked == pytest.approx(whole, rel=1e-5)
    assert chunked_gradients.keys() == whole_gradients.keys() and whole_gradients
    scale = max(float(gradient.abs().max()) for gradient in whole_gradients.values())  # rounding, against the largest
    for name, gradient in whole_gradients.items():
        torch.testing.assert_close(chunked_gradients[name], gradient, rtol=1e-4, atol=1e-4 * scale, msg=name)
    with pytest.raises(ValueError, match="chunk_rows"):
        ItemInfoNCELoss(model, chunk_rows=-1)


def _config(model, **overrides):
    settings = dict(
        model=model,
        max_per_task=40,
        negatives=3,
        batch_size=4,
        learning_rate=2e-3,
        temperature=0.05,
        max_steps=12,
        progress=False,
        logging_steps=4,
        seed=1,
        precision="fp32",
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def test_tiny_bert_trains_and_loss_falls(movielens_data, tmp_path):
    base = tiny_bert(tmp_path / "bert")
    records, _ = load_training_records(movielens_data, _config(base))
    before = fixed_batch_loss(load_encoder(base), records)
    out = train(movielens_data, tmp_path / "out", _config(base, max_steps=30))
    after = fixed_batch_loss(load_encoder(str(out)), records)
    assert after < before
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(out)).encode(["a movie"]).shape == (1, 32)
    card = json.loads((out / "itemlib_training.json").read_text())
    assert card["global_step"] == 30 and card["hyperparameters"]["negatives"] == 3
    readme = (out / "README.md").read_text()
    assert "itemlib fine-tuning" in readme
    # sentence-transformers writes the loss settings and citation from the loss itself
    assert '"temperature": 0.05' in readme and '"in_batch": "off"' in readme and "lei2024aligning" in readme


def test_a_run_with_the_sampling_correction_trains_and_records_it(movielens_data, tmp_path):
    config = _config(tiny_bert(tmp_path / "bert"), max_steps=2, in_batch="on", sampling_correction=["uh2i", "I2I"])
    out = train(movielens_data, tmp_path / "out", config)
    card = json.loads((out / "itemlib_training.json").read_text())
    assert card["hyperparameters"]["sampling_correction"] == ["UH2I", "I2I"]
    assert '"sampling_correction": true' in (out / "README.md").read_text()
    with pytest.raises(ValueError):
        TrainConfig(sampling_correction=["XX2I"]).validate()
    with pytest.raises(ValueError, match="would be ignored"):  # the frozen item side's loss has no in-batch passages
        TrainConfig(sampling_correction=["UH2I"], item_tower="frozen", negatives=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="bf16 on a GPU is the trainer's own case")
def test_bf16_training_runs_on_a_cpu_with_fp32_weights(movielens_data, tmp_path):
    """transformers refuses bf16 without a GPU unless told to use the CPU: --precision bf16 tells it."""
    out = train(movielens_data, tmp_path / "out", _config(tiny_bert(tmp_path / "bert"), max_steps=2, precision="bf16"))
    weights = load_file(str(out / "model.safetensors"))
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}  # autocast: the weights stay fp32


def test_the_gpu_mpnet_recipe_fine_tunes_an_mpnet_encoder(movielens, movielens_data, tmp_path):
    """The gpu-mpnet profile's recipe as published, on a tiny MPNet (all-mpnet-base-v2's architecture):
    a lent GPU runs it with `itemlib study --profile gpu-mpnet`."""
    from itemlib.study import PROFILES

    from .tiny_models import tiny_mpnet

    recipe = PROFILES["gpu-mpnet"].training
    assert recipe.model == "mpnet" and recipe.negatives == PROFILES["gpu"].training.negatives
    config = dataclasses.replace(recipe, model=tiny_mpnet(tmp_path / "mpnet"), max_steps=2, batch_size=4,
                                 save_steps=0, logging_steps=1, max_per_task=8)  # fmt: skip
    out = train(movielens_data, tmp_path / "out", config, catalog=movielens)
    card = json.loads((out / "itemlib_training.json").read_text())
    assert card["global_step"] == 2 and card["hyperparameters"]["in_batch"] == recipe.in_batch
    assert load_encoder(str(out)).encode(["a movie"]).shape == (1, 32)


def test_tiny_llama_with_lora_trains_and_loss_falls(movielens_data, tmp_path):
    base = tiny_llama(tmp_path / "llama")
    config = _config(base, pooling="lasttoken", lora_rank=4, max_steps=30, learning_rate=5e-3)
    records, _ = load_training_records(movielens_data, config)
    before = fixed_batch_loss(load_encoder(base, pooling="lasttoken"), records)
    out = train(movielens_data, tmp_path / "out", config)
    tuned = load_encoder(str(out))
    assert "lasttoken" in str(tuned)
    assert fixed_batch_loss(tuned, records) < before
    saved, original = _weights(out), _weights(Path(base))
    assert not any("lora" in name for name in saved)  # adapters were merged into the weights
    assert any(not torch.equal(saved[n], original[n]) for n in saved if n in original)


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True
        return control


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(next(directory.glob("model.safetensors")))


def test_interrupted_run_resumes_to_the_same_step_and_weights(movielens_data, tmp_path, caplog):
    base = tiny_bert(tmp_path / "bert")
    config = _config(base, save_steps=3, max_steps=6)
    other = dataclasses.replace(config, learning_rate=config.learning_rate * 2)
    straight = train(movielens_data, tmp_path / "straight", config)
    interrupted = tmp_path / "interrupted"
    train(movielens_data, interrupted, config, callbacks=[StopAt(3)])
    assert not (interrupted / "model.safetensors").exists() and (interrupted / "checkpoints" / "checkpoint-3").is_dir()
    with pytest.raises(ModelError, match="training into this folder has not finished"):  # never read a partial run
        load_encoder(str(interrupted))
    with pytest.raises(ValueError, match="checkpoints of another training run"):  # never resume someone else's run
        train(movielens_data, interrupted, other)
    partial = interrupted / "checkpoints" / "checkpoint-5"  # a save cut short by Ctrl-C: no trainer_state.json yet
    shutil.copytree(interrupted / "checkpoints" / "checkpoint-3", partial)
    (partial / "trainer_state.json").unlink()
    train(movielens_data, interrupted, config)  # resumes from checkpoint-3, not from the broken one
    assert json.loads((interrupted / "itemlib_training.json").read_text())["global_step"] == 6
    assert "checkpoint-5 was interrupted while it was saved" in caplog.text
    a, b = _weights(straight), _weights(interrupted)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)

    card, checkpoints = (straight / "itemlib_training.json").read_text(), sorted((straight / "checkpoints").iterdir())
    train(movielens_data, straight, config)  # finished: a no-op that says so
    assert (straight / "itemlib_training.json").read_text() == card
    assert sorted((straight / "checkpoints").iterdir()) == checkpoints
    assert "is already trained (6 steps, same data and settings): nothing to do" in caplog.text
    with pytest.raises(ValueError, match="holds a model trained on other data or settings"):
        train(movielens_data, straight, other)


def test_torchrun_two_processes_match_one_process(movielens_data, tmp_path):
    base = tiny_bert(tmp_path / "bert")
    common = [
        "--data",
        str(movielens_data),
        "--model",
        base,
        "--max-per-task",
        "20",
        "--negatives",
        "3",
        "--lr",
        "2e-3",
        "--temperature",
        "0.05",
        "--max-steps",
        "4",
        "--precision",
        "fp32",
        "--quiet",
        "--seed",
        "1",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    single = subprocess.run(
        [sys.executable, "-m", "itemlib.cli", "train", "--out", str(tmp_path / "one"), "--batch-size", "4", *common],
        env=env,
        capture_output=True,
        text=True,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    double = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            "-m",
            "itemlib.cli",
            "train",
            "--out",
            str(tmp_path / "two"),
            "--batch-size",
            "2",
            *common,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert double.returncode == 0, double.stderr[-2000:]
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    original = _weights(Path(base))
    assert any(not torch.allclose(a[n], original[n], atol=1e-4) for n in a if n in original)  # training moved weights
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-3, atol=1e-4)
