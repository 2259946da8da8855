"""The conversational setting (Chat-Rec), one module per job: dialogue test sets
(:mod:`~itemlib.chat.dialogues`), their evaluation (:mod:`~itemlib.chat.evaluation`), the
retrieve-then-rank recommender step (:mod:`~itemlib.chat.ranking`) and the terminal chat
(:mod:`~itemlib.chat.repl`)."""

from itemlib.chat.dialogues import generate_dialogues, render_dialogue
from itemlib.chat.evaluation import evaluate_dialogues
from itemlib.chat.ranking import LLMRanker, Ranker, Recommendation, recommend
from itemlib.chat.repl import chat_loop

__all__ = [
    "LLMRanker",
    "Ranker",
    "Recommendation",
    "chat_loop",
    "evaluate_dialogues",
    "generate_dialogues",
    "recommend",
    "render_dialogue",
]
