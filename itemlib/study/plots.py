"""Figures of the results pages, exported once: paired differences with their 95% intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def interval_bars(intervals: pd.DataFrame, reference: str = "untuned", hue: str = "role",
                  hues: Sequence[str] = ("in-domain", "tuned+popularity", "out-of-domain"),
                  title: str | None = None):  # fmt: skip
    """One panel per test set: per task, the mean per-query difference (tuned − ``reference``) as a
    bar with its 95% paired bootstrap interval as the error bar; zero is drawn, so a bar whose
    interval crosses it is within noise. Returns the figure."""
    import matplotlib.pyplot as plt

    part = intervals[intervals.reference == reference]
    tests = list(dict.fromkeys(part["test set"]))
    figure, axes = plt.subplots(1, len(tests), figsize=(5.2 * len(tests), 3.6), sharey=True, squeeze=False)
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
    axes.flat[0].set_ylabel(f"tuned − {reference}\n(headline @5, 95% interval)")
    axes.flat[-1].legend(loc="upper left", bbox_to_anchor=(1, 1))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
