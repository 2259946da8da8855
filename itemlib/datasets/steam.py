"""Steam, the paper's domain: McAuley's ``steam_games.json.gz`` metadata plus user histories.

Accepted files in the directory (the shared copies and McAuley's originals):

* ``steam_games.json.gz`` (required): one Python dict literal per line, parsed with
  ``ast.literal_eval`` (never ``eval``).
* time-ordered histories from ``user_reviews.csv.gz`` (one row per review, ISO ``posted``) or the
  original ``australian_user_reviews.json.gz`` (one dict per user, "Posted November 5, 2011.");
* optional unordered libraries from ``users_items_subset.parquet`` or the original
  ``australian_users_items.json.gz``: co-occurrence evidence only (they carry no time order).

Known quirks are skipped and counted in ``catalog.report`` rather than failing: records without
an id or name, a repeated id (first kept), prices such as "Free to Play" (read as 0) or "Install
Now" (dropped), free-text release dates ("Coming Soon"), reviews without a year or of unknown games.
"""

from __future__ import annotations

import ast
import datetime as dt
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item, LoadReport, dedupe_history
from itemlib.datasets.shared import shared_dir

SCHEMA = [
    Field("genres", FieldKind.LIST),
    Field("tags", FieldKind.LIST),
    Field("specs", FieldKind.LIST, label="features"),
    Field("developer", FieldKind.CATEGORICAL),
    Field("publisher", FieldKind.CATEGORICAL),
    Field("price", FieldKind.NUMERIC, unit="$", unit_before=True),
    Field("release_date", FieldKind.DATE, label="release date"),
    Field("sentiment", FieldKind.CATEGORICAL, label="user reviews"),
    Field("metascore", FieldKind.NUMERIC),
]

DOWNLOAD_HINT = (
    "Download the public originals from https://cseweb.ucsd.edu/~jmcauley/datasets.html#steam_data "
    "(steam_games.json.gz and australian_user_reviews.json.gz, optionally australian_users_items.json.gz) "
    "into one directory and pass it, or set ITEMLIB_STEAM_DIR."
)


def default_steam_dir() -> Path:
    """``$ITEMLIB_STEAM_DIR``, else the project's ``../shared/data/steam`` seen from cwd or package."""
    return shared_dir("steam", "steam_games.json.gz", "ITEMLIB_STEAM_DIR")


def _literal_lines(path: Path, report: LoadReport) -> Iterator[tuple[int, dict]]:
    """Yield (line number, dict) for each Python-literal line; malformed lines are counted."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = ast.literal_eval(line)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    report.skip("malformed line", f"{path.name}:{number}")
                    continue
                if not isinstance(record, dict):
                    report.skip("malformed line", f"{path.name}:{number}")
                    continue
                yield number, record
    except (OSError, EOFError) as error:
        raise CatalogError(f"{path}: cannot be read ({error})") from None


FREE_PRICES = {"free", "free to play", "free to try", "free to use", "play for free!"}


def parse_price(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in FREE_PRICES:
        return 0.0
    return None


def parse_date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_score(value: object) -> float | None:
    """Metascores are numbers; the file writes 'NA' for a missing one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


#: typed fields: parser (None = unparseable, the value is dropped and counted) and its name in reports
TYPED_FIELDS = {
    "price": (parse_price, "price"),
    "release_date": (parse_date, "release date"),
    "metascore": (parse_score, "metascore"),
}


def _string_list(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def read_games(path: Path, report: LoadReport) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for number, record in _literal_lines(path, report):
        where = f"{path.name}:{number}"
        game_id = str(record.get("id") or "").strip()
        title = record.get("app_name") or record.get("title")
        if not game_id:
            report.skip("game without id", where)
            continue
        if not isinstance(title, str) or not title.strip():
            report.skip("game without title", f"{where} id={game_id}")
            continue
        if game_id in seen:
            report.skip("duplicate game id (first kept)", f"{where} id={game_id}")
            continue
        seen.add(game_id)
        fields: dict[str, object] = {}
        for name in ("genres", "tags", "specs"):
            values = list(dict.fromkeys(_string_list(record.get(name))))
            if values:
                fields[name] = values
        for name in ("developer", "publisher", "sentiment"):
            value = record.get(name)
            if isinstance(value, str) and value.strip():
                fields[name] = value.strip()
        for name, (parse, label) in TYPED_FIELDS.items():
            if name not in record:
                continue
            value = parse(record[name])
            if value is None:
                report.skip(f"unparseable {label} (value dropped)", f"{where} {name}={record[name]!r}")
            else:
                fields[name] = value
        items.append(Item(id=game_id, title=" ".join(title.split()), fields=fields))
    if not items:
        raise CatalogError(f"{path}: no usable game records")
    return items


def _read_table(reader, path: Path, **options) -> pd.DataFrame:
    """``reader(path)`` (pandas' CSV or parquet reader); a truncated, corrupt or mis-encoded file is a
    ``CatalogError`` naming it, not a traceback from the decompressor."""
    try:
        return reader(path, **options)
    except (OSError, EOFError, zlib.error, ValueError, pd.errors.ParserError) as error:
        raise CatalogError(f"{path}: cannot be read ({type(error).__name__}: {error}); download it again") from None


def _reviews_from_csv(path: Path, report: LoadReport) -> list[tuple[str, dt.date, str]]:
    frame = _read_table(pd.read_csv, path, dtype=str, keep_default_na=False)
    missing = {"user_id", "item_id", "posted"} - set(frame.columns)
    if missing:
        raise CatalogError(f"{path}: missing columns {sorted(missing)}")
    rows = []
    for number, (user, item, posted) in enumerate(zip(frame.user_id, frame.item_id, frame.posted), start=2):
        date = parse_date(posted)
        if date is None:
            report.skip("review without a full date", f"{path.name}:{number} posted={posted!r}")
            continue
        rows.append((user, date, item))
    return rows


def _reviews_from_original(path: Path, report: LoadReport) -> list[tuple[str, dt.date, str]]:
    rows = []
    for number, record in _literal_lines(path, report):
        user = str(record.get("user_id", ""))
        reviews = record.get("reviews", [])
        for review in reviews if isinstance(reviews, list) else [reviews]:
            if not isinstance(review, dict):
                report.skip("review entry that is not a dict", f"{path.name}:{number} {str(review)[:60]!r}")
                continue
            posted = str(review.get("posted", "")).removeprefix("Posted").strip().rstrip(".")
            try:
                date = dt.datetime.strptime(posted, "%B %d, %Y").date()
            except ValueError:
                report.skip("review without a full date", f"{path.name}:{number} posted={posted!r}")
                continue
            rows.append((user, date, str(review.get("item_id", ""))))
    return rows


def _libraries(directory: Path, report: LoadReport) -> dict[str, list[str]]:
    parquet = directory / "users_items_subset.parquet"
    original = directory / "australian_users_items.json.gz"
    pairs: list[tuple[str, str]] = []
    if parquet.exists():
        frame = _read_table(pd.read_parquet, parquet, columns=["user_id", "item_id"])
        pairs = list(zip(frame.user_id.astype(str), frame.item_id.astype(str)))
    elif original.exists():
        for number, record in _literal_lines(original, report):
            user, entries = str(record.get("user_id", "")), record.get("items", [])
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, dict):
                    report.skip("library entry that is not a dict", f"{original.name}:{number} {str(entry)[:60]!r}")
                    continue
                pairs.append((user, str(entry.get("item_id", ""))))
    libraries: dict[str, list[str]] = {}
    for user, item in pairs:
        libraries.setdefault(user, []).append(item)
    return libraries


