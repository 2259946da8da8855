"""The results page's tables, paired intervals and claim verdicts, computed from the runs' records.

Every number the page shows comes from here, so each rule is written once and unit-tested on small
hand-made records: which model plays which role on a test set, the gain over the untuned model, the
paired bootstrap interval of a difference and its verdict (better / within noise / worse), and the
sentences that judge the paper's claims.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from itemlib.cards import TrainingCard
from itemlib.collaborative import COLLABORATIVE
from itemlib.comparison import VERDICTS, corrected_verdict, holm, interval_text, judged_text, paired_comparison
from itemlib.diagnostics import COMPARISON_NAMES
from itemlib.study.arms import TUNED_ROLES, arms_of, in_domain
from itemlib.study.records import (
    AblationRecord,
    DiagnosisRecord,
    EvaluationRecord,
    TrainingRecord,
    read_record,
)
from itemlib.study.tables import metric_columns, styled, wrappable
from itemlib.taskinfo import tasks_in

INTERVAL = "tuned − reference [95% CI]"


def tasks_by_verdict(table: pd.DataFrame) -> dict[str, list[str]]:
    """The tasks of a judged table under each verdict (better, within noise, worse)."""
    return {v: table[table.verdict == v].task.tolist() for v in VERDICTS}


def headline_rows(evaluations: dict[str, EvaluationRecord]) -> list[dict]:
    """One row per test set, model and task: its role and headline value."""
    rows = []
    for test, record in evaluations.items():
        arms = record.arms_by_label  # built once per record, not per row
        for label, table in record.headline.items():
            role = arms[label].role(test)
            rows += [{"test set": test, "model": label, "role": role, "task": row["task"], "metric": row["metric"],
                      "value": row["value"]} for row in table]  # fmt: skip
    return rows


def wide_table(headline: pd.DataFrame, catalogs: Sequence[str]) -> pd.DataFrame:
    """Tasks (with their metric) as rows; (test set, role) as columns."""
    wide = headline.pivot_table(index=["task"], columns=["test set", "role"], values="value", sort=False)
    references = [role for role in dict.fromkeys(headline.role) if role not in TUNED_ROLES]  # the records' order
    wide = wide.reindex(
        columns=[(t, r) for t in catalogs for r in (*references, *TUNED_ROLES) if (t, r) in wide.columns]
    )
    wide.index = [f"{t} ({headline[headline.task == t].metric.iloc[0]})" for t in wide.index]
    return wide


def paired_intervals(
    evaluations: dict[str, EvaluationRecord], seed: int = 0, references: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per test set, tuned model, task and reference: the mean per-query difference of the headline
    metric (tuned − reference), its 95% paired bootstrap interval and verdict. The references are
    each record's reference arms (``references`` keeps only these labels)."""
    rows = []
    for test, record in evaluations.items():
        per_query = record.per_query
        arms = record.arms_by_label.values()
        labels = [a.label for a in arms if a.kind == "reference" and (references is None or a.label in references)]
        for arm in [arm for arm in arms if arm.kind == "tuned"]:
            for reference in [r for r in labels if r in per_query]:
                for task, baseline in per_query[reference].items():
                    comparison = paired_comparison(per_query[arm.label][task], baseline, seed=seed)
                    rows.append({"test set": test, "role": arm.role(test), "task": task, "reference": reference,
                                 **comparison})  # fmt: skip
    table = pd.DataFrame(
        rows, columns=["test set", "role", "task", "reference", "difference", "low", "high", "verdict", "p"]
    )
    # Holm over each family a table row of the page reads at once: one tuned model against one
    # reference on every task of one test set
    family = ["test set", "role", "reference"]
    table["p (Holm)"] = table.groupby(family, sort=False).p.transform(lambda p: holm(p.to_numpy()))
    table["verdict (Holm)"] = [corrected_verdict(d, p) for d, p in zip(table.difference, table["p (Holm)"])]
    table[INTERVAL] = [judged_text(row) for row in table.to_dict("records")]
    return table


