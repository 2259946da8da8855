"""Bad input and interruption, driven through the command line as a user would: every case ends in
a clear message naming the file, line or option and exit code 2 (or a counted skip), never a
traceback, and nothing partial is left for a later command to consume."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from itemlib.catalog import CatalogError, FieldKind
from itemlib.cli import main
from itemlib.datasets import load_table
from itemlib.embedding import cache_file


def run(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``itemlib ARGS``; argparse's usage errors exit with 2 too."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as stopped:
        code = int(stopped.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def gadgets(path, rows: int = 60) -> None:
    lines = [
        f"i{n},Gadget {n},{['red', 'blue', 'green', 'black', 'white', 'pink'][n % 6]}|{['small', 'large'][n % 2]},"
        f"{n * 3 + 1},{2000 + n % 20}-01-01"
        for n in range(rows)
    ]
    path.write_text("id,title,tags,price,released\n" + "\n".join(lines) + "\n")


SMALL = ("--per-task", "20", "--test-per-task", "5", "--quiet")


def test_a_failed_generate_leaves_nothing_and_keeps_the_earlier_folder(tmp_path, capsys):
    items, out = tmp_path / "items.csv", tmp_path / "out"
    gadgets(items)
    code, _, err = run(capsys, "generate", "--catalog", items, "--out", out, "--writer", "llm",
                       "--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "x", *SMALL)  # fmt: skip
    assert code == 2 and "chat endpoint http://127.0.0.1:9/v1 failed" in err
    assert not out.exists() and not list(tmp_path.glob(".out*"))  # no partial folder, no scratch left
    assert run(capsys, "generate", "--catalog", items, "--out", out, "--seed", "0", *SMALL)[0] == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _, _ = run(capsys, "generate", "--catalog", items, "--out", out, "--seed", "1", "--writer", "llm",
                     "--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "x", *SMALL)  # fmt: skip
    assert code == 2
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # seed 0, whole


def test_readers_refuse_a_folder_without_its_completion_record(tmp_path, capsys):
    items, out = tmp_path / "items.csv", tmp_path / "out"
    gadgets(items)
    assert run(capsys, "generate", "--catalog", items, "--out", out, *SMALL)[0] == 0
    (out / "stats.json").unlink()  # what an interrupted writer of an older version left
    code, _, err = run(capsys, "train", "--data", out, "--out", tmp_path / "model", "--max-steps", "1")
    assert code == 2 and "is incomplete (no stats.json" in err and "run `itemlib generate --out" in err
    code, _, err = run(capsys, "evaluate", "--model", "bm25", "--catalog", items, "--tests", out,
                       "--out", tmp_path / "results")  # fmt: skip
    assert code == 2 and "is incomplete (no stats.json" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "evaluate", "--model", "bm25", "--catalog", items, "--tests", tmp_path / "empty",
                       "--out", tmp_path / "results")  # fmt: skip
    assert code == 2 and "empty is incomplete" in err


def test_a_users_own_catalog_from_the_cli_says_which_tasks_it_cannot_make(tmp_path, capsys):
    items, events, out = tmp_path / "games.csv", tmp_path / "events.csv", tmp_path / "out"
    genres = ["Action", "Strategy", "Puzzle", "Racing", "Indie", "Casual"]
    rows = [f"{100 + n},Game {n},{genres[n % 6]};{genres[(n + 2) % 6]},{n % 30}.99" for n in range(60)]
    items.write_text("appid,name,genres,price\n" + "\n".join(rows) + "\n")
    code, printed, _ = run(capsys, "generate", "--catalog", items, "--out", out, "--id-column", "appid",
                           "--title-column", "name", "--noun", "game", *SMALL)  # fmt: skip
    assert code == 0
    for task in ("UH2I", "US2I", "UQ2I"):
        assert f"{task}  not made: the catalog has no user histories (give an interactions file)" in printed
    assert "I2I   not made: no two items share a user's history" in printed
    assert not (out / "train" / "UH2I.jsonl").exists()
    assert json.loads((out / "stats.json").read_text())["tasks"]["UH2I"]["unavailable"].startswith("the catalog has")
    events.write_text(
        "player,game,t\n" + "".join(f"u{u},{100 + (u * 7 + k) % 60},{k}\n" for u in range(30) for k in range(5))
    )
    code, printed, _ = run(capsys, "generate", "--catalog", items, "--out", out, "--id-column", "appid",
                           "--title-column", "name", "--interactions", events, "--user-column", "player",
                           "--item-column", "game", "--timestamp-column", "t", *SMALL)  # fmt: skip
    assert code == 0 and "not made" not in printed and "UH2I  train" in printed
    code, _, err = run(capsys, "generate", "--catalog", "movielens", "--out", out, "--interactions", events)
    expected = "itemlib generate: error: --interactions: options of a CSV/JSONL catalog, not of 'movielens'"
    assert code == 2 and expected in err


@pytest.mark.parametrize(
    "text, message",
    [
        (
            'id,title,year\n1,"Toy Story,1995\n2,Jumanji",1995\n3,Heat,1995\n',
            r"items\.csv:2: a quote opened on line 2 runs into line 3, merging rows",
        ),
        (
            "id,title,year\n1,Toy Story,1995\n2,Jumanji\n",
            r"items\.csv:3: malformed line, 2 fields where the header has 3",
        ),
        ("id,title,title\n1,A,B\n", r"items\.csv:1: duplicate column names \['title'\]"),
    ],
)
def test_csv_structure_errors_name_the_file_and_line(tmp_path, capsys, text, message):
    path = tmp_path / "items.csv"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message):
        load_table(path)
    code, _, err = run(capsys, "search", "--model", "bm25", "--catalog", path, "toy")
    assert code == 2 and "Traceback" not in err


def test_quoted_newlines_are_kept_and_other_encodings_are_named(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text('id,title\n1,"Two\nLines"\n2,Other\n')
    assert [item.title for item in load_table(path).items] == ["Two Lines", "Other"]
    path.write_text('id,title,about\n1,Toy Story,"A toy story.\nWith toys, and more toys."\n2,Heat,Crime\n')
    assert load_table(path).items[0].fields["about"] == "A toy story. With toys, and more toys."  # a comma inside
    path.write_bytes("id,title\n1,Amélie\n2,Café\n".encode("latin-1"))
    with pytest.raises(CatalogError, match=r"items\.csv:2: not UTF-8 text \(byte 0xe9\); save the file as UTF-8"):
        load_table(path)


def test_lists_years_nested_objects_and_values_are_read_as_meant(tmp_path):
    path = tmp_path / "items.csv"
    rows = [f'{n},Game {n},Action;Strategy,"[""Co-op"", ""Online""]",{1990 + n},{n}.5' for n in range(12)]
    path.write_text("id,title,genres,modes,year,price\n" + "\n".join(rows) + "\n")
    catalog = load_table(path)
    assert {name: spec.kind for name, spec in catalog.schema.items()} == {
        "genres": FieldKind.LIST, "modes": FieldKind.LIST, "year": FieldKind.DATE, "price": FieldKind.NUMERIC,
    }  # fmt: skip
    first = catalog.item("0")
    assert first.fields["genres"] == ["Action", "Strategy"] and first.fields["modes"] == ["Co-op", "Online"]
    assert first.fields["year"].year == 1990 and catalog.schema["year"].year_only
    assert catalog.schema["price"].unit == "$"
    assert len(load_table(path, list_separator="|").schema) == 4  # an explicit separator is obeyed
    path.write_text(path.read_text().replace("\n3,Game 3,Action;Strategy", "\n3,Game 3,Action;Strategy", 1)
                    .replace(",1993,3.5", ",1993,-3.5"))  # fmt: skip
    with pytest.raises(CatalogError, match=r"items\.csv:5: record '3', column 'price': negative price '-3\.5'"):
        load_table(path)
    nested = tmp_path / "items.jsonl"
    nested.write_text(json.dumps({"id": "a", "title": "A", "price": {"amount": 5, "currency": "USD"}}) + "\n")
    assert set(load_table(nested).schema) == {"price.amount", "price.currency"}
    nested.write_text(json.dumps({"id": "a", "title": "A", "dlc": [{"name": "x"}]}) + "\n")
    with pytest.raises(
        CatalogError, match=r"items\.jsonl:1: malformed JSON line \(column 'dlc' holds a list of objects"
    ):
        load_table(nested)


def test_one_history_never_mixes_epoch_and_iso_timestamps(tmp_path):
    items, events = tmp_path / "items.csv", tmp_path / "events.csv"
    gadgets(items)
    events.write_text("user,item,timestamp\nu,i1,1500000000\nu,i2,2019-03-01\nu,i3,1500000100\n")
    with pytest.raises(CatalogError, match=r"events\.csv:3: timestamp '2019-03-01' is a date, but line 2 has a number"):
        load_table(items, interactions=events)
    catalog = load_table(items, interactions=events, on_error="skip")
    assert catalog.report.skipped["interaction whose timestamp kind differs from the first's"] == 1


def test_iso_timestamps_with_a_time_of_day_or_a_zone_order_a_history_by_that_time(tmp_path):
    items, events = tmp_path / "items.csv", tmp_path / "events.csv"
    gadgets(items)
    events.write_text(
        "user,item,timestamp\nu,i1,2020-01-01T23:00\nu,i2,2020-01-01T09:00\nu,i3,2020-01-01T12:00\n"
        "u,i4,2020-01-01T08:00\nv,i1,2020-01-01T23:45+02:00\nv,i2,2020-01-01T22:30Z\nv,i3,2020-01-01\n"
    )
    histories = load_table(items, interactions=events).histories
    assert histories["u"] == ["i4", "i2", "i3", "i1"]  # not file order: the held-out last item is i1
    assert histories["v"] == ["i3", "i1", "i2"]  # 23:45+02:00 is 21:45 UTC; a bare date is its midnight
    events.write_text("user,item,timestamp\nu,i1,2020-01-01junk\nu,i2,2020-01-02\nu,i3,2020-01-03\n")
    with pytest.raises(CatalogError, match=r"events\.csv:2: unparseable timestamp '2020-01-01junk'"):
        load_table(items, interactions=events)


def test_command_line_values_and_output_folders_are_checked_before_any_work(tmp_path, capsys, movielens_data):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("mine")
    for args in (
        ("generate", "--catalog", "movielens", "--out", a_file),
        ("train", "--data", movielens_data, "--out", a_file, "--max-steps", "1"),
        ("evaluate", "--model", "bm25", "--catalog", "movielens", "--tests", movielens_data, "--out", a_file),
    ):
        code, _, err = run(capsys, *args)
        assert code == 2 and f"--out {a_file} is a file, not a folder" in err, args
    assert a_file.read_text() == "mine"
    for steps in ("0", "-3"):
        code, _, err = run(capsys, "train", "--data", movielens_data, "--out", tmp_path / "m", "--max-steps", steps)
        assert code == 2 and "max_steps must be >= 1 (or -1: not set)" in err
    code, _, err = run(capsys, "search", "--model", "bm25", "--catalog", "movielens", "-k", "-3", "toy")
    assert code == 2 and "argument -k: expected a whole number >= 1, got '-3'" in err
    code, _, err = run(capsys, "search", "--model", "bm25", "--catalog", "movielens", "  ")
    assert code == 2 and "the query is empty" in err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "generate", "--catalog", "movielens", "--out", mine)
    assert code == 2 and "holds files itemlib did not write: notes.txt" in err and (mine / "notes.txt").exists()


def tree(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_no_writer_replaces_a_users_folder_an_input_or_another_commands_output(
    tmp_path, capsys, movielens_data, monkeypatch
):
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    (project / "src" / "main.py").write_text("print('mine')")
    (project / "metrics.json").write_text("{}")  # a completion record's name does not make it itemlib's
    (project / "README.md").write_text("# my model")
    (project / "config.json").write_text("{}")
    before = tree(project)
    evaluate = ("evaluate", "--model", "bm25", "--catalog", "movielens", "--tests", movielens_data, "--quiet")
    for args in (
        (*evaluate, "--out", project),
        ("generate", "--catalog", "movielens", "--out", project, *SMALL),
        ("train", "--data", movielens_data, "--out", project, "--max-steps", "1"),
    ):
        code, _, err = run(capsys, *args)
        assert code == 2 and "holds files itemlib did not write" in err, (args, err)
    assert tree(project) == before  # nothing lost, nothing added
    code, _, err = run(capsys, "validation-split", "--data", movielens_data, "--catalog", "movielens", "--trained",
                       tmp_path / "m", "--out", movielens_data)  # fmt: skip
    assert code == 2 and "is, holds or lies inside the input" in err and (movielens_data / "train").is_dir()
    code, _, err = run(capsys, *evaluate, "--out", movielens_data / "results")
    assert code == 2 and "lies inside the input" in err
    results = tmp_path / "results"
    assert run(capsys, *evaluate, "--tasks", "nm2i", "--out", results)[0] == 0  # tasks in any case
    assert run(capsys, *evaluate, "--tasks", "NM2I", "--out", results)[0] == 0  # its own output: replaced
    code, _, err = run(capsys, "generate", "--catalog", "movielens", "--out", results, *SMALL)
    assert code == 2 and "was written by `itemlib evaluate`" in err and (results / "metrics.json").exists()
    monkeypatch.chdir(tmp_path)  # a catalog's or a baseline's name is no input folder, whatever --out is called
    assert run(capsys, *evaluate, "--tasks", "NM2I", "--out", "bm25")[0] == 0
    link = tmp_path / "link"
    link.symlink_to(results, target_is_directory=True)
    code, _, err = run(capsys, *evaluate, "--out", link)
    assert code == 2 and "is a symbolic link" in err and link.is_symlink() and (results / "metrics.json").exists()


def test_malformed_training_and_test_lines_name_file_and_line(tmp_path, capsys, movielens_data):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(movielens_data, data)
    (data / "train" / "NM2I.jsonl").write_text('{"task": "NM2I", "query": \n')
    code, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "m", "--max-steps", "1")
    assert code == 2 and "NM2I.jsonl:1: malformed JSON line" in err
    record = json.loads((data / "test" / "VC2I.jsonl").read_text().splitlines()[0])
    (data / "test" / "VC2I.jsonl").write_text(json.dumps({k: v for k, v in record.items() if k != "pos_ids"}) + "\n")
    code, _, err = run(capsys, "evaluate", "--model", "random", "--catalog", "movielens", "--tests", data,
                       "--out", tmp_path / "r")  # fmt: skip
    assert code == 2 and "VC2I.jsonl:1: test record lacks pos_ids" in err


def test_a_catalog_name_never_leads_out_of_the_embedding_cache(tmp_path):
    cache = tmp_path / "cache"
    path = cache_file(cache, "../../escape", "k")
    assert path.resolve().parent == cache.resolve() and path.name == "_escape-k.npy"


STORE_STATISTICS = ("english", "achievements", "positive ratings", "negative ratings", "average playtime",
                    "median playtime", "owners")  # fmt: skip


def test_store_style_table_never_phrases_a_query_from_a_statistic(tmp_path, capsys):
    """A public game-store table: descriptive fields next to counts, flags and playtime aggregates."""
    rng = random.Random(0)
    genres = ["Action", "Strategy", "Puzzle", "Racing", "Indie", "Casual", "Simulation", "Sports"]
    developers = ["Valve", "Ubisoft", "Klei", "Zachtronics", "Bethesda"]
    header = ("appid,name,release_date,english,developer,platforms,required_age,genres,achievements,"
              "positive_ratings,negative_ratings,average_playtime,median_playtime,owners,price")  # fmt: skip
    rows = []
    for n in range(120):
        rows.append(",".join(str(v) for v in [
            10 + n, f"Title {n}", f"{2005 + n % 15}-0{1 + n % 9}-1{n % 10}", rng.choice([0, 1]),
            rng.choice(developers), rng.choice(["windows", "windows;mac", "windows;mac;linux"]),
            rng.choice([0, 12, 18]),
            ";".join(rng.sample(genres, 2)), rng.randint(0, 80), rng.randint(0, 9000), rng.randint(0, 900),
            rng.randint(0, 500), rng.randint(0, 400), rng.choice(["0-20000", "20000-50000", "50000-100000"]),
            f"{rng.randint(0, 40)}.99",
        ]))  # fmt: skip
    items, events = tmp_path / "store.csv", tmp_path / "events.csv"
    items.write_text(header + "\n" + "\n".join(rows) + "\n")
    events.write_text("user,item\n" + "".join(f"u{u},{10 + rng.randrange(120)}\n" for u in range(80) for _ in range(6)))
    catalog = load_table(items, id_column="appid", title_column="name", interactions=events)
    statistics = {name for name, spec in catalog.schema.items() if not spec.askable}
    assert statistics == {"english", "achievements", "positive_ratings", "negative_ratings", "average_playtime",
                          "median_playtime", "owners"}  # fmt: skip
    out = tmp_path / "out"
    code, printed, _ = run(capsys, "generate", "--catalog", items, "--id-column", "appid", "--title-column", "name",
                           "--interactions", events, "--noun", "game", "--out", out, "--per-task", "60",
                           "--test-per-task", "20", "--quiet")  # fmt: skip
    assert code == 0 and "not made" not in printed
    queries = [
        json.loads(line)["query"].lower() for path in out.glob("*/*.jsonl") for line in path.read_text().splitlines()
    ]
    assert len(queries) > 500
    named = [(label, q) for q in queries for label in STORE_STATISTICS if label in q]
    assert not named, named[:3]
    summaries = [json.loads(line)["query"] for line in (out / "train" / "US2I.jsonl").read_text().splitlines()]
    assert not any("windows" in q for q in summaries)  # platforms (3 values) are no taste
    assert not load_table(items, id_column="appid", title_column="name", roles={"english": "statistic"}).schema[
        "owners"].askable  # fmt: skip
    assert (
        load_table(items, id_column="appid", title_column="name", roles={"owners": "descriptive"})
        .schema["owners"]
        .askable
    )


def test_an_unwritable_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """Tests run as root, whom permissions do not stop: the check itself is what is tested."""
    import os

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    code, _, err = run(capsys, "generate", "--catalog", "movielens", "--out", tmp_path / "ro" / "data")
    assert code == 2 and "cannot write there (read-only or no permission)" in err


HOSTILE = "Evil\x1b]0;PWNED\x07\x1b[2J <img src=x onerror=alert(1)> & co"


def test_hostile_titles_are_shown_never_executed_in_a_terminal_or_a_page(capsys, monkeypatch):
    from itemlib.catalog import Catalog, Field, Item
    from itemlib.datasets import CATALOG_LOADERS
    from itemlib.escape import html_text, terminal_text

    items = [Item("x1", HOSTILE, {"genres": ["Horror"]}), Item("x2", "Plain", {"genres": ["Drama"]})]
    monkeypatch.setitem(
        CATALOG_LOADERS, "hostile", lambda: Catalog("hostile", items, [Field("genres", FieldKind.LIST)])
    )
    code, out, _ = run(capsys, "search", "--model", "bm25", "--catalog", "hostile", "-k", "2", "evil")
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\\x1b]0;PWNED\\x07" in out
    assert terminal_text("a\u2028b\u202ec") == "a\\u2028b\\u202ec"  # line separator, bidi override: visible
    assert terminal_text("one\ntwo\x1b", keep="\n") == "one\ntwo\\x1b"  # a block of lines keeps its lines
    assert "<img" not in html_text(HOSTILE) and "&lt;img src=x onerror=alert(1)&gt; &amp; co" in html_text(HOSTILE)

    page = (
        pd.DataFrame({"positive": [HOSTILE]}, index=[HOSTILE]).style.format(escape="html").format_index(escape="html")
    )
    assert "<img" not in page.to_html()  # how generate.ipynb and diagnosis.ipynb show item text


def test_chat_reads_undecodable_input_and_shows_hostile_titles_inert(capsys, monkeypatch):
    import io
    import sys

    from itemlib.catalog import Catalog, Field, Item
    from itemlib.datasets import CATALOG_LOADERS

    items = [Item("x1", HOSTILE, {"genres": ["Horror"]}), Item("x2", "Plain", {"genres": ["Drama"]})]
    monkeypatch.setitem(
        CATALOG_LOADERS, "hostile", lambda: Catalog("hostile", items, [Field("genres", FieldKind.LIST)])
    )
    typed = io.TextIOWrapper(io.BytesIO(b"something evil \xff please\n/quit\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", typed)
    code, out, err = run(capsys, "chat", "--model", "bm25", "--catalog", "hostile", "-k", "2")
    assert code == 0 and "Traceback" not in err and out.rstrip().endswith("bye")
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;PWNED\\x07" in out


def test_records_are_read_as_written_ids_separators_duplicate_keys_and_types(tmp_path, capsys, movielens_data):
    import shutil

    from itemlib.retrieval import PopularityPrior, make_retriever

    items, events = tmp_path / "items.jsonl", tmp_path / "events.jsonl"
    items.write_text('{"id": 0, "title": "Zero\u2028Hour"}\n{"id": 1, "title": "One"}\n{"id": 2, "title": "Two"}\n')
    events.write_text("".join(f'{{"user": 0, "item": {i}, "timestamp": {i}}}\n' for i in (0, 1, 2)))
    catalog = load_table(items, interactions=events)
    assert [i.id for i in catalog.items] == ["0", "1", "2"] and catalog.histories == {"0": ["0", "1", "2"]}
    assert catalog.items[0].title == "Zero Hour"  # U+2028 inside a string is text, not a line break
    items.write_text('{"id": "a", "title": "A", "title": "B"}\n')
    with pytest.raises(CatalogError, match=r"items\.jsonl:1: malformed JSON line \(key 'title' given twice\)"):
        load_table(items)
    items.write_text('{"id": "a", "title": "A", "price": NaN}\n')
    with pytest.raises(CatalogError, match="NaN is not a JSON number"):
        load_table(items)
    with pytest.raises(ValueError, match="finite number"):
        PopularityPrior(make_retriever("bm25"), float("inf"))
    data = tmp_path / "data"
    shutil.copytree(movielens_data, data)
    train = data / "train" / "NM2I.jsonl"
    lines = train.read_text().split("\n")
    record = json.loads(lines[1])
    train.write_text("\n".join([lines[0], json.dumps(record | {"pos": record["pos"][0]}), *lines[2:]]))
    code, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "m", "--tasks", "NM2I", "--max-steps", "1")
    assert code == 2 and "NM2I.jsonl:2: training record field 'pos' has the wrong type" in err
    train.write_text("\n".join([lines[0], json.dumps(record | {"pos_ids": []}), *lines[2:]]))  # no positive's id
    code, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "m", "--tasks", "NM2I", "--max-steps", "1",
                       "--in-batch", "filtered", "--catalog", "movielens")  # fmt: skip
    assert code == 2 and "NM2I.jsonl:2: training record field 'pos_ids' has the wrong type" in err
    test = data / "test" / "NM2I.jsonl"
    lines = test.read_text().split("\n")
    test.write_text("\n".join([json.dumps(json.loads(lines[0]) | {"pos_ids": "x"}), *lines[1:]]))
    code, _, err = run(capsys, "evaluate", "--model", "bm25", "--catalog", "movielens", "--tests", data, "--out",
                       tmp_path / "r", "--tasks", "NM2I")  # fmt: skip
    assert code == 2 and "NM2I.jsonl:1: test record has a field of the wrong type" in err


def test_files_of_the_wrong_shape_are_named_with_what_to_do(tmp_path, capsys):
    items = tmp_path / "items.json"
    items.write_text('[{"id": 1, "title": "A"}]')
    with pytest.raises(CatalogError, match=r"a JSON array; itemlib reads JSON Lines"):
        load_table(items)
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": 1, "title": "A", "x": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001 + "\n")
    with pytest.raises(CatalogError, match=r"items\.jsonl:1: malformed JSON line \(nested too deeply\)"):
        load_table(items)
    tsv = tmp_path / "items.csv"
    tsv.write_text("id\ttitle\n1\tA\n")
    with pytest.raises(CatalogError, match="its header looks separated by tabs"):
        load_table(tsv)
    gadgets(tsv)
    with pytest.raises(CatalogError, match="a folder, not a file"):
        load_table(tsv, interactions=tmp_path)
    huge = tmp_path / "huge.csv"
    huge.write_text("id,title,price\n" + "".join(f"i{n},G{n},{n}.5\n" for n in range(20)) + "x,X," + "9" * 400 + "\n")
    with pytest.raises(CatalogError, match="huge.csv:22"):  # not an OverflowError deep in generation
        load_table(huge, kinds={"price": "numeric"})


def test_a_broken_embedding_cache_is_said_early_or_rebuilt(tmp_path, monkeypatch, movielens, caplog):
    from itemlib.embedding import embed_catalog
    from itemlib.models import load_encoder

    from .tiny_models import tiny_bert

    model = load_encoder(tiny_bert(tmp_path / "bert"))
    small = movielens.subset(50, 0)
    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        embed_catalog(model, small, cache_dir=a_file)
    first = embed_catalog(model, small, cache_dir=tmp_path / "cache")
    (cached,) = (tmp_path / "cache").glob("*.npy")
    cached.write_bytes(cached.read_bytes()[:100])  # truncated by a crash or a full disk
    again = embed_catalog(model, small, cache_dir=tmp_path / "cache")
    assert np.allclose(first, again) and "is unreadable" in caplog.text
    assert not [path for path in (tmp_path / "cache").iterdir() if path.name.endswith(".partial")]

    def full_disk(file, array):  # writes part of the file, then the disk is full
        file.write(b"\x93NUMPY")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    full = embed_catalog(model, small, cache_dir=tmp_path / "full")  # the result, without its cache
    assert np.allclose(first, full) and "could not cache the embeddings" in caplog.text
    assert not list((tmp_path / "full").iterdir())  # no partial file left behind


def test_a_file_replaced_whole_is_old_or_new_never_half(tmp_path):
    from itemlib.publish import replace_file, write_text_whole

    chosen = tmp_path / "popularity_weight.json"
    write_text_whole(chosen, '{"weights": 1}')

    def interrupted(scratch):  # half the new file written, then Ctrl-C
        scratch.write_text('{"weig')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_file(chosen, interrupted)
    assert chosen.read_text() == '{"weights": 1}' and [p.name for p in tmp_path.iterdir()] == [chosen.name]
    write_text_whole(chosen, '{"weights": 2}')
    assert chosen.read_text() == '{"weights": 2}' and len(list(tmp_path.iterdir())) == 1


def test_a_truncated_model_file_is_named_not_a_traceback(tmp_path, capsys):
    from .tiny_models import tiny_bert

    model = tiny_bert(tmp_path / "bert")
    weights = tmp_path / "bert" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy cut short
    code, _, err = run(capsys, "search", "--model", model, "--catalog", "movielens", "toy")
    assert code == 2 and f"cannot load model '{model}'" in err and "invalid header" in err


def test_an_unknown_constraint_operator_is_named_with_file_and_line(tmp_path, capsys, movielens_data):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(movielens_data, data)
    test = data / "test" / "VC2I.jsonl"
    lines = test.read_text().split("\n")
    record = json.loads(lines[2])
    record["spec"]["constraints"][0]["op"] = "approx"
    test.write_text("\n".join([*lines[:2], json.dumps(record), *lines[3:]]))
    code, _, err = run(capsys, "evaluate", "--model", "bm25", "--catalog", "movielens", "--tests", data, "--out",
                       tmp_path / "r", "--tasks", "VC2I")  # fmt: skip
    assert code == 2 and "VC2I.jsonl:3: unknown constraint operator 'approx' (operators: has_all" in err


def test_scratch_folders_of_killed_runs_are_cleaned_by_the_next_write(tmp_path, capsys):
    import os
    import subprocess

    items, out = tmp_path / "items.csv", tmp_path / "out"
    gadgets(items)
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid belongs to no running process now
    killed = tmp_path / f".out.partial-{finished.pid}-abc"
    running = tmp_path / f".out.partial-{os.getpid()}-xyz"  # a write still in progress: left alone
    for scratch in (killed, running):
        (scratch / "test").mkdir(parents=True)
    assert run(capsys, "generate", "--catalog", items, "--out", out, *SMALL)[0] == 0
    assert not killed.exists() and running.exists() and (out / "stats.json").exists()


@pytest.mark.parametrize(
    "raised, code, said",
    [
        (KeyboardInterrupt(), 130, "itemlib search: interrupted"),
        (BrokenPipeError(), 141, ""),
        (OSError(28, "No space left on device", "/full/disk/x.npy"), 1,
         "itemlib search: error: No space left on device (/full/disk/x.npy)"),
    ],
)  # fmt: skip
def test_interruptions_closed_pipes_and_system_errors_end_without_a_traceback(capsys, monkeypatch, raised, code, said):
    import itemlib.cli

    def fail(args):
        raise raised

    monkeypatch.setattr(itemlib.cli, "_search", fail)
    exit_code, _, err = run(capsys, "search", "--model", "bm25", "--catalog", "movielens", "toy")
    assert exit_code == code and said in err and "Traceback" not in err


def test_a_corrupt_training_card_and_a_bad_per_task_are_named_before_any_work(tmp_path, capsys, movielens_data):
    model = tmp_path / "model"
    model.mkdir()
    (model / "itemlib_training.json").write_text("{not json")
    code, _, err = run(capsys, "validation-split", "--data", movielens_data, "--catalog", "movielens", "--trained",
                       model, "--out", tmp_path / "v")  # fmt: skip
    assert code == 2 and f"{model / 'itemlib_training.json'}: not a valid training card" in err
    code, _, err = run(capsys, "validation-split", "--data", movielens_data, "--catalog", "movielens", "--trained",
                       model, "--out", tmp_path / "v", "--per-task", "-1")  # fmt: skip
    assert code == 2 and "per_task must be >= 1" in err


def test_the_first_search_says_it_embeds_the_catalog_once_and_quiet_is_quiet(tmp_path, capsys, monkeypatch, movielens):
    from itemlib.datasets import CATALOG_LOADERS

    from .tiny_models import tiny_bert

    model = tiny_bert(tmp_path / "bert")
    capsys.readouterr()  # what saving the tiny model printed
    monkeypatch.setenv("ITEMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(CATALOG_LOADERS, "small", lambda: movielens.subset(40, 0))
    search = ("search", "--model", model, "--catalog", "small", "-k", "1", "toy")
    code, _, err = run(capsys, *search, "--quiet")
    assert code == 0 and "embedding" not in err and "it/s" not in err  # quiet: no warning, no bar
    (tmp_path / "cache").rename(tmp_path / "old")
    code, _, err = run(capsys, *search)
    assert code == 0 and "embedding the 40 items of" in err and "once (cached in" in err
    code, _, err = run(capsys, *search)
    assert code == 0 and "embedding the" not in err  # cached: nothing to say


def test_non_finite_numbers_undecodable_text_and_a_folder_for_a_file_end_in_one_line(tmp_path, capsys):
    """Probes of the hostile-user issue that held without a test of their own: a 400-digit or infinite
    price, a popularity weight of 1e999, bytes that are not UTF-8 in a query, a folder given as a file."""
    table = tmp_path / "prices.csv"
    table.write_text("id,title,price\n1,Toy Story,Infinity\n2,Heat,9" + "9" * 400 + "\n3,Alien,3.5\n")
    code, out, err = run(capsys, "search", "--model", "bm25", "--catalog", table, "-k", "3", "toy")
    assert code == 0 and "Toy Story" in out.splitlines()[0] and "Traceback" not in err
    code, _, err = run(capsys, "search", "--model", "bm25+popularity=1e999", "--catalog", table, "toy")
    assert code == 2 and "must be a finite number" in err
    code, out, err = run(capsys, "search", "--model", "bm25", "--catalog", table, "to\udcffy")  # argv's bad byte
    assert code == 0 and "Traceback" not in err
    (tmp_path / "folder").mkdir()
    code, _, err = run(capsys, "generate", "--catalog", table, "--interactions", tmp_path / "folder",
                       "--out", tmp_path / "out")  # fmt: skip
    assert code == 2 and "a folder, not a file" in err and not (tmp_path / "out").exists()
