"""The conversational setting (Chat-Rec): dialogues as queries, a retrieve-then-recommend
pipeline with an optional LLM step, and an interactive terminal chat.

Dialogue test sets are generated from a catalog's held-out targets (each user's last item, the
history masked): 2 to 5 user turns that mention liked items, reveal the target's attributes a
little at a time, reject a wrong suggestion, or change their mind. Their phrasings come from
``templates/dialogue.json``, which no training task uses, so the composite task is never seen
in training. The whole conversation is the query.
"""

from __future__ import annotations

import json
import random
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TextIO

import numpy as np
import pandas as pd

from itemlib.catalog import Catalog
from itemlib.metrics import hit_at_k
from itemlib.relevance import relevant_mask
from itemlib.retrieval import Retriever, id_ranks, search, search_records
from itemlib.sampling import article, lexicalise_request, request_clauses, sample_exclusion
from itemlib.templates import phrase_bank_file
from itemlib.writers import ChatWriter, WriterError


def _bank() -> dict[str, tuple[str, ...]]:
    return phrase_bank_file("dialogue.json")


def render_dialogue(turns: Sequence[tuple[str, str]]) -> str:
    """``[("user", text), ("assistant", text), ...]`` as one query string."""
    return "\n".join(f"{role.capitalize()}: {text}" for role, text in turns)


def generate_dialogues(catalog: Catalog, count: int = 200, seed: int = 0) -> list[dict]:
    """Dialogues ending in each sampled user's last item (deterministic for a seed)."""
    rng = random.Random(f"{seed}:dialogues")
    bank = _bank()
    words = {"noun": catalog.noun, "nouns": f"{catalog.noun}s"}
    users = sorted(u for u, h in catalog.histories.items() if len(h) >= 3)
    rng.shuffle(users)
    dialogues = []
    for user in users[:count]:
        history = catalog.histories[user]
        target = catalog.item(history[-1])
        facts = request_clauses(catalog, target, rng)
        liked = [catalog.item(i).title for i in rng.sample(history[:-1], min(2, len(history) - 1))]
        turns: list[tuple[str, str]] = [("user", rng.choice(bank["opening"]).format(liked=" and ".join(liked), **words))]
        revealed: list = []
        remaining, rejected = rng.randint(2, 5) - 1, False
        while remaining > 0:
            options = ["reveal"] if len(revealed) < len(facts) else []
            options += ["reject"] if not rejected else []
            options += ["change"] if remaining >= 2 and len(revealed) < len(facts) else []
            if not revealed and "reveal" in options:
                options = ["reveal"]  # the first thing said after the opening is a real wish
            if not options:
                break
            action = rng.choice(options)
            if action == "reveal":
                fact = facts[len(revealed)]
                turns.append(("user", rng.choice(bank["reveal"]).format(request=lexicalise_request(catalog, [fact]))))
                revealed.append(fact)
                remaining -= 1
            elif action == "reject":  # a wrong suggestion, turned down
                in_history = relevant_mask(catalog, {"ids": list(history)})
                wrong = catalog.items[rng.choice(np.flatnonzero(~in_history).tolist())]
                turns.append(("assistant", rng.choice(bank["suggest"]).format(title=wrong.title)))
                turns.append(("user", rng.choice(bank["reject"]).format(title=wrong.title)))
                rejected, remaining = True, remaining - 1
            else:  # change of mind: a wish the target does not satisfy, then retracted
                decoy = sample_exclusion(catalog, target, rng)
                if decoy is None:
                    remaining -= 2
                    continue
                wish = decoy.bare.split(", ")[0]
                fact = facts[len(revealed)]
                turns.append(("user", rng.choice(bank["reveal"]).format(request=f"{article(wish)} {wish} {catalog.noun}")))
                turns.append(("user", rng.choice(bank["change"]).format(wrong=wish, request=lexicalise_request(catalog, [fact]))))
                revealed.append(fact)
                remaining -= 2
        role, text = turns[-1]
        turns[-1] = (role, f"{text} {rng.choice(bank['closing'])}")
        user_turns = sum(role == "user" for role, _ in turns)
        dialogues.append({
            "query": render_dialogue(turns), "turns": turns, "user_turns": user_turns, "user": user,
            "pos_ids": [target.id], "mask_ids": list(history[:-1]),
            "revealed": [c.constraint for c in revealed],
        })
    return dialogues


