"""Figures of the results pages, exported once: paired differences with their 95% intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from itemlib.evaluation import HEADLINE_LABEL

#: Inches kept beside the panels for the legend, so one panel is as wide as each of two.
LEGEND_WIDTH = 2.0


def interval_bars(intervals: pd.DataFrame, reference: str = "untuned", hue: str = "role",
                  hues: Sequence[str] = ("in-domain", "tuned+popularity", "tuned+popularity+cf", "out-of-domain"),
                  title: str | None = None):  # fmt: skip
    """One panel per test set: per task, the mean per-query difference (tuned − ``reference``) as a
    bar with its 95% paired bootstrap interval as the error bar; zero is drawn, so a bar whose
    interval crosses it is within noise. Returns the figure."""
    import matplotlib.pyplot as plt

    part = intervals[intervals.reference == reference]
    tests = list(dict.fromkeys(part["test set"]))
    figure, axes = plt.subplots(
        1, len(tests), figsize=(5.2 * len(tests) + LEGEND_WIDTH, 3.6), sharey=True, squeeze=False
    )
    present = [h for h in hues if h in set(part[hue])]
    width = 0.8 / max(len(present), 1)
    for ax, test in zip(axes.flat, tests):
        panel = part[part["test set"] == test]
        tasks = list(dict.fromkeys(panel.task))
        for offset, name in enumerate(present):
            rows = panel[panel[hue] == name].set_index("task").reindex(tasks)
            x = np.arange(len(tasks)) + (offset - (len(present) - 1) / 2) * width
            errors = np.vstack([rows.difference - rows.low, rows.high - rows.difference])
            ax.bar(x, rows.difference, width, label=name, yerr=errors, capsize=2, error_kw={"linewidth": 0.8})
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(tasks)), tasks, rotation=45)
        ax.set_title(f"test set: {test}")
    axes.flat[0].set_ylabel(f"tuned − {reference}\n({HEADLINE_LABEL}, 95% interval)")
    axes.flat[-1].legend(loc="upper left", bbox_to_anchor=(1, 1))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def ablation_plot(ablation, seed: int = 0):
    """Each arm's headline per task (an :class:`~itemlib.study.records.AblationRecord`), the untuned
    model first, with 95% bootstrap intervals over the test queries as error bars. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    figure, ax = plt.subplots(figsize=(10, 3.8))
    sns.barplot(data=ablation.per_query_table(), x="task", y="value", hue="variant", errorbar=("ci", 95),
                n_boot=1000, seed=seed, ax=ax)  # fmt: skip
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1))  # beside the bars, not over them
    ax.set_ylabel(HEADLINE_LABEL)
    ax.tick_params(axis="x", rotation=45)
    ax.set_title(f"{ablation.catalog}: {ablation.steps:,} training steps per arm (bars: 95% interval over queries)")
    figure.tight_layout()
    return figure


def wilson_interval(rate: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """The 95% Wilson score interval (low, high) of a share ``rate`` observed over ``n`` trials.

    The interval always contains ``rate``, but at a rate of 0 or 1 ``centre ∓ half`` misses it by a
    rounding error (a rate of 0 over 11, 22 or 27 trials gives ``low`` = 3e-17), which matplotlib
    rejects as a negative error bar (the cpu pass's chat page failed on it): each end is bounded
    by the rate itself."""
    rate, n = np.asarray(rate, float), np.maximum(np.asarray(n, float), 1)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(np.minimum(centre - half, rate), 0, 1), np.clip(np.maximum(centre + half, rate), 0, 1)


def chat_turn_bars(by_turns: pd.DataFrame, k: int):
    """One panel per catalog: each model's Hit@k by the number of user turns, with the 95% Wilson
    interval of each bar (a hit rate over that many dialogues) as its error bar. Returns the figure."""
    import matplotlib.pyplot as plt

    catalogs = list(dict.fromkeys(by_turns.catalog))
    figure, axes = plt.subplots(len(catalogs), 1, figsize=(10, 3.4 * len(catalogs)), squeeze=False)
    for ax, name in zip(axes.flat, catalogs):
        part = by_turns[by_turns.catalog == name]
        turns, models = list(dict.fromkeys(part.turns)), list(dict.fromkeys(part.model))
        width = 0.8 / len(models)
        for offset, model in enumerate(models):
            rows = part[part.model == model].set_index("turns").reindex(turns)
            low, high = wilson_interval(rows.hit.to_numpy(), rows.dialogues.to_numpy())
            x = np.arange(len(turns)) + (offset - (len(models) - 1) / 2) * width
            errors = np.vstack([rows.hit - low, high - rows.hit])
            ax.bar(x, rows.hit, width, label=model, yerr=errors, capsize=2, error_kw={"linewidth": 0.8})
        ax.set_xticks(range(len(turns)), turns)
        ax.set_xlabel("user turns")
        ax.set_ylabel(f"Hit@{k}")
        ax.set_title(f"{name} (bars: 95% Wilson interval over the dialogues)")
    axes.flat[0].legend(loc="upper left", bbox_to_anchor=(1, 1))
    figure.tight_layout()
    return figure


def embedding_map(embeddings: dict[str, np.ndarray], labels: Sequence[str], sample: int = 3000, seed: int = 0,
                  title: str | None = None):  # fmt: skip
    """One panel per model: the item embeddings projected on their first two principal components
    (scikit-learn's PCA, fitted per model), each item coloured by ``labels`` (e.g. its first genre;
    the six most common values, the rest grey). The picture of what fine-tuning did to the catalog:
    whether items of one kind gather. Returns the figure."""
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    size = len(labels)
    chosen = np.sort(rng.choice(size, min(sample, size), replace=False))
    values = pd.Series([labels[i] for i in chosen])
    top = [v for v in values.value_counts().index if v][:6]
    figure, axes = plt.subplots(1, len(embeddings), figsize=(5 * len(embeddings), 4.4), squeeze=False)
    for ax, (name, matrix) in zip(axes.flat, embeddings.items()):
        points = PCA(n_components=2, random_state=seed).fit_transform(matrix[chosen])
        rest = ~values.isin(top).to_numpy()
        ax.scatter(points[rest, 0], points[rest, 1], s=3, color="lightgrey", label="other")
        for value in top:
            mask = (values == value).to_numpy()
            ax.scatter(points[mask, 0], points[mask, 1], s=3, label=value)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[-1].legend(loc="upper left", bbox_to_anchor=(1, 1), markerscale=4)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def primary_labels(catalog) -> tuple[str, list[str]]:
    """(field, each item's first value of it): the catalog's first list field a query may name (genres,
    tags), else its first categorical one; what an embedding map is coloured by."""
    from itemlib.catalog import FieldKind

    fields = catalog.query_fields(FieldKind.LIST) or catalog.query_fields(FieldKind.CATEGORICAL)
    if not fields:
        return "", [""] * len(catalog)
    spec = fields[0]
    values = [item.fields.get(spec.name) for item in catalog.items]
    return spec.display, [(v[0] if v else "") if spec.kind is FieldKind.LIST else str(v or "") for v in values]
