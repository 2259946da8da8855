"""The results page's tables, paired intervals and claim verdicts, computed from the runs' records.

Every number the page shows comes from here, so each rule is written once and unit-tested on small
hand-made records: which model plays which role on a test set, the gain over the untuned model, the
paired bootstrap interval of a difference and its verdict (better / within noise / worse), and the
sentences that judge the paper's claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from itemlib.evaluation import paired_difference
from itemlib.study.records import AblationRecord, EvaluationRecord, TrainingRecord, read_record
from itemlib.taskinfo import tasks_in

ROLES = ("untuned", "bm25", "in-domain", "out-of-domain")
INTERVAL = "tuned − untuned [95% CI]"


def role(label: str, test_set: str) -> str:
    """``tuned-<catalog>`` is in-domain on that catalog's test set and out-of-domain elsewhere;
    any other model (untuned, bm25, ...) plays itself."""
    if label == f"tuned-{test_set}":
        return "in-domain"
    return "out-of-domain" if label.startswith("tuned-") else label


def verdict(low: float, high: float) -> str:
    """``better`` when the 95% interval of a difference lies above zero, ``worse`` below, else ``within noise``."""
    return "better" if low > 0 else "worse" if high < 0 else "within noise"


def headline_rows(evaluations: dict[str, EvaluationRecord]) -> list[dict]:
    """One row per test set, model and task: its role and headline value."""
    return [
        {
            "test set": test,
            "model": label,
            "role": role(label, test),
            "task": row["task"],
            "metric": row["metric"],
            "value": row["value"],
        }
        for test, record in evaluations.items()
        for label, table in record.headline.items()
        for row in table
    ]


def wide_table(headline: pd.DataFrame, catalogs: Sequence[str]) -> pd.DataFrame:
    """Tasks (with their metric) as rows; (test set, role) as columns."""
    wide = headline.pivot_table(index=["task"], columns=["test set", "role"], values="value", sort=False)
    wide = wide.reindex(columns=[(t, r) for t in catalogs for r in ROLES if (t, r) in wide.columns])
    wide.index = [f"{t} ({headline[headline.task == t].metric.iloc[0]})" for t in wide.index]
    return wide


def gains_over_untuned(headline: pd.DataFrame) -> pd.DataFrame:
    """The tuned models' rows with the untuned model's value beside them and the difference."""
    untuned = headline[headline.role == "untuned"][["test set", "task", "value"]].rename(columns={"value": "untuned"})
    gains = headline[headline.role.isin(["in-domain", "out-of-domain"])].merge(untuned, on=["test set", "task"])
    gains["gain over untuned"] = gains.value - gains.untuned
    return gains


def paired_intervals(evaluations: dict[str, EvaluationRecord], seed: int = 0) -> pd.DataFrame:
    """Per test set, tuned model and task: the mean per-query difference to the untuned model, its
    95% paired bootstrap interval and verdict."""
    rows = []
    for test, record in evaluations.items():
        per_query = record.per_query
        for label in [label for label in per_query if label.startswith("tuned-")]:
            for task, untuned in per_query["untuned"].items():
                rows.append(
                    {
                        "test set": test,
                        "role": role(label, test),
                        "task": task,
                        **paired_difference(per_query[label][task], untuned, seed=seed),
                    }
                )
    table = pd.DataFrame(rows)
    table["verdict"] = [verdict(low, high) for low, high in zip(table.low, table.high)]
    table[INTERVAL] = table.apply(lambda r: f"{r.difference:+.3f} [{r.low:+.3f}, {r.high:+.3f}] {r.verdict}", axis=1)
    return table


def in_domain_claim(test: str, gains: pd.DataFrame, intervals: pd.DataFrame) -> str:
    """The paper: the tuned model beats the untuned one on every task, in-domain."""
    part = gains[(gains["test set"] == test) & (gains.role == "in-domain")]
    better = part[part["gain over untuned"] > 0].task.tolist()
    worse = part[part["gain over untuned"] <= 0].task.tolist()
    tested = intervals[(intervals["test set"] == test) & (intervals.role == "in-domain")].set_index("task")
    detail = f" {(tested.verdict == 'better').sum()} of these gains exceed query noise (95% interval above zero)." + (
        ""
        if not worse
        else " The tuned model does not beat the untuned one on "
        + ", ".join(f"{task} ({tested.verdict[task]})" for task in worse)
        + "."
    )
    return (
        f"**Fine-tuning helps in-domain ({test}).** The paper: the tuned model beats the untuned one on every task. "
        f"Here it does on {len(better)} of {len(part)} tasks: "
        f"this study {'agrees' if not worse else 'agrees only in part'}.{detail}"
    )


def out_of_domain_claim(gains: pd.DataFrame) -> str:
    """The paper: out-of-domain gains are weaker on behaviour tasks than on attribute tasks."""
    ood = gains[gains.role == "out-of-domain"]
    behaviour = ood[ood.task.isin(["UH2I", "I2I"])]["gain over untuned"].mean()
    attribute = ood[ood.task.isin(tasks_in("attribute"))]["gain over untuned"].mean()
    return (
        f"**Out-of-domain gains are weaker on behaviour tasks.** Mean out-of-domain gain over the untuned model: "
        f"{behaviour:+.3f} on UH2I and I2I versus {attribute:+.3f} on the attribute tasks: this study "
        f"{'agrees' if behaviour < attribute else 'does not agree'}."
    )


def in_batch_claim(ablation: AblationRecord, in_domain_mode: str) -> str | None:
    """The paper: in-batch negatives hurt (judged on the ablation's means over the ten tasks)."""
    means = ablation.table.groupby("variant", sort=False).value.mean()
    off, on = means.get("7 neg, in-batch off"), means.get("7 neg, in-batch on")
    if off is None or on is None:
        return None
    return (
        "**In-batch negatives hurt.** Mean headline over the ten tasks with 7 verified negatives: "
        f"in-batch off {off:.3f}, on {on:.3f}, filtered {means.get('7 neg, in-batch filtered', float('nan')):.3f} "
        f"({ablation.steps} steps per variant): this study {'agrees' if on < off else 'does not agree'}. "
        f"The in-domain runs above train with in-batch mode `{in_domain_mode}` (the method page says why)."
    )


def recipe_sentence(card: dict) -> str:
    """How often an in-domain run draws each task, from its training card."""
    recipe, stats = card["hyperparameters"], card["data_stats"]
    repeats = stats.get("oversample", {})
    draws = recipe["max_steps"] * recipe["batch_size"] * recipe["gradient_accumulation"]
    per_task = {
        task: draws * count * repeats.get(task, 1) / card["examples"]
        for task, count in stats["examples_per_task"].items()
    }
    plain = [n for task, n in per_task.items() if task not in repeats]
    extra = "".join(
        f", {task} about {per_task[task]:.0f} times (its examples repeated {times}-fold)"
        for task, times in repeats.items()
    )
    in_batch = {
        "off": "no in-batch negatives",
        "on": "the other examples' passages as further negatives",
        "filtered": "the other examples' passages as further negatives where the task's predicate rejects them",
    }[recipe["in_batch"]]
    resampled = recipe.get("resample_positives") or []
    spread = (
        f" The positives of {', '.join(resampled)} are drawn from every item the query accepts, "
        "not only the item it was phrased from."
        if resampled
        else ""
    )
    return (
        f"Size of the recipe: each in-domain run takes {recipe['max_steps']} steps of {recipe['batch_size']} "
        f"examples with {recipe['negatives']} verified negatives each and {in_batch}, so each of its {len(plain)} "
        f"{'other ' if repeats else ''}tasks is drawn about {sum(plain) / len(plain):.0f} times{extra}.{spread}"
    )


@dataclass
class Results:
    """Everything the results page shows, computed from the records of one profile's runs."""

    catalogs: list[str]
    headline: pd.DataFrame  # tidy: test set, model, role, task, metric, value
    wide: pd.DataFrame
    gains: pd.DataFrame
    intervals: pd.DataFrame
    claims: list[str]
    recipe: str
    ablation: AblationRecord | None

    @property
    def gap_table(self) -> pd.DataFrame:
        """In-domain tuned − untuned with interval and verdict, tasks by test set."""
        in_domain = self.intervals[self.intervals.role == "in-domain"]
        return in_domain.pivot_table(index="task", columns="test set", values=INTERVAL, aggfunc="first", sort=False)

    def metrics(self) -> dict:
        """What the results run records in its metrics.json."""
        return {
            "claims": self.claims,
            "headline": self.headline.to_dict(orient="records"),
            "tuned_minus_untuned": self.intervals.to_dict(orient="records"),
        }


def load_results(runs_dir: str | Path, catalogs: Sequence[str], seed: int = 0) -> Results:
    """Read the evaluation, training and ablation records under ``runs_dir`` and judge the claims."""
    evaluations = {test: read_record(runs_dir, f"evaluate-{test}", EvaluationRecord) for test in catalogs}
    missing = [test for test, record in evaluations.items() if record is None]
    if missing:
        raise FileNotFoundError(f"{runs_dir}: no complete evaluate run for {', '.join(missing)}")
    training = read_record(runs_dir, f"train-{catalogs[0]}", TrainingRecord)  # the same recipe for every catalog
    if training is None:
        raise FileNotFoundError(f"{runs_dir}: no complete train-{catalogs[0]} run")
    headline = pd.DataFrame(headline_rows(evaluations))  # type: ignore[arg-type]
    gains = gains_over_untuned(headline)
    intervals = paired_intervals(evaluations, seed)  # type: ignore[arg-type]
    claims = [in_domain_claim(test, gains, intervals) for test in catalogs]
    if len(catalogs) > 1:
        claims.append(out_of_domain_claim(gains))
    ablation = read_record(runs_dir, "ablation", AblationRecord)
    if ablation and (claim := in_batch_claim(ablation, training.card["hyperparameters"]["in_batch"])):
        claims.append(claim)
    return Results(
        list(catalogs),
        headline,
        wide_table(headline, catalogs),
        gains,
        intervals,
        claims,
        recipe_sentence(training.card),
        ablation,
    )