#: How the shared ``users_items_subset.parquet`` was cut from McAuley's ``australian_users_items.json.gz``
#: (the shared data's README): users with at most this many games, entries with playtime, the first rows.
SUBSET_MAX_GAMES, SUBSET_ROWS = 30, 50_000


def libraries_subset(original: str | Path, rows: int = SUBSET_ROWS, max_games: int = SUBSET_MAX_GAMES) -> pd.DataFrame:
    """The libraries subset the published Steam runs read, rebuilt from McAuley's original file: one
    row per (user, game) of the users whose ``items_count`` is at most ``max_games``, entries with
    ``playtime_forever`` > 0 only, in file and library order, the first ``rows`` rows; columns
    ``user_id, item_count, item_id, item_name, playtime_forever`` as in the shared parquet file.
    Malformed lines and entries are skipped and counted, as the loader does."""
    path, kept = Path(original), []
    report = LoadReport(str(path))
    for _, record in _literal_lines(path, report):
        count = record.get("items_count")
        if not isinstance(count, int) or count > max_games:
            continue
        for entry in record.get("items") or []:
            if isinstance(entry, dict) and (entry.get("playtime_forever") or 0) > 0:
                kept.append({"user_id": str(record.get("user_id", "")), "item_count": count,
                             "item_id": int(entry["item_id"]), "item_name": str(entry.get("item_name", "")),
                             "playtime_forever": float(entry["playtime_forever"])})  # fmt: skip
        if len(kept) >= rows:
            break
    table = pd.DataFrame(kept[:rows], columns=["user_id", "item_count", "item_id", "item_name", "playtime_forever"])
    return table.astype({"item_count": "int32", "item_id": "int32"})


def load_steam(directory: str | Path | None = None, min_history: int = 3) -> Catalog:
    """Load the Steam catalog from ``directory`` (default: :func:`default_steam_dir`)."""
    directory = Path(directory) if directory is not None else default_steam_dir()
    games = directory / "steam_games.json.gz"
    if not games.exists():
        raise CatalogError(f"no Steam data: {games} does not exist. {DOWNLOAD_HINT}")
    report = LoadReport(source=str(directory))
    items = read_games(games, report)
    known = {item.id for item in items}

    csv_reviews = directory / "user_reviews.csv.gz"
    original_reviews = directory / "australian_user_reviews.json.gz"
    if csv_reviews.exists():
        reviews = _reviews_from_csv(csv_reviews, report)
    elif original_reviews.exists():
        reviews = _reviews_from_original(original_reviews, report)
    else:
        reviews = []
        report.notes["histories"] = "no review file found: catalog has no user histories"
    by_user: dict[str, list[tuple[dt.date, int, str]]] = {}
    for order, (user, date, item) in enumerate(reviews):
        if item not in known:
            report.skip("review of a game not in the metadata", f"user={user} item={item}")
            continue
        by_user.setdefault(user, []).append((date, order, item))
    histories: dict[str, list[str]] = {}
    for user in sorted(by_user):
        ordered = dedupe_history(item for _, _, item in sorted(by_user[user]))
        duplicates = len(by_user[user]) - len(ordered)
        if duplicates:
            report.skipped["repeated review of the same game (first kept)"] += duplicates
        if len(ordered) < min_history:
            report.skipped[f"user with fewer than {min_history} reviewed games"] += 1
            continue
        histories[user] = ordered

    baskets: dict[str, list[str]] = {}
    for user, ids in sorted(_libraries(directory, report).items()):
        kept = dedupe_history(i for i in ids if i in known)
        report.skipped["library entry of a game not in the metadata"] += len(ids) - len(kept)
        if len(kept) >= 2:
            baskets[user] = kept
    report.skipped = +report.skipped  # drop zero counts
    return Catalog(
        "steam", items, SCHEMA, noun="game", verb="play", histories=histories, baskets=baskets, report=report
    )
