"""Writers of the two free-text query kinds: user taste summaries (US2I) and search requests (AS2I).

The offline :class:`OfflineWriter` is deterministic and reads naturally; :class:`ChatWriter` asks
an OpenAI-compatible chat endpoint to rephrase the offline draft (so the facts, and therefore the
relevance spec, stay the same), through :class:`itemlib.llm.ChatClient`. LLM output is not
reproducible byte for byte.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from typing import Protocol

from itemlib.catalog import Catalog, Field, FieldKind, Item
from itemlib.llm import ChatClient
from itemlib.sampling import Clause, is_maker, lexicalise_request, nice_above
from itemlib.templates import phrase_bank


class Writer(Protocol):
    def summary(self, catalog: Catalog, history: list[Item], rng: random.Random) -> str: ...

    def request(self, catalog: Catalog, clauses: list[Clause], rng: random.Random) -> str: ...


#: A list field with fewer distinct values (platforms: windows, mac, linux) says nothing of a taste.
TASTE_MIN_VALUES = 5


def taste_fields(catalog: Catalog) -> list[Field]:
    """The list fields a taste summary may speak of: askable, with a real vocabulary (genres, tags)."""
    fields = catalog.query_fields(FieldKind.LIST)
    return [spec for spec in fields if len(catalog.vocabulary(spec.name)) >= TASTE_MIN_VALUES]


def _join(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


class OfflineWriter:
    """Deterministic writer: summaries from the history's dominant values, requests by
    :func:`itemlib.sampling.lexicalise_request`."""

    def summary(self, catalog: Catalog, history: list[Item], rng: random.Random) -> str:
        phrases = phrase_bank()
        words = {"noun": catalog.noun, "nouns": f"{catalog.noun}s", "verb": catalog.verb}
        sentences: list[str] = []
        for spec in taste_fields(catalog)[:1]:
            counts = Counter(v for item in history for v in item.fields.get(spec.name, []))  # type: ignore[union-attr]
            top = [v for v, _ in sorted(counts.items(), key=lambda p: (-p[1], p[0]))[: rng.randint(1, 3)]]
            if top:
                sentences.append(rng.choice(phrases["summary_taste"]).format(values=_join(top), **words))
        extra: list[str] = []
        for spec in catalog.query_fields(FieldKind.DATE)[:1]:
            years = [item.fields[spec.name].year for item in history if spec.name in item.fields]  # type: ignore[union-attr]
            if years:
                year = int(statistics.median(years))
                extra.append(rng.choice(phrases["summary_era"]).format(year=year, decade=year // 10 * 10, **words))
        for spec in catalog.query_fields(FieldKind.NUMERIC):
            values = [float(item.fields[spec.name]) for item in history if spec.name in item.fields]  # type: ignore[arg-type]
            if len(values) < 2:
                continue
            middle = statistics.median(values)
            if spec.unit == "$" and not spec.is_price:
                continue  # a film's budget says nothing of what the user pays or likes
            if spec.is_price:
                key = "summary_free" if middle == 0 else "summary_cheap"
                amount = spec.format_value(nice_above(middle, rng)) if middle else ""
                extra.append(rng.choice(phrases[key]).format(amount=amount, **words))
            elif spec.unit:
                extra.append(
                    rng.choice(phrases["summary_number"]).format(
                        label=spec.display, amount=spec.format_value(round(middle)), **words
                    )
                )
        for spec in catalog.query_fields(FieldKind.CATEGORICAL):
            counts = Counter(str(item.fields[spec.name]) for item in history if spec.name in item.fields)
            favourite = sorted((v for v, n in counts.items() if n >= 2), key=lambda v: (-counts[v], v))
            if favourite and is_maker(spec):
                extra.append(
                    rng.choice(phrases["summary_maker"]).format(value=favourite[0], label=spec.display, **words)
                )
        sentences += rng.sample(extra, min(len(extra), rng.randint(1, 2)))
        if not sentences:
            sentences.append(f"I like {catalog.noun}s such as {history[-1].title}.")
        return " ".join(sentences)

    def request(self, catalog: Catalog, clauses: list[Clause], rng: random.Random) -> str:
        return lexicalise_request(catalog, clauses)


class ChatWriter:
    """Rephrases the offline draft through an OpenAI-compatible chat endpoint
    (:class:`itemlib.llm.ChatClient`; arguments or ``ITEMLIB_LLM_*`` variables)."""

    def __init__(
        self, url: str | None = None, model: str | None = None, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        self.client = ChatClient(url, model, api_key, timeout)
        self.offline = OfflineWriter()

    def summary(self, catalog: Catalog, history: list[Item], rng: random.Random) -> str:
        draft = self.offline.summary(catalog, history, rng)
        titles = "; ".join(item.title for item in history[-10:])
        return self.client.complete(
            f"A user recently liked these {catalog.noun}s: {titles}. Their taste in short: {draft}\n"
            f"Rewrite the taste in one or two natural first-person sentences. Do not name any {catalog.noun}."
        )

    def request(self, catalog: Catalog, clauses: list[Clause], rng: random.Random) -> str:
        draft = self.offline.request(catalog, clauses, rng)
        return self.client.complete(
            f"Rewrite this as a short, fluent search request a person would type, keeping every fact "
            f"and adding none; answer with the request only: {draft}"
        )