def verdict_counts(intervals: pd.DataFrame, role_name: str = "in-domain") -> pd.DataFrame:
    """Per test set and reference: on how many tasks the tuned model is better beyond noise, within
    noise or worse (each 95% interval read alone), how many stay better or worse after Holm's
    correction over the reference's tasks, and the tasks where the reference wins."""
    rows = []
    part = intervals[intervals.role == role_name]
    for (test, reference), group in part.groupby(["test set", "reference"], sort=False):
        counts = {v: int((group.verdict == v).sum()) for v in VERDICTS}
        counts |= {f"{v} (Holm)": int((group["verdict (Holm)"] == v).sum()) for v in ("better", "worse")}
        wins = group[group.verdict == "worse"].task.tolist()
        rows.append({"test set": test, "reference": reference, **counts, "tasks": len(group),
                     "reference wins on": ", ".join(wins) or "none"})  # fmt: skip
    return pd.DataFrame(rows)


def headline_sentence(counts: pd.DataFrame) -> str:
    """One sentence per test set: better beyond noise on N of M tasks against each reference."""
    parts = []
    for test, group in counts.groupby("test set", sort=False):
        against = "; ".join(
            f"{row.reference} {row.better}/{row.tasks}" + (f" ({row.reference} wins on {row['reference wins on']})"
                                                           if row.worse else "")
            for _, row in group.iterrows()
        )  # fmt: skip
        parts.append(f"**{test}**: {against}")
    return ("In-domain, the tuned model is better beyond noise (95% paired interval above zero) than each "
            "reference on this many tasks: " + ". ".join(parts) + ".")  # fmt: skip


def in_domain_claim(test: str, intervals: pd.DataFrame) -> str:
    """The paper: the tuned model beats the untuned one on every task, in-domain (judged by the
    paired intervals, not by the direction of the means); every task it does not win is named with
    its interval."""
    part = intervals[(intervals["test set"] == test) & (intervals.role == "in-domain")
                     & (intervals.reference == "untuned")]  # fmt: skip
    by = tasks_by_verdict(part)
    agrees = "agrees" if len(by["better"]) == len(part) else "agrees only in part" if by["better"] else "does not agree"
    named = {v: [f"{row.task} {interval_text(row.difference, row.low, row.high)}"
                 for _, row in part[part.verdict == v].iterrows()] for v in ("within noise", "worse")}  # fmt: skip
    rest = "".join(f" {v.capitalize()}: {'; '.join(named[v])}." for v in named if named[v])
    return (f"**Fine-tuning helps in-domain ({test}).** The paper: the tuned model beats the untuned one on every "
            f"task. Here it is better beyond noise on {len(by['better'])} of {len(part)} tasks: this study {agrees}."
            f"{rest}")  # fmt: skip


def hybrid_claim(evaluations: dict[str, EvaluationRecord], intervals: pd.DataFrame, seed: int = 0) -> str | None:
    """Beyond the paper: where the tuned model plus a popularity prior beats both popularity (its
    row of ``intervals``) and the tuned model alone (paired intervals), and what the prior costs on
    the attribute tasks."""
    parts = []
    for test, record in evaluations.items():
        per_query, arms = record.per_query, record.arms_by_label.values()
        hybrid_arm, tuned_arm = in_domain(arms, test, prior=True), in_domain(arms, test)
        over_popularity = intervals[(intervals["test set"] == test) & (intervals.role == "tuned+popularity")
                                    & (intervals.reference == "popularity")].set_index("task")  # fmt: skip
        if hybrid_arm is None or tuned_arm is None or over_popularity.empty:
            continue
        hybrid, tuned = hybrid_arm.label, tuned_arm.label
        beats, changes, losses = [], [], []
        for task, values in per_query[hybrid].items():
            over_tuned = paired_comparison(values, per_query[tuned][task], seed=seed)
            if over_tuned["verdict"] == "better" and over_popularity.verdict[task] == "better":
                beats.append(task)
            if task in tasks_in("attribute"):
                changes.append(over_tuned["difference"])
                if over_tuned["verdict"] == "worse":
                    losses.append(
                        f"{task} {interval_text(over_tuned['difference'], over_tuned['low'], over_tuned['high'])}"
                    )
        attribute = [t for t in tasks_in("attribute") if t in per_query[hybrid]]
        parts.append(f"on {test} it is better beyond noise than both on {len(beats)} of {len(per_query[hybrid])} "
                     f"tasks ({', '.join(beats) or 'none'}); against the tuned model alone its mean difference on the "
                     f"{len(attribute)} tasks that are not about behaviour ({', '.join(attribute)}) is "
                     f"{sum(changes) / max(len(changes), 1):+.3f}, worse beyond noise on "
                     f"{'; '.join(losses) or 'none'}")  # fmt: skip
    if not parts:
        return None
    return ("**Beyond the paper: a popularity prior.** The tuned model plus weight · log(1 + interactions), the weight "
            "chosen on a validation split: " + "; ".join(parts) + ".")  # fmt: skip


