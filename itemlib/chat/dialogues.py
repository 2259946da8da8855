"""Dialogue test sets for the conversational setting (Chat-Rec).

Dialogues are generated from a catalog's held-out targets (each user's last item, the history
masked): 2 to 5 user turns that mention liked items, reveal the target's attributes a little at a
time, reject a wrong suggestion, or change their mind. Their phrasings come from
``templates/dialogue.json``, which no training task uses, so the composite task is never seen in
training. The whole conversation is the query.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from itemlib.catalog import Catalog
from itemlib.relevance import relevant_mask
from itemlib.sampling import article, lexicalise_request, request_clauses, sample_exclusion
from itemlib.templates import phrase_bank_file


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
        turns: list[tuple[str, str]] = [
            ("user", rng.choice(bank["opening"]).format(liked=" and ".join(liked), **words))
        ]
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
                turns.append(
                    ("user", rng.choice(bank["reveal"]).format(request=f"{article(wish)} {wish} {catalog.noun}"))
                )
                turns.append(
                    ("user", rng.choice(bank["change"]).format(wrong=wish, request=lexicalise_request(catalog, [fact])))
                )
                revealed.append(fact)
                remaining -= 2
        role, text = turns[-1]
        turns[-1] = (role, f"{text} {rng.choice(bank['closing'])}")
        user_turns = sum(role == "user" for role, _ in turns)
        dialogues.append(
            {
                "query": render_dialogue(turns),
                "turns": turns,
                "user_turns": user_turns,
                "user": user,
                "pos_ids": [target.id],
                "mask_ids": list(history[:-1]),
                "revealed": [c.constraint for c in revealed],
            }
        )
    return dialogues
