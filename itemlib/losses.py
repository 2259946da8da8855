"""Contrastive losses of a query against its positive item: :class:`ItemInfoNCELoss` (verified
negatives encoded in the batch) and :class:`CatalogInfoNCELoss` (the whole catalog, embedded once)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from itemlib.train_config import DEFAULT_TEMPERATURE, IN_BATCH_MODES, InBatch

#: BibTeX of the paper both losses come from (sentence-transformers writes it into the model card).
PAPER_CITATION = """
@inproceedings{lei2024aligning,
    title = "Aligning Language Models for Versatile Text-based Item Retrieval",
    author = "Lei, Yuxuan and Lian, Jianxun and Yao, Jing and Wu, Mingqi and Lian, Defu and Xie, Xing",
    booktitle = "Companion Proceedings of the ACM Web Conference 2024",
    year = "2024",
    eprint = "2402.18899",
    archivePrefix = "arXiv",
}
"""

#: ``rows`` (dataset indices of the batch) -> bool (B, B * (1 + K)): True where the passage of
#: another example is relevant to the query (or is the query's own positive item) and must not
#: act as its negative. Column order: the B positives, then each example's K negatives.
FalseNegativeMask = Callable[[list[int]], Tensor]

#: ``rows`` (dataset indices of the batch) -> float (B, B * (1 + K)) subtracted from the logits (in the
#: same column order): log q of each passage for the queries a sampling-bias correction applies to.
LogitCorrection = Callable[[list[int]], Tensor]

#: ``rows`` (dataset indices of the batch) -> (positive catalog positions (B,), bool (B, N) True where
#: the catalog item must not be the query's negative: its task's predicate accepts it, positive aside).
CatalogTargets = Callable[[list[int]], tuple[Tensor, Tensor]]


def embed_columns_by_length(
    model: nn.Module, features_list: Iterable[dict[str, Any]], chunk_rows: int = 0
) -> list[Tensor]:
    """One ``sentence_embedding`` tensor per column, each column's rows embedded in chunks of
    ``chunk_rows`` texts of similar length (0: sentence-transformers' ``embed_columns``, the query
    column in one forward pass and the passage columns merged into another).

    Why: the collator pads a column to its longest text, and a few long queries (a user's history)
    make most of a batch padding: in the cpu recipe's batches of 32 a third of the query tokens are
    text. Sorted into chunks, each padded only to its own longest, the model computes nearly only
    text tokens (``benchmarks/bench_train.py`` measures the gain). The embeddings are returned in
    the rows' own order and are the same as one pass would give, so are the loss and its gradients,
    up to rounding and the dropout masks drawn (the random draws follow the chunks' shapes).
    """
    from sentence_transformers.base.losses.merged_forward import embed_columns, merge_feature_batches

    features_list = list(features_list)
    if not chunk_rows:
        return embed_columns(model, features_list)
    queries, passages = features_list[0], features_list[1:]
    embeddings = [_embed_sorted(model, queries, chunk_rows)]
    merged = merge_feature_batches(passages) if len(passages) > 1 else None
    if merged is None:
        return embeddings + [_embed_sorted(model, features, chunk_rows) for features in passages]
    together = _embed_sorted(model, merged, chunk_rows)
    return embeddings + list(together.reshape(len(passages), -1, *together.shape[1:]).unbind(0))


def _embed_sorted(model: nn.Module, features: dict[str, Any], chunk_rows: int) -> Tensor:
    """``model``'s sentence embeddings of one column, its rows sorted by length, embedded
    ``chunk_rows`` at a time and put back in their order. A right-padded chunk is cut to its
    longest text (left padding is kept whole: cutting it would move the texts' positions)."""
    mask = features["attention_mask"]
    rows = mask.shape[0]
    if rows <= chunk_rows:
        return model(features)["sentence_embedding"]
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths, stable=True)
    parts = []
    for start in range(0, rows, chunk_rows):
        index = order[start : start + chunk_rows]
        width = int(lengths[index].max())
        right_padded = not bool(mask[index, width:].any())
        chunk = {}
        for key, value in features.items():
            if isinstance(value, Tensor) and value.ndim >= 1 and value.shape[0] == rows and key != "prompt_length":
                value = value[index]
                if value.ndim >= 2 and right_padded and value.shape[1] == mask.shape[1]:
                    value = value[:, :width]
            chunk[key] = value
        parts.append(model(chunk)["sentence_embedding"])
    return torch.cat(parts)[torch.argsort(order)]


class ItemInfoNCELoss(nn.Module):
    """InfoNCE over cosine similarity / temperature of each query against its positive item and
    its K verified negatives, optionally also against the other examples' passages in the batch.

    In plain terms: every query should be closer to its item than to items known *not* to answer
    it. Other examples' passages in the batch are free extra negatives, but they may well answer
    the query too (a second comedy for "a comedy movie") — a false negative that the model is then
    taught to push away. The paper therefore trains without them (``in_batch="off"``, the
    default). ``"on"`` uses them all (the usual MultipleNegativesRankingLoss behaviour);
    ``"filtered"`` uses only those the task's relevance predicate rejects for this query.

    Args:
        model: the SentenceTransformer being trained.
        temperature: divides cosine similarities; the paper uses 0.01. Must be > 0.
        in_batch: ``"off"``, ``"on"`` or ``"filtered"``.
        false_negatives: required for ``"filtered"``; see :data:`FalseNegativeMask`. Built by
            :func:`itemlib.training.false_negative_mask`.
        chunk_rows: > 0 embeds each column in chunks of that many texts of similar length (less
            padding; the same loss up to rounding and dropout draws), see :func:`embed_columns_by_length`.
        correction: optional, see :data:`LogitCorrection`: the logQ correction of sampled softmax
            (Yi et al.), subtracted from the logits of the queries it applies to. Built by
            :func:`itemlib.training.sampling_correction`.

    Inputs:

    =========================================================  ==========================
    columns                                                    labels
    =========================================================  ==========================
    (query, positive, negative_1, ..., negative_K), K >= 0     dataset row index (int)
    =========================================================  ==========================

    Relations: with ``in_batch="on"`` and temperature 1/scale this equals sentence-transformers'
    ``MultipleNegativesRankingLoss`` with hard negatives; with ``"off"`` and K = 0 it is constant.

    References:
        - van den Oord, Li and Vinyals, "Representation Learning with Contrastive Predictive Coding",
          arXiv:1807.03748 (InfoNCE).
        - Lei et al., "Aligning Language Models for Versatile Text-based Item Retrieval",
          arXiv:2402.18899, section 3 (verified negatives, no in-batch negatives).
        - Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations",
          RecSys 2019 (the logQ correction of in-batch negatives).

    Example::

        from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
        from itemlib.losses import ItemInfoNCELoss

        model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
        loss = ItemInfoNCELoss(model, temperature=0.01)
        trainer = SentenceTransformerTrainer(model=model, train_dataset=dataset, loss=loss)
        trainer.train()
    """

    def __init__(
        self,
        model: nn.Module,
        temperature: float = DEFAULT_TEMPERATURE,
        in_batch: InBatch = "off",
        false_negatives: FalseNegativeMask | None = None,
        chunk_rows: int = 0,
        correction: LogitCorrection | None = None,
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if chunk_rows < 0:
            raise ValueError(f"chunk_rows must be >= 0, got {chunk_rows}")
        if in_batch not in IN_BATCH_MODES:
            raise ValueError(f"in_batch must be one of {IN_BATCH_MODES}, got {in_batch!r}")
        if in_batch == "filtered" and false_negatives is None:
            raise ValueError("in_batch='filtered' needs false_negatives (the task predicates of the batch)")
        self.model = model
        self.temperature = temperature
        self.in_batch = in_batch
        self.false_negatives = false_negatives
        self.chunk_rows = chunk_rows
        self.correction = correction

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        embeddings = embed_columns_by_length(self.model, sentence_features, self.chunk_rows)
        rows = [int(r) for r in labels.tolist()]
        device = embeddings[0].device
        blocked = self.false_negatives(rows).to(device) if self.in_batch == "filtered" else None  # type: ignore[misc]
        offsets = self.correction(rows).to(device) if self.correction is not None else None
        return self.compute_loss_from_embeddings(embeddings, blocked, offsets)

    def compute_loss_from_embeddings(
        self, embeddings: list[Tensor], blocked: Tensor | None = None, offsets: Tensor | None = None
    ) -> Tensor:
        """``embeddings`` = [queries (B, d), positives (B, d), negatives_1 (B, d), ...];
        ``blocked`` (B, B * (1 + K)) marks passages that must not be negatives (``"filtered"``);
        ``offsets`` (same shape) are subtracted from the logits (:data:`LogitCorrection`)."""
        queries, positives, negatives = embeddings[0], embeddings[1], embeddings[2:]
        batch, k = queries.size(0), len(negatives)
        # columns: the B positives, then example 0's K negatives, example 1's K negatives, ...
        columns = [positives] + ([torch.stack(negatives, dim=1).reshape(batch * k, -1)] if k else [])
        candidates = nn.functional.normalize(torch.cat(columns, dim=0), dim=-1)
        logits = nn.functional.normalize(queries, dim=-1) @ candidates.T / self.temperature
        if offsets is not None:
            logits = logits - offsets.to(logits.dtype)
        rows = torch.arange(batch, device=queries.device)
        own = torch.zeros_like(logits, dtype=torch.bool)
        own[rows, rows] = True
        for j in range(k):
            own[rows, batch + rows * k + j] = True
        if self.in_batch == "off":
            keep = own
        elif self.in_batch == "on":
            keep = torch.ones_like(own)
        else:
            keep = own | ~blocked  # type: ignore[operator]
        logits = logits.masked_fill(~keep, float("-inf"))
        return nn.functional.cross_entropy(logits, rows)

    def get_config_dict(self) -> dict[str, Any]:
        """The settings the model card records (sentence-transformers reads this on training)."""
        return {"temperature": self.temperature, "in_batch": self.in_batch, "chunk_rows": self.chunk_rows,
                "sampling_correction": self.correction is not None}  # fmt: skip

    @property
    def citation(self) -> str:
        return PAPER_CITATION


class CatalogInfoNCELoss(nn.Module):
    """InfoNCE of each query against the whole catalog, with the item side frozen.

    The item embeddings are computed once, by the model before training, and held fixed; only the
    query side learns. Each query's positive is its item's row, and every other item its task's
    predicate rejects is a negative: every verified negative in the catalog instead of K of them,
    for one matrix product per batch and no passage encoded. Items the predicate accepts (other
    answers to the query) are left out of the softmax. The trained query encoder is then paired
    with the unchanged item encoder (:func:`itemlib.models.query_document_model`), so the catalog's
    embeddings are those of the base model and are not recomputed per fine-tuned model.

    Args:
        model: the SentenceTransformer being trained (the query side).
        item_embeddings: (N, d) embeddings of the catalog's items by the base model (normalised here).
        targets: see :data:`CatalogTargets`; built by :func:`itemlib.training.catalog_targets`.
        temperature: divides cosine similarities. Must be > 0.
        chunk_rows: > 0 embeds the queries in chunks of that many of similar length, see
            :func:`embed_columns_by_length`.

    Inputs:

    =====================  ==========================
    columns                labels
    =====================  ==========================
    (query,)               dataset row index (int)
    =====================  ==========================

    Relations: :class:`ItemInfoNCELoss` with ``in_batch="off"`` whose K negatives are all the items the
    predicate rejects, and whose passages are embedded by the frozen base model.

    References:
        - van den Oord, Li and Vinyals, "Representation Learning with Contrastive Predictive Coding",
          arXiv:1807.03748 (InfoNCE).
        - Xiong et al., "Approximate Nearest Neighbor Negative Contrastive Learning for Dense Text
          Retrieval", ICLR 2021, arXiv:2007.00808 (negatives from an index of the catalog).
        - Lei et al., "Aligning Language Models for Versatile Text-based Item Retrieval",
          arXiv:2402.18899 (the tasks and their verified negatives).

    Example::

        from itemlib.losses import CatalogInfoNCELoss
        from itemlib.training import catalog_targets

        items = model.encode_document(catalog.texts, convert_to_tensor=True)
        loss = CatalogInfoNCELoss(model, items, catalog_targets(catalog, records), temperature=0.05)
        trainer = SentenceTransformerTrainer(model=model, train_dataset=queries_only, loss=loss)
    """

    def __init__(self, model: nn.Module, item_embeddings: Tensor, targets: CatalogTargets,
                 temperature: float = DEFAULT_TEMPERATURE, chunk_rows: int = 0):  # fmt: skip
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if chunk_rows < 0:
            raise ValueError(f"chunk_rows must be >= 0, got {chunk_rows}")
        if item_embeddings.ndim != 2 or not len(item_embeddings):
            shape = tuple(item_embeddings.shape)
            raise ValueError(f"item_embeddings must be a non-empty (N, d) matrix, got shape {shape}")
        self.model = model
        self.register_buffer("item_embeddings", nn.functional.normalize(item_embeddings.detach().float(), dim=-1))
        self.targets = targets
        self.temperature = temperature
        self.chunk_rows = chunk_rows

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        queries = embed_columns_by_length(self.model, sentence_features, self.chunk_rows)[0]
        positives, blocked = self.targets([int(r) for r in labels.tolist()])
        return self.compute_loss_from_embeddings(queries, positives.to(queries.device), blocked.to(queries.device))

    def compute_loss_from_embeddings(self, queries: Tensor, positives: Tensor, blocked: Tensor) -> Tensor:
        """``queries`` (B, d); ``positives`` (B,) catalog rows; ``blocked`` (B, N) items left out of the softmax."""
        items = self.item_embeddings.to(queries.device)
        logits = nn.functional.normalize(queries, dim=-1) @ items.T / self.temperature
        rows = torch.arange(len(positives), device=queries.device)
        blocked = blocked.clone()
        blocked[rows, positives] = False
        return nn.functional.cross_entropy(logits.masked_fill(blocked, float("-inf")), positives)

    def get_config_dict(self) -> dict[str, Any]:
        """The settings the model card records (sentence-transformers reads this on training)."""
        return {"temperature": self.temperature, "negatives": "every catalog item the predicate rejects",
                "chunk_rows": self.chunk_rows}  # fmt: skip

    @property
    def citation(self) -> str:
        return PAPER_CITATION