def general_model_claim(evaluations: dict[str, EvaluationRecord], intervals: pd.DataFrame) -> str | None:
    """Is a larger general-purpose model already enough? The in-domain tuned model against each
    untuned general encoder of the records (arms marked ``general``), task by task."""
    general = {a.label for record in evaluations.values() for a in record.arms_by_label.values() if a.general}
    part = intervals[(intervals.role == "in-domain") & intervals.reference.isin(general)]
    if part.empty:
        return None
    parts = []
    for (test, reference), group in part.groupby(["test set", "reference"], sort=False):
        by = tasks_by_verdict(group)
        parts.append(f"on {test}, better than {reference} beyond noise on {len(by['better'])} "
                     f"of {len(group)} tasks, within noise on {len(by['within noise'])}, worse on {len(by['worse'])}"
                     + (f" ({', '.join(by['worse'])})" if by["worse"] else ""))  # fmt: skip
    return ("**Beyond the paper: is a larger general model already enough?** The aligned model against an untuned "
            "general-purpose encoder five times its size: " + "; ".join(parts) + ".")  # fmt: skip


#: The metric the ReDial claim is judged on: Hit@50, the cut-off the field reports first for recall-style
#: conversational retrieval (the chat page gives Hit and Recall at 10 as well).
REDIAL_METRIC = "hit@50"


def redial_claim(redial: Mapping[str, Any], catalog: str = "movielens", seed: int = 0) -> str | None:
    """Does the alignment help on requests people wrote? On the ReDial cases of a chat run's record:
    each tuned model against the untuned encoder and against the best other reference (by mean),
    by paired intervals on :data:`REDIAL_METRIC`."""
    arms = arms_of(redial.get("arms", []))
    per_case = {label: values[REDIAL_METRIC] for label, values in redial.get("per_case", {}).items()}
    tuned = [arm for arm in arms if arm.role(catalog) in TUNED_ROLES and arm.label in per_case]
    others = [arm.label for arm in arms if arm.role(catalog) not in TUNED_ROLES and arm.label in per_case]
    if not tuned or "untuned" not in per_case:
        return None
    best = max((label for label in others if label != "untuned"), key=lambda label: np.mean(per_case[label]))
    parts = []
    for arm in tuned:
        judged = []
        for reference in ("untuned", best):
            c = paired_comparison(per_case[arm.label], per_case[reference], seed=seed)
            judged.append(f"{c['verdict']} than {reference} ({interval_text(c['difference'], c['low'], c['high'])})"
                          .replace("within noise than", "within noise of"))  # fmt: skip
        parts.append(
            f"{arm.label} ({arm.role(catalog)}, {np.mean(per_case[arm.label]):.3f}) is " + " and ".join(judged)
        )
    cases = len(per_case["untuned"])
    return (f"**Requests people wrote (ReDial, {cases} recommendation turns of its {redial.get('split', '')} "
            f"dialogues over {catalog}, {REDIAL_METRIC.replace('hit', 'Hit')}).** Untuned "
            f"{np.mean(per_case['untuned']):.3f}, the best other reference {best} {np.mean(per_case[best]):.3f}; "
            + "; ".join(parts) + ".")  # fmt: skip


