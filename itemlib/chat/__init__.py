"""The conversational setting (Chat-Rec), one module per job: dialogue test sets
(:mod:`~itemlib.chat.dialogues`), their evaluation (:mod:`~itemlib.chat.evaluation`), the
retrieve-then-rank recommender step (:mod:`~itemlib.chat.ranking`, with a language model on this
machine: :mod:`~itemlib.chat.local`) and the terminal chat
(:mod:`~itemlib.chat.repl`)."""

from itemlib.chat.dialogues import generate_dialogues, render_dialogue
from itemlib.chat.evaluation import (
    LOCAL_RANKINGS,
    LocalLLMEvaluation,
    ScoredCandidates,
    choose_local_ranking,
    dialogue_hits,
    evaluate_dialogues,
    evaluate_local_llm,
    hit_table,
    llm_label,
    score_candidates,
)
from itemlib.chat.local import DEFAULT_LOCAL_LM, LocalRanker, LocalRanking, load_causal_lm
from itemlib.chat.ranking import LLMRanker, Ranker, Recommendation, recommend
from itemlib.chat.repl import chat_loop

__all__ = [
    "DEFAULT_LOCAL_LM",
    "LLMRanker",
    "LOCAL_RANKINGS",
    "LocalLLMEvaluation",
    "LocalRanker",
    "LocalRanking",
    "ScoredCandidates",
    "choose_local_ranking",
    "dialogue_hits",
    "evaluate_local_llm",
    "hit_table",
    "llm_label",
    "load_causal_lm",
    "score_candidates",
    "Ranker",
    "Recommendation",
    "chat_loop",
    "evaluate_dialogues",
    "generate_dialogues",
    "recommend",
    "render_dialogue",
]
