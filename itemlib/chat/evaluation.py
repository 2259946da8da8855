"""Hit@K of a retriever on a dialogue test set, overall and by the number of user turns, and of a
local language model re-ranking each retriever's top candidates (Chat-Rec's recommender step)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from itemlib.catalog import Catalog
from itemlib.chat.local import LocalRanker, LocalRanking, load_causal_lm
from itemlib.comparison import paired_comparison
from itemlib.metrics import hit_at_k
from itemlib.retrieval import Retriever, search_records

#: The ranking rules a study chooses among on validation dialogues: the language model alone or with
#: the retriever's order kept at growing weight, by mean or summed title log-probability.
#: The ranking rules the validation dialogues choose from: the language model's score per token or
#: summed, plus the retriever's order at weights from 0 (the language model alone) to 32 (hardly
#: moved: at 32 a candidate must beat the next one by 16 of the model's standard deviations to pass it).
RETRIEVER_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
LOCAL_RANKINGS = tuple(LocalRanking(per_token, weight) for per_token in (True, False) for weight in RETRIEVER_WEIGHTS)


def dialogue_hits(ranked_ids: Sequence[Sequence[str]], dialogues: Sequence[dict], depth: int) -> np.ndarray:
    """(dialogues, depth) bool: whether each of the first ``depth`` recommended ids is the target."""
    hits = np.zeros((len(dialogues), depth), dtype=bool)
    for row, (ids, dialogue) in enumerate(zip(ranked_ids, dialogues)):
        targets = set(dialogue["pos_ids"])
        for column, item_id in enumerate(list(ids)[:depth]):
            hits[row, column] = item_id in targets
    return hits


def retrieved_ids(retriever: Retriever, catalog: Catalog, dialogues: Sequence[dict], depth: int) -> list[list[str]]:
    """The ids of ``retriever``'s top ``depth`` for each dialogue (its masked items excluded)."""
    retriever.index(catalog)
    return [[catalog.items[p].id for p in row] for row in search_records(retriever, catalog, dialogues, depth)]


def hit_table(relevant: np.ndarray, dialogues: Sequence[dict], ks: Sequence[int] = (5, 10, 20)) -> pd.DataFrame:
    """Rows (turns, k, hit, dialogues): Hit@K over all dialogues and by number of user turns."""
    turns = np.array([d["user_turns"] for d in dialogues])
    rows = []
    for group in ["all", *sorted(set(turns.tolist()))]:
        selected = np.ones(len(turns), bool) if group == "all" else turns == group
        for k in ks:
            rows.append(
                {
                    "turns": str(group),
                    "k": k,
                    "hit": float(hit_at_k(relevant[selected], k).mean()),
                    "dialogues": int(selected.sum()),
                }
            )
    return pd.DataFrame(rows)


def evaluate_dialogues(
    retriever: Retriever, catalog: Catalog, dialogues: Sequence[dict], ks: Sequence[int] = (5, 10, 20)
) -> pd.DataFrame:
    """Hit@K overall and by number of user turns: rows (turns, k, hit, dialogues)."""
    relevant = dialogue_hits(retrieved_ids(retriever, catalog, dialogues, max(ks)), dialogues, max(ks))
    return hit_table(relevant, dialogues, ks)


@dataclass
class ScoredCandidates:
    """Each dialogue's candidates in the retriever's order, with the language model's title scores
    (sum of log-probabilities and token counts), so that any :class:`LocalRanking` re-ranks them
    without running the model again."""

    candidates: list[list[str]]
    sums: list[np.ndarray]
    counts: list[np.ndarray]

    def ranked(self, ranking: LocalRanking) -> list[list[str]]:
        return [
            [ids[n] for n in ranking.order(sums, counts)]
            for ids, sums, counts in zip(self.candidates, self.sums, self.counts)
        ]


def score_candidates(
    ranker: LocalRanker,
    catalog: Catalog,
    dialogues: Sequence[dict],
    retrievers: Mapping[str, Retriever],
    candidates: int = 20,
    progress: bool = False,
) -> dict[str, ScoredCandidates]:
    """Each retriever's top ``candidates`` per dialogue, scored by the language model. The dialogue
    is read once per dialogue: the union of all retrievers' candidates is scored in one batch."""
    lists = {label: retrieved_ids(retriever, catalog, dialogues, candidates) for label, retriever in retrievers.items()}
    scored = {label: ScoredCandidates([], [], []) for label in retrievers}
    for number, dialogue in enumerate(tqdm(dialogues, desc="language model", disable=not progress)):
        union = list(dict.fromkeys(i for label in retrievers for i in lists[label][number]))
        sums, counts = ranker.loglikelihoods(catalog, dialogue["query"], union)
        where = {item_id: position for position, item_id in enumerate(union)}
        for label in retrievers:
            ids = lists[label][number]
            scored[label].candidates.append(ids)
            scored[label].sums.append(sums[[where[i] for i in ids]])
            scored[label].counts.append(counts[[where[i] for i in ids]])
    return scored