#: The references a recommender would deploy for behaviour queries: the bar of the behaviour claim.
BEHAVIOUR_BAR = ("popularity", *COLLABORATIVE)
#: The tuned arms the behaviour table judges (the claim: :func:`behaviour_claim` says which of them).
BEHAVIOUR_ROLES = ("in-domain", "tuned+popularity", "tuned+popularity+cf")


def behaviour_table(evaluations: dict[str, EvaluationRecord], intervals: pd.DataFrame) -> pd.DataFrame:
    """Per test set and behaviour task: the best of popularity and the collaborative-filtering
    references (by mean), and the tuned model with and without its prior against it and against the
    untuned model (difference [95% interval], verdict), with the share of the task's test answers
    among the 50 most popular items."""
    rows = []
    for test, record in evaluations.items():
        table = record.headline_table()
        for task in [t for t in tasks_in("behaviour") if t in table.index]:
            bar = [r for r in BEHAVIOUR_BAR if r in table.columns and pd.notna(table.at[task, r])]
            if not bar:
                continue
            best = max(bar, key=lambda r: table.at[task, r])
            for role in BEHAVIOUR_ROLES:
                part = intervals[(intervals["test set"] == test) & (intervals.role == role) & (intervals.task == task)]
                against = part.set_index("reference")
                if best not in against.index or "untuned" not in against.index:
                    continue
                rows.append({"test set": test, "task": task, "retriever": role,
                             "best reference": f"{best} ({table.at[task, best]:.3f})",
                             "vs best reference": against.at[best, INTERVAL], "verdict": against.at[best, "verdict"],
                             "vs untuned": against.at["untuned", INTERVAL],
                             "verdict vs untuned": against.at["untuned", "verdict"],
                             "answers among top 50": record.concentration.get(task, float("nan"))})  # fmt: skip
    return pd.DataFrame(rows)


#: How the behaviour claim names the arm it is judged on.
BEHAVIOUR_ARM_NAMES = {
    "tuned+popularity": "The tuned model with its popularity prior",
    "tuned+popularity+cf": "The tuned model with its popularity prior and collaborative filtering over the items a "
    "request names",
}


def behaviour_judged(table: pd.DataFrame, blend_joined: Mapping[str, bool] | None = None) -> tuple[pd.DataFrame, list]:
    """The rows of :func:`behaviour_table` the behaviour goal is judged on, one arm per test set (the
    blend where it met its validation criterion, else tuned+popularity), and the test sets whose blend
    did not meet it."""
    joined = dict(blend_joined or {})
    parts, declined = [], []
    for test, group in table.groupby("test set", sort=False):
        has_blend = (group.retriever == "tuned+popularity+cf").any()
        if has_blend and not joined.get(test):
            declined.append(test)
        parts.append(group[group.retriever == ("tuned+popularity+cf" if has_blend and joined.get(test)
                                               else "tuned+popularity")])  # fmt: skip
    return (pd.concat(parts) if parts else table.iloc[:0]), declined


