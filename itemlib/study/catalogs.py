"""Tables of the data page and the files of the "Use it" page's own-catalog example.

The data page describes the study's catalogs (sizes, field coverage, history lengths, what the
loaders skipped); the "Use it" page writes a catalog subset as a user's own CSV files, so that the
generic loader, generation and training run on them exactly as a reader's data would.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from itemlib.catalog import Catalog


def catalog_sizes(catalogs: Mapping[str, Catalog]) -> pd.DataFrame:
    """Items, users with a history, interactions and fields per catalog."""
    return pd.DataFrame(
        [{"catalog": name, "items": len(c), "users with history": len(c.histories),
          "interactions": sum(map(len, c.histories.values())), "fields": len(c.schema)}
         for name, c in catalogs.items()]
    ).set_index("catalog")  # fmt: skip


def field_coverage(catalogs: Mapping[str, Catalog]) -> pd.DataFrame:
    """The share of each catalog's items that have each field: (field, kind) by catalog."""
    rows = [{"catalog": name, "field": f.display, "kind": f.kind.value,
             "coverage": sum(f.name in item.fields for item in c.items) / len(c)}
            for name, c in catalogs.items() for f in c.schema.values()]  # fmt: skip
    return pd.DataFrame(rows).pivot_table(index=["field", "kind"], columns="catalog", values="coverage")


def history_lengths(catalogs: Mapping[str, Catalog]) -> pd.DataFrame:
    """One row per user history: its catalog and length."""
    return pd.DataFrame(
        [{"catalog": name, "history length": len(h)} for name, c in catalogs.items() for h in c.histories.values()]
    )


def skipped_records(catalogs: Mapping[str, Catalog]) -> pd.DataFrame:
    """What each loader skipped, by reason, with counts."""
    return pd.DataFrame(
        [{"catalog": name, "reason": reason, "count": count}
         for name, c in catalogs.items() for reason, count in c.report.skipped.items()]
    )  # fmt: skip


def write_own_movies(items: Catalog, out_dir: str | Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """``count`` MovieLens items as a user's own ``my_movies.csv`` (movie_id, name, genres separated by
    ``;``, year, minutes) and their views as ``my_views.csv`` (viewer, movie_id, time)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = items.subset(count, seed)
    movies = [{"movie_id": item.id, "name": item.title, "genres": ";".join(item.fields.get("genres", [])),
               "year": item.fields["year"].year if "year" in item.fields else "",
               "minutes": item.fields.get("runtime", "")} for item in source.items]  # fmt: skip
    views = [{"viewer": user, "movie_id": item, "time": t}
             for user, history in source.histories.items() for t, item in enumerate(history)]  # fmt: skip
    pd.DataFrame(movies).to_csv(out / "my_movies.csv", index=False)
    pd.DataFrame(views).to_csv(out / "my_views.csv", index=False)
    return out / "my_movies.csv", out / "my_views.csv"
