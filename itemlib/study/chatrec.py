"""The Chat-Rec chapter's runs, comparisons and sentences, computed in the package.

:func:`run_chat_rec` scores every arm of each catalog on held-out dialogues, keeps two example
dialogues per catalog, and, when a local language model re-ranks, compares the pipelines with
paired intervals. Which comparisons are made is declared once (:func:`llm_comparisons`: the first is
the paper's claim (d), the tuned retriever helps the recommender), and the sentences the chapter and
the README quote are written here (:meth:`ChatRec.retrieval_lines`, :meth:`ChatRec.llm_lines`) and
unit-tested, as the results page's claims are in :mod:`itemlib.study.claims`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from itemlib.chat import LocalRanker, evaluate_dialogues, evaluate_local_llm, generate_dialogues, llm_label, recommend
from itemlib.chat.evaluation import LLM_PREFIX
from itemlib.comparison import interval_text
from itemlib.retrieval import make_retriever
from itemlib.study.arms import Arm, arms_of, in_domain
from itemlib.study.profiles import study_catalog

#: The cut-off the chapter's sentences and its interval comparisons use.
CHAT_K = 5


def llm_comparisons(tuned: str) -> list[tuple[str, str]]:
    """The pipelines compared on the same dialogues, ``first − second``; the first pair is claim (d):
    the language model re-ranking the tuned retriever's candidates against it re-ranking the untuned one's."""
    return [(llm_label(tuned), llm_label("untuned")), (llm_label(tuned), tuned), (llm_label("untuned"), "untuned"),
            (llm_label(tuned), "popularity"), (tuned, "untuned")]  # fmt: skip


@dataclass
class ChatRec:
    """What the Chat-Rec chapter shows, per catalog."""

    arms: dict[str, list[Arm]]
    by_turns: pd.DataFrame  # rows (turns, k, hit, dialogues, catalog, model)
    examples: list[dict[str, Any]]
    llm_by_turns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["catalog", "model", "turns", "k",
                                                                                      "hit"]))  # fmt: skip
    intervals: pd.DataFrame = field(default_factory=pd.DataFrame)
    choices: list[pd.DataFrame] = field(default_factory=list)
    cost: list[dict[str, Any]] = field(default_factory=list)
    #: per catalog and re-ranked retriever: the rule chosen and the share of test dialogues whose top
    #: five the language model changed (how much it re-ranks at all)
    reranked: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def _overall(table: pd.DataFrame) -> pd.DataFrame:
        overall = table[table.turns == "all"].pivot_table(index=["catalog", "model"], columns="k", values="hit",
                                                          sort=False)  # fmt: skip
        overall.columns = [f"Hit@{k}" for k in overall.columns]
        # per catalog, the retrievers first and the re-ranked ones after them, each in the order they were run
        catalogs = list(dict.fromkeys(overall.index.get_level_values("catalog")))
        place = [(catalogs.index(catalog), model.startswith(LLM_PREFIX), at)
                 for at, (catalog, model) in enumerate(overall.index)]  # fmt: skip
        return overall.iloc[[at for *_, at in sorted(place)]]

    @property
    def overall(self) -> pd.DataFrame:
        """Hit@K over all dialogues: (catalog, model) rows."""
        return self._overall(self.by_turns)

    @property
    def llm_overall(self) -> pd.DataFrame:
        return self._overall(self.llm_by_turns)

    def retrieval_lines(self) -> list[str]:
        """One sentence per catalog: the tuned retriever's Hit@5 against every other arm's."""
        lines, overall, table = [], self.overall, self.by_turns
        for name in dict.fromkeys(table.catalog):
            hit = overall.loc[name, f"Hit@{CHAT_K}"]
            tuned = in_domain(self.arms[name], name)
            others = ", ".join(f"{label} {hit[label]:.3f}" for label in hit.index if not tuned or label != tuned.label)
            size = int(table[(table.catalog == name) & (table.turns == "all")].dialogues.iloc[0])
            head = f"- **{name}** ({size} dialogues): Hit@{CHAT_K}"
            lines.append(f"{head} of the tuned model {hit[tuned.label]:.3f} against {others}." if tuned
                         else f"{head} {others}.")  # fmt: skip
        return lines

    def llm_lines(self) -> list[str]:
        """One sentence per catalog: claim (d) with its interval and verdict, then every other comparison
        with its interval, then how much the language model re-ranked at all."""
        lines = []
        for name, group in self.intervals.groupby("catalog", sort=False) if len(self.intervals) else []:
            claim, rest = group.iloc[0], group.iloc[1:].itertuples()
            others = "; ".join(f"{row.comparison} {interval_text(row.difference, row.low, row.high)} ({row.verdict})"
                               for row in rest)  # fmt: skip
            moved = [row for row in self.reranked if row["catalog"] == name]
            share = ", ".join(f"{row['retriever']} {row['top 5 changed']:.0%}" for row in moved)
            lines.append(f"- **{name}**: {claim.comparison} on Hit@{CHAT_K} is "
                         f"{interval_text(claim.difference, claim.low, claim.high)}, **{claim.verdict}**; {others}. "
                         + (f"Share of test dialogues whose top {CHAT_K} the language model changed, by the "
                            f"retriever it re-ranked: {share} (chosen retriever weight "
                            f"{moved[0]['retriever weight']:g})." if moved else ""))  # fmt: skip
        return lines

    def metrics(self) -> dict[str, Any]:
        """What the chat run records in its metrics.json."""
        return {
            "overall": self.overall.reset_index().to_dict(orient="records"),
            "by_turns": self.by_turns.to_dict(orient="records"),
            "examples": self.examples,
            "llm": {
                "overall": self.llm_overall.reset_index().to_dict(orient="records"),
                "by_turns": self.llm_by_turns.to_dict(orient="records"),
                "intervals": self.intervals.to_dict(orient="records"),
                "choices": pd.concat(self.choices).to_dict(orient="records") if self.choices else [],
                "cost": self.cost,
                "reranked": self.reranked,
            },
        }


def run_chat_rec(catalogs: Sequence[str], arms: Mapping[str, Sequence[Mapping[str, Any]]], dialogues_per_catalog: int,
                 max_items: int | None = None, seed: int = 0, local_llm: str | None = None, llm_dialogues: int = 0,
                 llm_validation_dialogues: int = 0, examples_per_catalog: int = 2) -> ChatRec:  # fmt: skip
    """Every arm of each catalog on ``dialogues_per_catalog`` held-out dialogues; with ``llm_dialogues``,
    the first that many also re-ranked by ``local_llm`` (its rule chosen on ``llm_validation_dialogues``
    of another seed), each pipeline compared by :func:`llm_comparisons`."""
    compared = {name: arms_of(arms[name]) for name in catalogs}
    tables, examples, test_sets = [], [], {}
    for name in catalogs:
        items = study_catalog(name, max_items, seed)
        dialogues = generate_dialogues(items, dialogues_per_catalog, seed)
        test_sets[name] = (items, dialogues)
        for arm in compared[name]:
            retriever = make_retriever(arm.model)
            tables.append(evaluate_dialogues(retriever, items, dialogues).assign(catalog=name, model=arm.label))
            for dialogue in dialogues[:examples_per_catalog]:
                top = recommend(retriever, items, dialogue["query"], exclude=dialogue["mask_ids"]).item_ids[:3]
                examples.append({"catalog": name, "model": arm.label, "dialogue": dialogue["query"],
                                 "target": items.item(dialogue["pos_ids"][0]).title,
                                 "retrieved": [items.item(i).title for i in top]})  # fmt: skip
    study = ChatRec(compared, pd.concat(tables), examples)
    if not llm_dialogues:
        return study
    ranker, results, intervals = LocalRanker(local_llm), [], []
    for name in catalogs:
        items, dialogues = test_sets[name]
        retrievers = {arm.label: make_retriever(arm.model) for arm in compared[name]}
        tuned = in_domain(compared[name], name).label
        result = evaluate_local_llm(
            ranker, items, dialogues[:llm_dialogues], generate_dialogues(items, llm_validation_dialogues, seed + 1),
            retrievers, with_llm=["untuned", tuned], choose_with=tuned,
        )  # fmt: skip
        results.append(result.table.assign(catalog=name))
        intervals.append(result.intervals(llm_comparisons(tuned), seed=seed).assign(catalog=name))
        chosen = (result.validation.per_token == result.ranking.per_token) & (
            result.validation.retriever_weight == result.ranking.retriever_weight
        )
        study.choices.append(result.validation.assign(catalog=name, chosen=chosen))
        study.cost.append({"catalog": name, "dialogues": len(dialogues[:llm_dialogues]),
                           "validation dialogues": llm_validation_dialogues,
                           # None (a dash) once the model is loaded: the next catalog reuses it
                           "load seconds": round(result.load_seconds, 1) or None,
                           "seconds per dialogue": result.seconds_per_dialogue})  # fmt: skip
        study.reranked += [{"catalog": name, "retriever": label, "retriever weight": result.ranking.retriever_weight,
                            "top 5 changed": share} for label, share in result.changed.items()]  # fmt: skip
    study.llm_by_turns, study.intervals = pd.concat(results), pd.concat(intervals)
    return study