def behaviour_claim(table: pd.DataFrame, blend_joined: Mapping[str, bool] | None = None) -> str | None:
    """The behaviour goal: the study's fullest tuned arm better than untuned beyond noise and not
    worse beyond noise than the best of popularity and collaborative filtering, per behaviour task.
    The fullest arm of a test set is the blend where it met its criterion on that catalog's
    validation split (``blend_joined``, from the train runs' records), else the tuned model with its
    prior; a blend that did not is reported in the tables and named here, not judged."""
    if table.empty:
        return None
    part, declined = behaviour_judged(table, blend_joined)
    if part.empty:
        return None
    blended = list(dict.fromkeys(part[part.retriever == "tuned+popularity+cf"]["test set"]))
    role = "tuned+popularity+cf" if blended and len(blended) == part["test set"].nunique() else "tuned+popularity"
    subject = BEHAVIOUR_ARM_NAMES[role] + (f" (on {', '.join(blended)}, also with collaborative filtering over the "
                                           "items a request names)" if blended and role != "tuned+popularity+cf"
                                           else "")  # fmt: skip
    met = part[(part["verdict vs untuned"] == "better") & (part.verdict != "worse")]
    short = [f"{row.task} on {row['test set']} ({row['best reference']}: {row['vs best reference']})"
             for _, row in part[part.verdict == "worse"].iterrows()]  # fmt: skip
    return (f"**Behaviour tasks against a recommender.** {subject} is better than "
            f"untuned beyond noise and not worse beyond noise than the best of popularity, item-kNN and ALS on "
            f"{len(met)} of {len(part)} behaviour tasks." + (f" Worse beyond noise than that reference: "
            f"{'; '.join(short)}." if short else "") + (f" The collaborative-filtering blend did not meet its "
            f"validation criterion on {', '.join(declined)} (train page): shown in the tables, not judged here."
            if declined else ""))  # fmt: skip


def out_of_domain_claim(intervals: pd.DataFrame) -> str:
    """The paper: out-of-domain gains are weaker on tasks tied to user behaviour than on the others.
    Judged per task by the transferred model's paired interval against the untuned one on each test
    set: the share of behaviour tasks better beyond noise against the share of the other tasks, with
    every task worse beyond noise named with its interval."""
    part = intervals[(intervals.role == "out-of-domain") & (intervals.reference == "untuned")]
    behaviour = part[part.task.isin(tasks_in("behaviour"))]
    others = part[~part.task.isin(tasks_in("behaviour"))]

    def share(rows: pd.DataFrame) -> float:
        return float((rows.verdict == "better").mean()) if len(rows) else 0.0

    worse = [f"{row.task} on {row['test set']} {interval_text(row.difference, row.low, row.high)}"
             for _, row in part[part.verdict == "worse"].iterrows()]  # fmt: skip
    agrees = share(behaviour) < share(others)
    tests = list(dict.fromkeys(part["test set"]))  # a profile may transfer to some test sets only (cpu: one)
    where = "both test sets" if len(tests) == 2 else f"test set{'s' * (len(tests) != 1)} {', '.join(tests) or 'none'}"
    return (f"**Out-of-domain gains are weaker on behaviour tasks.** The model tuned on the other catalog is better "
            f"than untuned beyond noise on {int((behaviour.verdict == 'better').sum())} of {len(behaviour)} behaviour "
            f"tasks and on {int((others.verdict == 'better').sum())} of {len(others)} others ({where}): this "
            f"study {'agrees' if agrees else 'does not agree'}. Worse than untuned beyond noise: "
            f"{'; '.join(worse) or 'none'}.")  # fmt: skip


def ablation_intervals(ablation: AblationRecord, seed: int = 0) -> pd.DataFrame:
    """Per arm and task: the paired difference to the ablation's baseline (the base recipe's own arm),
    its 95% interval and verdict; empty when the record has no baseline or no per-query values."""
    columns = ["variant", "task", "difference", "low", "high", "verdict"]
    per_query, baseline = ablation.per_query, ablation.baseline
    if baseline not in per_query:
        return pd.DataFrame(columns=columns)
    arms = {variant: values for variant, values in per_query.items() if variant not in (baseline, "untuned")}
    rows = [{"variant": variant, "task": task, **paired_comparison(values[task], per_query[baseline][task], seed=seed)}
            for variant, values in arms.items() for task in values]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def ablation_view(ablation: AblationRecord, seed: int = 0) -> pd.DataFrame:
    """:func:`ablation_intervals` as the pages show them: tasks as rows, one column per arm, each cell
    the difference to the baseline with its 95% interval and verdict."""
    intervals = ablation_intervals(ablation, seed)
    intervals["cell"] = [judged_text(row) for row in intervals.to_dict("records")]
    view = intervals.pivot_table(index="task", columns="variant", values="cell", aggfunc="first", sort=False)
    view.columns.name = f"arm − {ablation.baseline} [95% CI]"
    return view


