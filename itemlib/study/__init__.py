"""The reproducible study, above training and evaluation.

``itemlib study --profile smoke|cpu|gpu`` executes the notebook templates of ``notebooks/`` with
papermill into ``book/runs/<profile>/<run>/`` (the executed notebook and its ``metrics.json``),
skipping runs already complete, then writes ``_toc.yml`` for that profile and builds the book.

One module per job: :mod:`~itemlib.study.profiles` (the configs of each profile),
:mod:`~itemlib.study.plan` (the runs and their parameters), :mod:`~itemlib.study.runner` (executing
them safely), :mod:`~itemlib.study.book` (toc and HTML), :mod:`~itemlib.study.records` (the
``metrics.json`` shapes), :mod:`~itemlib.study.claims` (the results page's tables and verdicts),
:mod:`~itemlib.study.ablation` and :mod:`~itemlib.study.notebook` (what every notebook does).
"""

from itemlib.study.book import build_book, write_toc
from itemlib.study.plan import Run, plan
from itemlib.study.profiles import PROFILES, Ablation, Profile, get_profile, study_catalog
from itemlib.study.runner import StudyError, run_study

__all__ = [
    "PROFILES",
    "Ablation",
    "Profile",
    "Run",
    "StudyError",
    "build_book",
    "get_profile",
    "plan",
    "run_study",
    "study_catalog",
    "write_toc",
]
