"""Chat-Rec's recommender step: retrieve candidates for the whole dialogue, then let a ranker
(by default none: the retriever's order; or a chat model) pick from them and explain."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from itemlib.catalog import Catalog
from itemlib.llm import ChatClient, LLMError
from itemlib.retrieval import Retriever, id_ranks, search


@dataclass
class Recommendation:
    item_ids: list[str]
    explanation: str
    source: str  # "retriever" or "llm"


class LLMRanker:
    """Asks an OpenAI-compatible chat endpoint to order the retrieved candidates and explain.

    Any failure (network, timeout, an answer that is not the expected JSON) falls back to the
    retriever's order with a warning: the conversation goes on.
    """

    def __init__(
        self, url: str | None = None, model: str | None = None, api_key: str | None = None, timeout: float = 20.0
    ) -> None:
        self.client = ChatClient(url, model, api_key, timeout)

    def __call__(self, catalog: Catalog, dialogue: str, candidates: list[str]) -> Recommendation:
        listing = "\n".join(f"{n}. {catalog.texts[catalog.index[i]]}" for n, i in enumerate(candidates))
        prompt = (
            f"A user talks to a {catalog.noun} recommender:\n{dialogue}\n\nCandidates:\n{listing}\n\n"
            'Answer with JSON only: {"ranking": [candidate numbers, best first], "explanation": "one sentence"}'
        )
        try:
            answer = self.client.complete(prompt)
            match = re.search(r"\{.*\}", answer, flags=re.S)
            parsed = json.loads(match.group(0)) if match else None
            order = [int(n) for n in parsed["ranking"] if 0 <= int(n) < len(candidates)]  # type: ignore[index]
            if not order:
                raise ValueError("empty ranking")
        except (LLMError, ValueError, TypeError, KeyError) as error:
            warnings.warn(f"LLM recommender step failed ({error}); using the retriever's order", stacklevel=2)
            return Recommendation(candidates, "", "retriever")
        ranked = list(dict.fromkeys(candidates[n] for n in order)) + [
            c for c in candidates if c not in {candidates[n] for n in order}
        ]
        return Recommendation(ranked, str(parsed.get("explanation", "")), "llm")


Ranker = Callable[[Catalog, str, list[str]], Recommendation]


def recommend(
    retriever: Retriever,
    catalog: Catalog,
    dialogue: str,
    *,
    exclude: Sequence[str] = (),
    candidates: int = 20,
    ranker: Ranker | None = None,
) -> Recommendation:
    """Chat-Rec: retrieve the top ``candidates`` for the whole dialogue, then let ``ranker``
    (default: none, the retriever's order) pick from them."""
    masks = [[catalog.index[i] for i in exclude if i in catalog.index]]
    top = search(retriever, [dialogue], masks, candidates, ranks=id_ranks(catalog))[0]
    ids = [catalog.items[p].id for p in top]
    return ranker(catalog, dialogue, ids) if ranker else Recommendation(ids, "", "retriever")