def ablation_claim(ablation: AblationRecord, seed: int = 0) -> str | None:
    """Each arm of the ablation against the base recipe's arm, judged per task by its paired interval,
    naming every task beyond noise; where an arm adds raw in-batch negatives to the baseline, the
    paper's finding that they hurt is judged by that arm."""
    intervals = ablation_intervals(ablation, seed)
    if intervals.empty:
        return None

    def named(rows: pd.DataFrame) -> str:
        return "; ".join(f"{r.task} {interval_text(r.difference, r.low, r.high)}" for r in rows.itertuples()) or "none"

    settings = {row["variant"]: row for row in ablation.rows}
    base = settings[ablation.baseline]
    parts, paper = [], ""
    for variant, rows in intervals.groupby("variant", sort=False):
        by = tasks_by_verdict(rows)
        parts.append(f"*{variant}* is better beyond noise on {len(by['better'])} of {len(rows)} tasks "
                     f"({named(rows[rows.verdict == 'better'])}) and worse on {len(by['worse'])} "
                     f"({named(rows[rows.verdict == 'worse'])})")  # fmt: skip
        arm = settings[variant]
        if arm["in_batch"] == "on" and base["in_batch"] != "on" and arm["negatives"] == base["negatives"]:
            verdict = ("agrees" if len(by["worse"]) > len(by["better"]) else "does not agree"
                       if len(by["better"]) > len(by["worse"]) else "finds no difference beyond noise")  # fmt: skip
            paper = (f" The paper finds that in-batch negatives hurt (other queries' positives may answer this "
                     f"query too); against in-batch mode `{base['in_batch']}`, this ablation {verdict}.")  # fmt: skip
    return (
        f"**Ablation ({ablation.catalog}, {ablation.steps} steps per arm, each arm against "
        f"*{ablation.baseline}*, the recipe's settings).** " + "; ".join(parts) + "." + paper
    )


def below_catalog_rate(diagnosis: DiagnosisRecord) -> str:
    """The conditions on which the in-domain tuned model's top five satisfy the condition less often
    than a random item of the catalog does (from the diagnosis page), as a sentence."""
    rows = [r for r in diagnosis.conditions_by_field
            if r["role"] == "in-domain" and r["satisfied"] < r["catalog rate"]]  # fmt: skip
    if not rows:
        return ("On every kind of condition the diagnosis page measures, the in-domain tuned model's top five "
                "satisfy it at least as often as a random item of the catalog does.")  # fmt: skip
    named = COMPARISON_NAMES
    listed = "; ".join(f"{r['catalog']} {r['field']} {named.get(r['op'], r['op'])} ({r['satisfied']:.2f} of its "
                       f"top five against a catalog rate of {r['catalog rate']:.2f}, {int(r['conditions'])} conditions)"
                       for r in rows)  # fmt: skip
    return ("The diagnosis page finds conditions on which the in-domain tuned model does worse than picking items at "
            f"random, its top five satisfying them less often than the catalog as a whole: {listed}.")  # fmt: skip