def choose_local_ranking(
    scored: ScoredCandidates, dialogues: Sequence[dict], rankings: Sequence[LocalRanking] = LOCAL_RANKINGS, k: int = 5
) -> tuple[LocalRanking, pd.DataFrame]:
    """The ranking rule with the highest Hit@k on (validation) dialogues, and the table of every rule's
    Hit@k (what lost is reported too). Ties go to the rule with the largest retriever weight (then the
    first listed): where the validation dialogues give no evidence that the language model's order
    helps, the pipeline stays closest to the retriever's."""
    rows = []
    for ranking in rankings:
        hit = float(hit_at_k(dialogue_hits(scored.ranked(ranking), dialogues, k), k).mean())
        rows.append({"per_token": ranking.per_token, "retriever_weight": ranking.retriever_weight, f"Hit@{k}": hit})
    table = pd.DataFrame(rows)
    tied = np.flatnonzero(table[f"Hit@{k}"].to_numpy() == table[f"Hit@{k}"].max())
    best = max(tied, key=lambda row: (rankings[row].retriever_weight, -row))
    return rankings[best], table


@dataclass
class LocalLLMEvaluation:
    """Chat-Rec with a local language model on one catalog's dialogues (see :func:`evaluate_local_llm`)."""

    ranking: LocalRanking  # the rule chosen on validation dialogues
    validation: pd.DataFrame  # every rule's Hit@5 on them
    table: pd.DataFrame  # rows (model, turns, k, hit, dialogues): each retriever alone and with the LLM
    hits: dict[str, np.ndarray]  # model -> (dialogues, 20) bool, for paired intervals
    load_seconds: float
    seconds_per_dialogue: float
    #: per retriever re-ranked, the share of dialogues whose top ``k`` (as a set) the language model changed
    changed: dict[str, float] = field(default_factory=dict)

    def intervals(self, pairs: Sequence[tuple[str, str]], k: int = 5, seed: int = 0) -> pd.DataFrame:
        """Paired 95% bootstrap intervals of Hit@k differences ``first - second`` over the same dialogues."""
        rows = []
        for first, second in pairs:
            a, b = (hit_at_k(self.hits[label], k).astype(float) for label in (first, second))
            rows.append({"comparison": f"{first} − {second}", **paired_comparison(a, b, seed=seed)})
        return pd.DataFrame(rows)


#: How a table names a retriever whose candidates the language model re-ranked: the prefix, then its label.
LLM_PREFIX = "LLM + "


def llm_label(retriever_label: str) -> str:
    return f"{LLM_PREFIX}{retriever_label}"


def evaluate_local_llm(
    ranker: LocalRanker,
    catalog: Catalog,
    dialogues: Sequence[dict],
    validation: Sequence[dict],
    retrievers: Mapping[str, Retriever],
    with_llm: Sequence[str],
    choose_with: str,
    ks: Sequence[int] = (5, 10, 20),
    candidates: int = 20,
    progress: bool = False,
) -> LocalLLMEvaluation:
    """Every retriever alone, and those in ``with_llm`` re-ranked by the language model, on the same
    ``dialogues``; the ranking rule is chosen first on ``validation`` dialogues with the candidates of
    ``choose_with``. Load time and language-model seconds per test dialogue are measured."""
    started = time.perf_counter()
    load_causal_lm(ranker.model)
    load_seconds = time.perf_counter() - started
    chosen = score_candidates(ranker, catalog, validation, {choose_with: retrievers[choose_with]}, candidates)
    ranking, validation_table = choose_local_ranking(chosen[choose_with], validation)
    started = time.perf_counter()
    scored = score_candidates(ranker, catalog, dialogues, {label: retrievers[label] for label in with_llm},
                              candidates, progress)  # fmt: skip
    seconds = (time.perf_counter() - started) / max(len(dialogues), 1)
    hits, tables = {}, []
    for label, retriever in retrievers.items():  # the re-ranked retrievers' own order was searched once, above
        ids = scored[label].candidates if label in scored else retrieved_ids(retriever, catalog, dialogues, candidates)
        hits[label] = dialogue_hits(ids, dialogues, candidates)
    changed = {}
    for label in with_llm:
        ranked = scored[label].ranked(ranking)
        hits[llm_label(label)] = dialogue_hits(ranked, dialogues, candidates)
        changed[label] = float(np.mean([set(a[: min(ks)]) != set(b[: min(ks)])
                                        for a, b in zip(ranked, scored[label].candidates)]))  # fmt: skip
    for label, relevant in hits.items():
        tables.append(hit_table(relevant, dialogues, ks).assign(model=label))
    return LocalLLMEvaluation(
        ranking, validation_table, pd.concat(tables, ignore_index=True), hits, load_seconds, seconds, changed
    )
