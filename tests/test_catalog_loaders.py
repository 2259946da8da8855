"""Catalog loaders: the real MovieLens and Steam data, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item
from itemlib.datasets import load_catalog, load_steam, load_table
from itemlib.datasets.movielens import reading_order_title
from itemlib.provenance import ROOT


def test_movielens_loads_with_join_and_histories(movielens):
    assert len(movielens) > 9000
    assert len(movielens.histories) == 671
    matrix = movielens.item("2571")
    assert matrix.title == "The Matrix"
    assert matrix.fields["mpaa"] == "R" and matrix.fields["runtime"] == 136
    rate = movielens.report.notes["ggplot2movies_match_rate"]
    assert 0.5 < rate < 0.7
    assert movielens.report.skipped["movie without title or year"] == 5
    assert "title: The Matrix, genres: Action, Sci-Fi, Thriller, year: 1999" in movielens.item_text(matrix)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Matrix, The", "The Matrix"),
        ("Amour, L' (1999)", "L'Amour (1999)"),
        ("Heat", "Heat"),
        ("Few Good Men, A", "A Few Good Men"),
    ],
)
def test_reading_order_title(raw, expected):
    assert reading_order_title(raw) == expected


def test_real_steam_loads_and_counts_known_quirks(steam_dir):
    steam = load_steam(steam_dir)
    assert len(steam) > 32000 and len(steam.histories) > 4000
    skipped = steam.report.skipped
    assert skipped["game without id"] == 2
    assert skipped["duplicate game id (first kept)"] == 1
    assert skipped["review without a full date"] == 10091
    free = [i for i in steam.items if i.fields.get("price") == 0.0]
    assert len(free) > 1500


def _write_gz_lines(path, lines):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def test_steam_original_formats_and_quirks(tmp_path):
    games = [
        "{u'id': u'10', u'app_name': u'Counter-Strike', u'genres': [u'Action'], u'price': 9.99, u'release_date': u'2000-11-01'}",  # noqa: E501 - a record as the original files spell it
        "{u'id': u'20', u'app_name': u'Team Fortress Classic', u'tags': [u'Action', u'FPS'], u'price': u'Free to Play', u'release_date': u'Coming Soon'}",  # noqa: E501 - a record as the original files spell it
        "{u'id': u'30', u'app_name': u'Day of Defeat', u'price': u'Install Now', u'developer': u'Valve'}",
        "{u'app_name': u'No id here'}",
        "{u'id': u'10', u'app_name': u'Duplicate'}",
        "this is not a dict literal {",
        "__import__('os').system('echo never')",
    ]
    _write_gz_lines(tmp_path / "steam_games.json.gz", games)
    reviews = [
        "{'user_id': 'u1', 'reviews': [{'posted': 'Posted November 5, 2011.', 'item_id': '20'}, {'posted': 'Posted March 1, 2011.', 'item_id': '10'}, {'posted': 'Posted June 2, 2012.', 'item_id': '30'}, {'posted': 'Posted May 3.', 'item_id': '10'}, {'posted': 'Posted May 4, 2013.', 'item_id': '999'}]}",  # noqa: E501 - a record as the original files spell it
        "{'user_id': 'u3', 'reviews': ['not a dict', 7]}",
    ]
    _write_gz_lines(tmp_path / "australian_user_reviews.json.gz", reviews)
    libraries = [
        "{'user_id': 'u2', 'items_count': 2, 'items': [{'item_id': '10', 'item_name': 'x'}, {'item_id': '20', 'item_name': 'y'}]}",  # noqa: E501 - a record as the original files spell it
        "{'user_id': 'u4', 'items': ['10', 20, None]}",  # entries that are not dicts: counted, not a traceback
    ]
    _write_gz_lines(tmp_path / "australian_users_items.json.gz", libraries)

    steam = load_catalog(str(tmp_path))
    assert [i.id for i in steam.items] == ["10", "20", "30"]
    assert steam.item("20").fields["price"] == 0.0
    assert "price" not in steam.item("30").fields and "release_date" not in steam.item("20").fields
    assert steam.item("10").fields["release_date"] == dt.date(2000, 11, 1)
    assert steam.histories == {"u1": ["10", "20", "30"]}  # time order, undated and unknown skipped
    assert steam.baskets == {"u2": ["10", "20"]}
    skipped = steam.report.skipped
    assert skipped["malformed line"] == 2
    assert skipped["game without id"] == 1
    assert skipped["duplicate game id (first kept)"] == 1
    assert skipped["unparseable price (value dropped)"] == 1
    assert skipped["unparseable release date (value dropped)"] == 1
    assert skipped["review without a full date"] == 1
    assert skipped["review of a game not in the metadata"] == 1
    assert skipped["review entry that is not a dict"] == 2
    assert skipped["library entry that is not a dict"] == 3


def test_a_truncated_steam_file_is_named(tmp_path):
    import shutil

    from itemlib.datasets.steam import default_steam_dir

    if not (default_steam_dir() / "user_reviews.csv.gz").exists():
        pytest.skip("Steam data not available")
    shutil.copy(default_steam_dir() / "steam_games.json.gz", tmp_path)
    whole = (default_steam_dir() / "user_reviews.csv.gz").read_bytes()
    (tmp_path / "user_reviews.csv.gz").write_bytes(whole[: len(whole) // 2])  # a download cut short
    with pytest.raises(CatalogError, match=r"user_reviews\.csv\.gz: cannot be read \(EOFError"):
        load_catalog(str(tmp_path))


def test_missing_steam_data_says_where_to_download(tmp_path):
    with pytest.raises(CatalogError, match="cseweb.ucsd.edu"):
        load_steam(tmp_path)


def test_unknown_catalog_name():
    with pytest.raises(CatalogError, match="unknown catalog"):
        load_catalog("imdb")


CSV = """id,title,genres,price,released,rating,blurb
a1,Alpha,Action|Indie,$4.99,2015-03-01,E,a fast paced shooter with robots and lasers everywhere you look
a2,Beta,Puzzle,0,2016-07-12,T,a calm puzzle game set on a quiet island with lighthouses
a3,Gamma,Action|Puzzle,"1,299.00",2012-01-30,E,a strange hybrid of genres that nobody asked for but many love
a4,Delta,Indie,12,2019-11-02,M,a short story about a detective cat solving crimes at night
"""


def test_table_infers_field_kinds(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(CSV)
    catalog = load_table(path, noun="game", verb="play")
    kinds = {name: spec.kind for name, spec in catalog.schema.items()}
    assert kinds == {
        "genres": FieldKind.LIST,
        "price": FieldKind.NUMERIC,
        "released": FieldKind.DATE,
        "rating": FieldKind.CATEGORICAL,
        "blurb": FieldKind.TEXT,
    }
    assert catalog.item("a3").fields["price"] == 1299.0
    assert catalog.item("a1").fields["genres"] == ["Action", "Indie"]


def test_table_jsonl_with_interactions(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(
        "\n".join(json.dumps({"id": f"i{n}", "title": f"Thing {n}", "tags": ["x", "y"][: 1 + n % 2]}) for n in range(5))
    )
    events = tmp_path / "events.csv"
    events.write_text("user,item,timestamp\nu,i3,30\nu,i1,10\nu,i2,20\nv,i0,1\n")
    catalog = load_table(items, interactions=events)
    assert catalog.schema["tags"].kind is FieldKind.LIST
    assert catalog.histories == {"u": ["i1", "i2", "i3"]}
    assert catalog.report.skipped["user with fewer than 3 items"] == 1


BAD_INPUTS = {
    "missing title": ("id,title,price\nx1,,3\nx2,Fine,4\n", r"items\.csv:2: record 'x1' has no title"),
    "duplicate id": ("id,title,price\nx1,One,3\nx1,Two,4\n", r"items\.csv:3: duplicate id 'x1'"),
    "malformed line": ("id,title,price\nx1,One,3\nx2,Two,4,extra\n", r"items\.csv:3: malformed line"),
    "unparseable price": (
        "id,title,price\n" + "".join(f"x{n},T{n},{n}\n" for n in range(12)) + "x99,Bad,cheap\n",
        r"items\.csv:14: record 'x99', column 'price': unparseable number 'cheap'",
    ),
    "unparseable date": (
        "id,title,released\n" + "".join(f"x{n},T{n},2015-01-{n + 1:02d}\n" for n in range(12)) + "x99,Bad,someday\n",
        r"record 'x99', column 'released': unparseable date 'someday'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_csv_raises_naming_file_and_record(tmp_path, case):
    text, message = BAD_INPUTS[case]
    path = tmp_path / "items.csv"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message):
        load_table(path)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_csv_skip_mode_counts_every_skip(tmp_path, case):
    text, _ = BAD_INPUTS[case]
    path = tmp_path / "items.csv"
    path.write_text(text)
    catalog = load_table(path, on_error="skip")
    records = len(text.strip().splitlines()) - 1
    assert sum(catalog.report.skipped.values()) == 1
    dropped_record = case in ("missing title", "duplicate id", "malformed line")
    assert len(catalog) == records - dropped_record


def test_malformed_jsonl_line(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": "a", "title": "A"}\n{"id": "b", "title": \n')
    with pytest.raises(CatalogError, match=r"items\.jsonl:2: malformed JSON line"):
        load_table(path)
    assert len(load_table(path, on_error="skip")) == 1


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    path = tmp_path / "items.csv"
    path.write_text(text)
    with pytest.raises(CatalogError, match="empty"):
        load_table(path)


def test_header_only_and_missing_columns(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("id,title\n")
    with pytest.raises(CatalogError, match="no records"):
        load_table(path)
    path.write_text("key,name\n1,A\n")
    with pytest.raises(CatalogError, match="no 'id' column"):
        load_table(path)


def test_catalog_validation():
    schema = [Field("year", FieldKind.NUMERIC)]
    with pytest.raises(CatalogError, match="duplicate item id"):
        Catalog("c", [Item("1", "A"), Item("1", "B")], schema)
    with pytest.raises(CatalogError, match="has no title"):
        Catalog("c", [Item("1", " ")], schema)
    with pytest.raises(CatalogError, match="not a numeric value"):
        Catalog("c", [Item("1", "A", {"year": "1999"})], schema)
    with pytest.raises(CatalogError, match="unknown item"):
        Catalog("c", [Item("1", "A")], schema, histories={"u": ["1", "2"]})
    with pytest.raises(CatalogError, match="no items"):
        Catalog("c", [], schema)


def test_the_steam_libraries_subset_is_rebuilt_from_the_original_format_as_the_shared_readme_says(tmp_path):
    """users with at most 30 games, entries with playtime, file and library order, the first N rows."""
    import subprocess
    import sys

    import pandas as pd

    from itemlib.datasets.steam import libraries_subset

    def user(name: str, games: list[tuple[int, float]], count: int | None = None) -> str:
        items = [{"item_id": str(i), "item_name": f"Game {i}", "playtime_forever": t, "playtime_2weeks": 0}
                 for i, t in games]  # fmt: skip
        return repr({"user_id": name, "items_count": len(games) if count is None else count, "steam_id": "1",
                     "user_url": "u", "items": items})  # fmt: skip

    original = tmp_path / "australian_users_items.json.gz"
    lines = [user("a", [(10, 5.0), (20, 0.0), (30, 7.0)]), user("big", [(1, 1.0)], count=31), "not a dict",
             user("b", [(40, 2.0), (50, 3.0)])]  # fmt: skip
    with gzip.open(original, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    subset = libraries_subset(original, rows=3)
    assert list(subset.itertuples(index=False, name=None)) == [
        ("a", 3, 10, "Game 10", 5.0), ("a", 3, 30, "Game 30", 7.0), ("b", 2, 40, "Game 40", 2.0)
    ]  # fmt: skip
    out = tmp_path / "subset.parquet"
    subset.to_parquet(tmp_path / "copy.parquet", index=False)
    script = [sys.executable, str(ROOT / "scripts" / "steam_subset.py"), str(original), str(out), "--compare"]
    done = subprocess.run([*script, str(tmp_path / "copy.parquet")], capture_output=True, text=True)
    assert done.returncode == 1 and "differs" in done.stdout  # the script keeps 50,000 rows: all 4 here
    assert len(pd.read_parquet(out)) == 4 and not list(tmp_path.glob("*.partial"))