def recipe_sentence(card: TrainingCard) -> str:
    """How often an in-domain run draws each task, from its training card (the steps it took, so a
    run set by epochs reads as plainly as one set by steps)."""
    recipe, stats = card.hyperparameters, card.data_stats
    repeats = stats.get("oversample", {})
    draws = card.examples_seen
    per_task = {
        task: draws * count * repeats.get(task, 1) / card.examples for task, count in stats["examples_per_task"].items()
    }
    plain = [n for task, n in per_task.items() if task not in repeats]
    extra = "".join(
        f" and about {per_task[task]:,.0f} of {task} (its examples repeated {times}-fold)"
        for task, times in repeats.items()
    )
    in_batch = {
        "off": "no in-batch negatives",
        "on": "the other examples' passages as negatives",
        "filtered": "the other examples' passages as negatives where the task's predicate rejects them",
    }[recipe["in_batch"]]
    verified = f"{recipe['negatives']} verified negatives each" if recipe["negatives"] else "no verified negatives"
    resampled = recipe.get("resample_positives") or []
    spread = (
        f" The positives of {', '.join(resampled)} are drawn from every item the query accepts, "
        "not only the item it was phrased from."
        if resampled
        else ""
    )
    share = recipe.get("validation_share") or 0
    held_out = (
        f" The last {share:.0%} of each task's examples are held out, never trained on: the validation split "
        "that chooses the tuned+popularity weight."
        if share
        else ""
    )
    return (
        f"Size of the recipe: each in-domain run takes {card.global_step:,} steps of {recipe['batch_size']} "
        f"examples ({card.epoch:.2f} epochs of its {card.examples:,} training examples) with {verified} and "
        f"{in_batch}, so it draws about {sum(plain) / len(plain):,.0f} examples of each of its {len(plain)} "
        f"{'other ' if repeats else ''}tasks{extra}.{spread}{held_out}"
    )


@dataclass
class Results:
    """Everything the results page shows, computed from the records of one profile's runs."""

    catalogs: list[str]
    headline: pd.DataFrame  # tidy: test set, model, role, task, metric, value
    wide: pd.DataFrame
    intervals: pd.DataFrame  # tuned − each reference, per test set, role and task
    counts: pd.DataFrame  # in-domain verdicts per test set and reference
    claims: list[str]
    recipe: str
    ablation: AblationRecord | None
    diagnosis: str | None = None  # the diagnosis page's finding on conditions, as a sentence
    seed: int = 0
    behaviour: pd.DataFrame = field(default_factory=pd.DataFrame)  # behaviour_table: against the best recommender

    @property
    def references(self) -> list[str]:
        """Every reference some tuned model is judged against, in the order of the records' arms."""
        return list(dict.fromkeys(self.intervals.reference))

    @property
    def headline_sentence(self) -> str:
        return headline_sentence(self.counts)

    def gap_table(self, role_name: str = "in-domain") -> pd.DataFrame:
        """Tuned − reference with interval and verdict: tasks by (test set, reference)."""
        part = self.intervals[self.intervals.role == role_name]
        return part.pivot_table(index="task", columns=["test set", "reference"], values=INTERVAL, aggfunc="first",
                                sort=False)  # fmt: skip

    def gap_view(self, test: str, role_name: str = "in-domain") -> pd.DataFrame:
        """:meth:`gap_table` of one test set, as the page shows it: the references that answer every
        task (the collaborative-filtering ones, which answer the behaviour tasks only, are judged in
        the behaviour table), so that the table fits the page."""
        table = self.gap_table(role_name)[test]
        return table.drop(columns=[c for c in table.columns if c in COLLABORATIVE])

    def other_roles_view(self, test: str, reference: str = "untuned") -> pd.DataFrame:
        """On one test set, the tuned arms other than the in-domain model (out of domain, with the
        prior, with prior and blend) against ``reference``, per task: what the out-of-domain, prior
        and behaviour claims are judged on (columns: role, named so that they can wrap)."""
        part = self.intervals[(self.intervals["test set"] == test) & (self.intervals.reference == reference)
                              & (self.intervals.role != "in-domain")]  # fmt: skip
        table = part.pivot_table(index="task", columns="role", values=INTERVAL, aggfunc="first", sort=False)
        return table.rename(columns=wrappable)

    def headline_view(self, test: str):
        """The headline table of one test set as the page shows it: one row per arm (its role), the
        tasks as columns grouped under their metric, so that a dozen arms fit the page; "–" where an
        arm answers no query of a task."""
        part = self.headline[self.headline["test set"] == test]
        columns = metric_columns(part.drop_duplicates("task").set_index("task").metric)
        table = part.pivot_table(index="role", columns=["metric", "task"], values="value", sort=False)
        return styled(table.reindex(index=list(self.wide[test].columns), columns=columns).rename(index=wrappable))

    def behaviour_view(self) -> pd.DataFrame:
        """:attr:`behaviour` as the page shows it: one row per test set, task and tuned retriever; the
        verdicts are inside the interval columns."""
        shown = self.behaviour.drop(columns=["verdict", "verdict vs untuned"], errors="ignore")
        if shown.empty:
            return shown
        return shown.assign(retriever=shown.retriever.map(wrappable)).set_index(["test set", "task", "retriever"])

    @property
    def ablation_intervals(self) -> pd.DataFrame:
        return ablation_intervals(self.ablation, seed=self.seed) if self.ablation else pd.DataFrame()

    def metrics(self) -> dict:
        """What the results run records in its metrics.json."""
        return {
            "claims": self.claims,
            "headline_sentence": self.headline_sentence,
            "headline": self.headline.to_dict(orient="records"),
            "paired_intervals": self.intervals.to_dict(orient="records"),
            "verdict_counts": self.counts.to_dict(orient="records"),
            "ablation_intervals": self.ablation_intervals.to_dict(orient="records"),
            "behaviour": self.behaviour.to_dict(orient="records"),
        }


