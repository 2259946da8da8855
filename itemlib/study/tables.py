"""How the book writes a table: one number format and one style for every page, so that a reader
never meets ``NaN``, ``4.0e-04`` or ``18606.000`` (:func:`itemlib.study.book.table_problems` checks
the built pages)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler


def number(value: float) -> str:
    """A number as the book's tables write it: whole counts with thousands separators (18,606, not
    18606.000), other values to three decimals, never in exponent form (a base rate of 0.0003 is
    "<0.001"), a missing one as a dash."""
    if value != value:
        return "–"
    if isinstance(value, (int, np.integer)):  # a count, however small
        return f"{value:,}"
    if float(value).is_integer() and abs(value) >= 10:
        return f"{int(value):,}"
    if 0 < abs(value) < 0.0005:  # would print as 0.000 or -0.000, hiding that it is not zero
        return "<0.001" if value > 0 else ">-0.001"
    return f"{value:.3f}"


def index_label(value: object) -> str:
    """A row or column label as the book writes it: a setting's value as short as it is exact (a weight
    of 0.0625 or 32, not 32.000000), a count with thousands separators, anything else as text."""
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return f"{value:,}"
    return str(value)


def wrappable(label: str) -> str:
    """``label`` with room to wrap at its "+" ("tuned-movielens + popularity"), so a row or column
    named after a tuned arm with its prior does not widen the table by a whole unbreakable word."""
    return label.replace("+", " + ")


def metric_columns(metric_of: pd.Series) -> pd.MultiIndex:
    """Tasks (``metric_of``'s index, in order) as columns grouped under their headline metric (its
    values), the metrics in the order they first appear: the headline tables' column header."""
    metrics = list(dict.fromkeys(metric_of))
    pairs = [(metric, task) for metric in metrics for task in metric_of.index if metric_of[task] == metric]
    return pd.MultiIndex.from_tuples(pairs, names=["metric", "task"])


#: ``DataFrame.attrs`` key naming the rows of a table that hold settings, not scores (a chosen weight
#: under its scores): :func:`styled` writes them as labels, so a weight of .0625 is not rounded to .062.
SETTING_ROWS = "setting rows"


def styled(frame: pd.DataFrame) -> Styler:
    """``frame`` as the page shows it, one style for every page: numbers as :func:`number` writes
    them, a missing cell as a dash, labels (and the rows ``frame.attrs[SETTING_ROWS]`` names) as
    :func:`index_label` writes them, text and headers escaped for HTML (item texts are data)."""
    numeric = frame.select_dtypes("number").columns
    style = frame.style.format(number, subset=numeric, na_rep="–")
    settings = [row for row in frame.attrs.get(SETTING_ROWS, ()) if row in frame.index]
    if settings and len(numeric):
        style = style.format(index_label, subset=pd.IndexSlice[settings, numeric], na_rep="–")
    style = style.format(escape="html", subset=frame.columns.difference(numeric), na_rep="–")
    style = style.format_index(index_label, escape="html", axis=0).format_index(index_label, escape="html", axis=1)
    return style.set_table_attributes('class="dataframe"')  # the theme's table style, as a plain DataFrame gets


def use_book_tables() -> None:
    """Make every DataFrame (and Series) a notebook displays render through :func:`styled`, so that
    no page shows pandas' raw ``NaN``, exponents or a Series' ``dtype: float64`` line."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    html = shell.display_formatter.formatters["text/html"]
    html.for_type(pd.DataFrame, lambda frame: styled(frame).to_html())
    html.for_type(pd.Series, lambda series: styled(series.to_frame()).to_html())
