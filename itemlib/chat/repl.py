"""``itemlib chat``: a terminal conversation with a retriever (and optionally a chat-model ranker)."""

from __future__ import annotations

from typing import TextIO

from itemlib.catalog import Catalog
from itemlib.chat.dialogues import render_dialogue
from itemlib.chat.ranking import Ranker, recommend
from itemlib.escape import terminal_text
from itemlib.retrieval import Retriever


def chat_loop(
    retriever: Retriever,
    catalog: Catalog,
    stdin: TextIO,
    stdout: TextIO,
    *,
    shown: int = 5,
    ranker: Ranker | None = None,
) -> None:
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
            print(f"  {rank}. {terminal_text(catalog.texts[catalog.index[item_id]][:160])}", file=stdout)
        if result.explanation:
            print(f"  ({terminal_text(result.explanation)})", file=stdout)
        turns.append(("assistant", "I suggested: " + "; ".join(catalog.item(i).title for i in result.item_ids[:shown])))
    print("bye", file=stdout)