def load_results(runs_dir: str | Path, catalogs: Sequence[str], seed: int = 0) -> Results:
    """Read the evaluation, training and ablation records under ``runs_dir`` and judge the claims."""
    evaluations = {test: read_record(runs_dir, f"evaluate-{test}", EvaluationRecord) for test in catalogs}
    missing = [test for test, record in evaluations.items() if record is None]
    if missing:
        raise FileNotFoundError(f"{runs_dir}: no complete evaluate run for {', '.join(missing)}")
    trained = {test: read_record(runs_dir, f"train-{test}", TrainingRecord) for test in catalogs}
    training = trained[catalogs[0]]  # the same recipe for every catalog
    if training is None:
        raise FileNotFoundError(f"{runs_dir}: no complete train-{catalogs[0]} run")
    headline = pd.DataFrame(headline_rows(evaluations))  # type: ignore[arg-type]
    intervals = paired_intervals(evaluations, seed)  # type: ignore[arg-type]
    claims = [in_domain_claim(test, intervals) for test in catalogs]
    if len(catalogs) > 1:
        claims.append(out_of_domain_claim(intervals))
    if claim := hybrid_claim(evaluations, intervals, seed):  # type: ignore[arg-type]
        claims.append(claim)
    if claim := general_model_claim(evaluations, intervals):  # type: ignore[arg-type]
        claims.append(claim)
    behaviour = behaviour_table(evaluations, intervals)  # type: ignore[arg-type]
    joined = {test: bool(((record.blend or {}).get("judgement") or {}).get("joins")) if record else False
              for test, record in trained.items()}  # fmt: skip
    if claim := behaviour_claim(behaviour, joined):
        claims.append(claim)
    ablation = read_record(runs_dir, "ablation", AblationRecord)
    card = training.training_card
    if ablation and (claim := ablation_claim(ablation, seed)):
        claims.append(claim)
    chat = Path(runs_dir) / "chat" / "metrics.json"  # written whole, and only when the run completed
    if chat.exists() and (redial := json.loads(chat.read_text()).get("redial")):
        if claim := redial_claim(redial, seed=seed):
            claims.append(claim)
    diagnosis = read_record(runs_dir, "diagnosis", DiagnosisRecord)
    return Results(list(catalogs), headline, wide_table(headline, catalogs), intervals,
                   verdict_counts(intervals), claims, recipe_sentence(card), ablation,
                   below_catalog_rate(diagnosis) if diagnosis else None, seed, behaviour)  # fmt: skip
