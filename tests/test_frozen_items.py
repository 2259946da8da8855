"""The frozen item side: CatalogInfoNCELoss against a one-query-at-a-time reference (masks included),
its config rules, a tiny model trained end to end (items keep the base weights and share its cached
embeddings), and the validation share that a run of one epoch or more still leaves unseen."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from itemlib.embedding import model_fingerprint
from itemlib.losses import CatalogInfoNCELoss
from itemlib.models import load_encoder
from itemlib.relevance import relevant_mask
from itemlib.retrieval import EncoderRetriever
from itemlib.training import TrainConfig, catalog_targets, load_training_records, train
from itemlib.validation import ValidationConfig, validation_split

from .tiny_models import tiny_bert


def reference_catalog_loss(queries, items, positives, blocked, temperature):
    """One query at a time: -log softmax of its positive among every item it may see."""
    total = 0.0
    for q, positive, mask in zip(queries, positives, blocked):
        seen = [j for j in range(len(items)) if j == positive or not mask[j]]
        logits = torch.tensor([float(torch.cosine_similarity(q, items[j], dim=0)) for j in seen]) / temperature
        total += float(-torch.log_softmax(logits, 0)[seen.index(int(positive))])
    return total / len(queries)


def test_catalog_loss_equals_reference_with_masks():
    torch.manual_seed(0)
    queries, items = torch.randn(5, 6), torch.randn(30, 6)
    positives = torch.tensor([0, 3, 3, 17, 29])
    blocked = torch.rand(5, 30) < 0.5
    blocked[0, 0] = True  # a positive the predicate accepts is still the positive
    loss = CatalogInfoNCELoss(torch.nn.Identity(), items, lambda rows: (positives, blocked), temperature=0.05)
    value = loss.compute_loss_from_embeddings(queries, positives, blocked)
    assert float(value) == pytest.approx(reference_catalog_loss(queries, items, positives, blocked, 0.05), rel=1e-5)
    assert blocked[0, 0], "the caller's mask is not modified"


def test_catalog_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        CatalogInfoNCELoss(torch.nn.Identity(), torch.randn(3, 2), lambda rows: None, temperature=0)
    with pytest.raises(ValueError, match="non-empty"):
        CatalogInfoNCELoss(torch.nn.Identity(), torch.randn(0, 2), lambda rows: None)


def test_frozen_items_need_no_encoded_negatives_and_the_catalog():
    with pytest.raises(ValueError, match="negatives=0"):
        TrainConfig(item_tower="frozen", negatives=3)
    with pytest.raises(ValueError, match="in_batch='off'"):
        TrainConfig(item_tower="frozen", negatives=0, in_batch="filtered")
    assert TrainConfig(item_tower="frozen", negatives=0).needs_catalog


def test_catalog_targets_mark_what_each_query_accepts(movielens, movielens_data):
    records, _ = load_training_records(movielens_data, TrainConfig(negatives=0, tasks=["VC2I", "NM2I"]))
    positives, accepted = catalog_targets(movielens, records)([0, len(records) - 1])
    for row, record in zip([0, -1], [records[0], records[-1]]):
        assert int(positives[row]) == movielens.index[record["pos_ids"][0]]
        assert np.array_equal(accepted[row].numpy(), relevant_mask(movielens, record["spec"]))


def _frozen(model: str, **overrides) -> TrainConfig:
    settings = dict(
        model=model, item_tower="frozen", negatives=0, batch_size=8, learning_rate=2e-3, temperature=0.05,
        max_steps=10, progress=False, logging_steps=5, seed=1, precision="fp32", validation_share=0.2,
        max_seq_length=64,
    )  # fmt: skip
    return TrainConfig(**settings | overrides)


def test_tiny_model_trains_its_query_side_and_keeps_the_base_items(movielens, movielens_data, tmp_path):
    base = tiny_bert(tmp_path / "bert")
    cache = tmp_path / "cache"
    config = _frozen(base)
    out = train(movielens_data, tmp_path / "out", config, catalog=movielens)

    tuned, untouched = SentenceTransformer(str(out)), load_encoder(base, max_seq_length=64)
    texts = movielens.texts[:5]
    assert np.allclose(tuned.encode_document(texts), untouched.encode_document(texts), atol=1e-6)
    assert not np.allclose(tuned.encode_query(texts), untouched.encode_query(texts), atol=1e-3)
    # the fine-tuned model's items are the base model's: evaluation embeds the catalog once for both
    assert model_fingerprint(load_encoder(str(out))) == model_fingerprint(untouched)
    first = EncoderRetriever(untouched, cache_dir=cache)
    first.index(movielens)
    assert len(list(cache.iterdir())) == 1
    EncoderRetriever(str(out), cache_dir=cache).index(movielens)
    assert len(list(cache.iterdir())) == 1

    card = json.loads((out / "itemlib_training.json").read_text())
    assert card["hyperparameters"]["item_tower"] == "frozen" and card["epoch"] > 0
    losses = [entry["loss"] for entry in json.loads((out / "training_log.json").read_text()) if "loss" in entry]
    assert losses[-1] < losses[0]


def test_validation_share_is_never_trained_on_and_is_the_split(movielens, movielens_data, tmp_path):
    base = tiny_bert(tmp_path / "bert")
    config = _frozen(base, tasks=["NM2I"], max_steps=-1, epochs=1.0)
    records, stats = load_training_records(movielens_data, config)
    lines = (movielens_data / "train" / "NM2I.jsonl").read_text().splitlines()
    held = stats["validation_held_out"]["NM2I"]
    assert held == int(len(lines) * 0.2) > 0 and len(records) == len(lines) - held
    out = train(movielens_data, tmp_path / "out", config, catalog=movielens)
    split, _ = validation_split(movielens_data, movielens, [out], ValidationConfig(per_task=1000))
    held_queries = {json.loads(line)["query"] for line in lines[-held:]}
    assert {record["query"] for record in split["NM2I"]} == held_queries
    assert json.loads((out / "itemlib_training.json").read_text())["epoch"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="validation_share"):
        replace(config, validation_share=0.9)