def evaluate_dialogues(retriever: Retriever, catalog: Catalog, dialogues: Sequence[dict], ks: Sequence[int] = (5, 10, 20)) -> pd.DataFrame:
    """Hit@K overall and by number of user turns: rows (turns, k, hit, dialogues)."""
    retriever.index(catalog)
    ranked = search_records(retriever, catalog, dialogues, max(ks))
    relevant = np.array([[catalog.items[p].id in d["pos_ids"] for p in row] for d, row in zip(dialogues, ranked)])
    turns = np.array([d["user_turns"] for d in dialogues])
    rows = []
    for group in ["all", *sorted(set(turns.tolist()))]:
        selected = np.ones(len(turns), bool) if group == "all" else turns == group
        for k in ks:
            rows.append({"turns": str(group), "k": k, "hit": float(hit_at_k(relevant[selected], k).mean()), "dialogues": int(selected.sum())})
    return pd.DataFrame(rows)


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

    def __init__(self, url: str | None = None, model: str | None = None, api_key: str | None = None, timeout: float = 20.0) -> None:
        self.client = ChatWriter(url, model, api_key, timeout)

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
        except (WriterError, ValueError, TypeError, KeyError) as error:
            warnings.warn(f"LLM recommender step failed ({error}); using the retriever's order", stacklevel=2)
            return Recommendation(candidates, "", "retriever")
        ranked = list(dict.fromkeys(candidates[n] for n in order)) + [c for c in candidates if c not in {candidates[n] for n in order}]
        return Recommendation(ranked, str(parsed.get("explanation", "")), "llm")


Ranker = Callable[[Catalog, str, list[str]], Recommendation]


def recommend(retriever: Retriever, catalog: Catalog, dialogue: str, *, exclude: Sequence[str] = (), candidates: int = 20, ranker: Ranker | None = None) -> Recommendation:
    """Chat-Rec: retrieve the top ``candidates`` for the whole dialogue, then let ``ranker``
    (default: none, the retriever's order) pick from them."""
    masks = [[catalog.index[i] for i in exclude if i in catalog.index]]
    top = search(retriever, [dialogue], masks, candidates, ranks=id_ranks(catalog))[0]
    ids = [catalog.items[p].id for p in top]
    return ranker(catalog, dialogue, ids) if ranker else Recommendation(ids, "", "retriever")


def chat_loop(retriever: Retriever, catalog: Catalog, stdin: TextIO, stdout: TextIO, *, shown: int = 5, ranker: Ranker | None = None) -> None:
    """Terminal conversation: each user line extends the dialogue and prints recommendations.
    ``/reset`` starts over, ``/quit`` (or end of input) leaves."""
    retriever.index(catalog)
    turns: list[tuple[str, str]] = []
    print(f"Describe the {catalog.noun} you want. /reset starts over, /quit leaves.", file=stdout)
    for line in stdin:
        text = line.strip()
        if not text:
            continue
        if text == "/quit":
            break
        if text == "/reset":
            turns = []
            print("(conversation reset)", file=stdout)
            continue
        turns.append(("user", text))
        result = recommend(retriever, catalog, render_dialogue(turns), ranker=ranker)
        for rank, item_id in enumerate(result.item_ids[:shown], start=1):
            print(f"  {rank}. {catalog.texts[catalog.index[item_id]][:160]}", file=stdout)
        if result.explanation:
            print(f"  ({result.explanation})", file=stdout)
        turns.append(("assistant", "I suggested: " + "; ".join(catalog.item(i).title for i in result.item_ids[:shown])))
    print("bye", file=stdout)


def write_dialogues(dialogues: Sequence[dict], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dialogues), encoding="utf-8")
