"""Bring-your-own catalog: a CSV or JSONL file of items, optionally with an interactions file.

Reading. A CSV file is read with the csv module over the whole file, so a quoted value may hold a
newline (it becomes a space); a row with another number of fields than the header is an error
naming its line, and so is a quote opened on one line that runs into the next row (a cell whose
continuation holds the delimiter). Duplicate column names are an error. The file must be UTF-8
(a BOM is fine); another encoding is an error naming the line of the first undecodable byte. In
JSONL, a nested object is flattened into ``parent.child`` columns; a list holding objects or
lists is refused.

Field kinds are inferred from the values and can be overridden with ``kinds``:

* a JSON list (in JSONL, or a CSV cell such as ``["Action", "Strategy"]``) in at least 90% of the
  values: list;
* a CSV column whose values hold a list separator in at least 10% of rows: list. The separator is
  ``list_separator`` when given, else the first of ``|``, ``;`` and ``,`` whose parts are short
  (at most 40 characters, 5 words); for ``,`` the parts must also repeat (at most half as many
  distinct parts as parts), so prose with commas stays text;
* at least 90% of the non-empty values parse as numbers ("$1,299.00" counts): numeric, except a
  column named like a year or date ("year", "released") whose values are whole numbers from 1800
  to 2100: date, known to the year;
* at least 90% parse as ISO dates ("2016-03-01"): date;
* short values (at most 40 characters, 5 words) with at most 200 distinct ones, or distinct
  values in at most half the rows: categorical;
* anything else: free text.

Field roles: a field is *descriptive* (a query may name it: genre, maker, platform, price, date,
rating) or a *statistic* nobody types in a request (review counts, owner ranges, playtime
aggregates, 0/1 flags). A field is a statistic when a word of its name is one of
:data:`STATISTIC_WORDS`, or when it is numeric with only the values 0 and 1; ``roles`` overrides.
Statistics stay in item texts and relevance predicates; generated queries never name them.

A numeric column named like a price or cost is written with "$" and must not be negative.

Bad records follow ``on_error``: ``"raise"`` (default) stops with a :class:`CatalogError` naming the
file, the line and the record; ``"skip"`` drops the record (or, for one unparseable value in a
typed column, just that value) and counts it in ``catalog.report``. An empty file, a missing id or
title column, duplicate column names or an undecodable file are always errors.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item, LoadReport, dedupe_history
from itemlib.config import Config, option
from itemlib.jsonl import jsonl_lines, strict_loads

OnError = Literal["raise", "skip"]
ROLES = ("descriptive", "statistic")
_NUMBER = re.compile(r"^[-+]?\$?\s*[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
#: Words of a column name that mark a statistic (split on non-letters and camel case).
STATISTIC_WORDS = frozenset(
    "count counts num number total owners playtime median average avg mean ratings reviews votes achievements "
    "downloads sales views followers players ccu rank ranking id ids".split()
)
_YEAR_WORDS = frozenset({"year", "years", "date", "released", "release"})
_PRICE_WORDS = frozenset({"price", "cost", "fee"})
_LIST_SEPARATORS = ("|", ";", ",")


@dataclass
class TableConfig(Config):
    """How a CSV/JSONL catalog is read; every field is also an option of the command line."""

    interactions: str | None = option(
        None, help="CSV/JSONL of user-item events (needed for UH2I, I2I, US2I and UQ2I)", metavar="FILE"
    )
    user_column: str = option("user", help="user column of the interactions file")
    item_column: str = option("item", help="item column of the interactions file")
    timestamp_column: str = option("timestamp", help="time column of the interactions file (a number, or an "
                                   "ISO date or date-time, its zone honoured; without it, file order)")  # fmt: skip
    id_column: str = option("id", help="item id column")
    title_column: str = option("title", help="item title column")
    list_separator: str | None = option(None, help="separator of list values in a CSV cell (default: detected)")
    kinds: dict[str, str] | None = option(
        None, metavar="COLUMN=KIND", help="field kinds overriding inference: list, categorical, numeric, date, text"
    )
    roles: dict[str, str] | None = option(
        None, metavar="COLUMN=ROLE", help="descriptive (queries may name it) or statistic (never named in a query)"
    )
    noun: str = option("item", help="what an item is called in queries (game, movie, ...)")
    verb: str = option("try", help="what users do with items (play, watch, ...)")
    name: str | None = option(None, flag="--catalog-name", help="the catalog's name (default: the file name)")
    on_error: str = option("raise", choices=("raise", "skip"), help="stop at a bad record, or skip and count it")
    min_history: int = option(3, minimum=1, help="fewest items a user history needs to be kept")

    def check(self) -> None:
        kinds = {kind.value for kind in FieldKind}
        for column, kind in (self.kinds or {}).items():
            if str(kind) not in kinds:
                raise ValueError(f"kind of column {column!r} must be one of {', '.join(sorted(kinds))}, got {kind!r}")
        for column, role in (self.roles or {}).items():
            if role not in ROLES:
                raise ValueError(f"role of column {column!r} must be one of {', '.join(ROLES)}, got {role!r}")
        if self.list_separator == "":
            raise ValueError("list_separator must not be empty")


def parse_number(text: str) -> float | None:
    text = text.strip()
    if not text or not _NUMBER.match(text) or not any(c.isdigit() for c in text):
        return None
    value = float(text.replace("$", "").replace(",", "").replace(" ", ""))
    return value if math.isfinite(value) else None  # a 400-digit number is no price


def parse_iso_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def parse_iso_moment(text: str) -> float | None:
    """Seconds since the epoch of an ISO date or date-time ("2020-01-01", "2020-01-01T23:00",
    "2020-01-01 23:00:00+02:00", "...Z"); a time without a zone is read as UTC, a date as its midnight.
    Interactions are ordered by it, so events of one day keep their time-of-day order."""
    text = text.strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        date = parse_iso_date(text) if len(text) == 10 else None
        if date is None:
            return None
        moment = dt.datetime(date.year, date.month, date.day)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def name_words(name: str) -> set[str]:
    """``"positive_ratings"`` -> {"positive", "ratings"}; ``"medianPlaytime"`` -> {"median", "playtime"}."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return {word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word}


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CatalogError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8"
        ) from None


def _flatten(record: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested objects become ``parent.child`` columns; a list of objects or lists is refused."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        column = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{column}."))
        elif isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
            raise ValueError(f"column {column!r} holds a list of objects or lists, which a field cannot be")
        else:
            flat[column] = value
    return flat


def reject(report: LoadReport, on_error: str, reason: str, record: str, message: str) -> None:
    """A bad record under ``on_error``: ``"raise"`` stops with ``message`` (naming file, line and
    record), ``"skip"`` counts it under ``reason`` in the load report (``record`` says which)."""
    if on_error == "raise":
        raise CatalogError(message) from None  # the message says it all; no parser traceback behind it
    report.skip(reason, record)


def _read_jsonl(path: Path, text: str, report: LoadReport, on_error: str) -> list[tuple[int, dict[str, object]]]:
    records = []
    for number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = strict_loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            records.append((number, _flatten(record)))
        except ValueError as error:
            message = f"{path}:{number}: malformed JSON line ({error}): {line[:80]!r}"
            reject(report, on_error, "malformed line", f"{path.name}:{number}", message)
    return records


def _read_csv(path: Path, text: str, report: LoadReport, on_error: str) -> list[tuple[int, dict[str, object]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        return []
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise CatalogError(f"{path}:1: duplicate column names {repeated}")
    records = []
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise CatalogError(f"{path}:{start}: unreadable CSV ({error})") from None
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        problem = None
        if len(row) != len(header):
            problem = f"malformed line, {len(row)} fields where the header has {len(header)}"
        elif end > start and any(_runaway(cell, column, len(header)) for column, cell in enumerate(row)):
            problem = f"a quote opened on line {start} runs into line {end}, merging rows (check the quoting)"
        if problem:
            reject(report, on_error, "malformed line", f"{path.name}:{start}", f"{path}:{start}: {problem}")
            continue
        records.append((start, dict(zip(header, row))))
    return records


def _runaway(cell: str, column: int, width: int) -> bool:
    """Whether a multi-line ``cell`` (in ``column`` of ``width``) is a quote that ran into the next row
    rather than a quoted text with line breaks: its first line holds the rest of its own row (the
    other columns' values after commas) and its last line the start of the next row (a value per
    column up to this one), as ``1,"Toy Story,1995`` / ``2,Jumanji",1995`` do."""
    if "\n" not in cell:
        return False
    first, last = cell.split("\n", 1)[0], cell.rsplit("\n", 1)[1]
    return width - column > 1 and first.count(",") == width - column - 1 and last.count(",") == column


def _read_records(path: Path, report: LoadReport, on_error: str) -> list[tuple[int, dict[str, object]]]:
    """(line number, raw record) pairs; malformed lines raise or are counted."""
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    if not path.is_file():
        raise CatalogError(f"{path}: a folder, not a file")
    text = _decode(path)
    if not text.strip():
        raise CatalogError(f"{path}: file is empty")
    jsonl = path.suffix.lower() in {".jsonl", ".json", ".ndjson"}
    if jsonl and text.lstrip().startswith("["):
        raise CatalogError(f"{path}: a JSON array; itemlib reads JSON Lines, one object per line "
                           "(convert it with: jq -c '.[]' FILE > FILE.jsonl)")  # fmt: skip
    records = (_read_jsonl if jsonl else _read_csv)(path, text, report, on_error)
    if not records:
        raise CatalogError(f"{path}: no records")
    return records


def _id_text(value: object) -> str:
    """An id as the file spells it: ``0`` and ``False`` are ids, only a missing or blank value is none."""
    return "" if _is_empty(value) else str(value).strip()


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _json_list(value: object) -> list | None:
    """A CSV cell written as a JSON list of scalars (``["Action", "Strategy"]``), parsed; else None."""
    if not isinstance(value, str) or not value.strip().startswith("[") or not value.strip().endswith("]"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) and not any(isinstance(v, (dict, list)) for v in parsed) else None


def _short(text: str) -> bool:
    return len(text) <= 40 and len(text.split()) <= 5


def detect_separator(texts: list[str], given: str | None) -> str | None:
    """The list separator of a CSV column (rules in the module docstring), or None."""
    for separator in [given] if given else _LIST_SEPARATORS:
        holding = [t for t in texts if separator in t and (separator != "," or parse_number(t) is None)]
        if len(holding) < 0.1 * len(texts):
            continue
        parts = [p.strip() for t in holding for p in t.split(separator) if p.strip()]
        if not parts or not all(_short(p) for p in parts):
            continue
        if separator == "," and len(set(parts)) > len(parts) / 2:
            continue
        return separator
    return None


@dataclass(frozen=True)
class Column:
    """How one column's values are read: its field, and the list separator of its CSV cells."""

    field: Field
    separator: str | None = None


def infer_column(name: str, values: list[object], config: TableConfig) -> Column:
    """Kind, role, unit and list separator of a column (rules in the module docstring)."""
    present = [v for v in values if not _is_empty(v)]
    texts = [str(v) for v in present]
    detected = detect_separator(texts, config.list_separator)
    kind = FieldKind((config.kinds or {}).get(name) or _infer_kind(name, present, texts, detected))
    separator = (detected or config.list_separator or "|") if kind is FieldKind.LIST else None
    words = name_words(name)
    numbers = [parse_number(t) for t in texts] if kind is FieldKind.NUMERIC else []
    flag = bool(numbers) and all(n in (0.0, 1.0) for n in numbers)
    role = (config.roles or {}).get(name) or ("statistic" if words & STATISTIC_WORDS or flag else "descriptive")
    year_only = kind is FieldKind.DATE and bool(texts) and all(t.strip().isdigit() for t in texts)
    price = kind is FieldKind.NUMERIC and (bool(words & _PRICE_WORDS) or any("$" in t for t in texts))
    field = Field(name, kind, unit="$" if price else None, unit_before=price, year_only=year_only,
                  askable=role == "descriptive")  # fmt: skip
    return Column(field, separator)


def _infer_kind(name: str, present: list[object], texts: list[str], separator: str | None) -> FieldKind:
    if not present:
        return FieldKind.TEXT
    if sum(isinstance(v, list) or _json_list(v) is not None for v in present) >= 0.9 * len(present):
        return FieldKind.LIST
    if separator:  # detect_separator found one
        return FieldKind.LIST
    numbers = [
        float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else parse_number(t)
        for v, t in zip(present, texts)
    ]
    if sum(n is not None for n in numbers) >= 0.9 * len(texts):
        years = [n for n in numbers if n is not None]
        if name_words(name) & _YEAR_WORDS and all(n.is_integer() and 1800 <= n <= 2100 for n in years):
            return FieldKind.DATE
        return FieldKind.NUMERIC
    if sum(parse_iso_date(t) is not None for t in texts) >= 0.9 * len(texts):
        return FieldKind.DATE
    distinct = len(set(texts))
    if all(_short(t) for t in texts) and (distinct <= 200 or distinct <= len(texts) // 2):
        return FieldKind.CATEGORICAL
    return FieldKind.TEXT


def _convert(value: object, column: Column) -> object:
    """Typed value, or raise ValueError saying what is wrong with it."""
    spec = column.field
    if spec.kind is FieldKind.LIST:
        parts = value if isinstance(value, list) else _json_list(value)
        if parts is None:
            parts = str(value).split(column.separator) if column.separator else [value]
        return list(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
    if spec.kind is FieldKind.NUMERIC:
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        number = float(value) if numeric else parse_number(str(value))  # type: ignore[arg-type]
        if number is None or number != number:
            raise ValueError(f"unparseable number {value!r}")
        if spec.unit == "$" and number < 0:
            raise ValueError(f"negative {spec.display} {value!r}")
        return number
    if spec.kind is FieldKind.DATE:
        text = str(value).strip()
        if text.isdigit() and len(text) == 4:
            return dt.date(int(text), 1, 1)
        date = parse_iso_date(text)
        if date is None:
            raise ValueError(f"unparseable date {value!r}")
        return date
    if isinstance(value, (list, dict)):
        raise ValueError(f"a {spec.kind.value} field cannot hold {type(value).__name__} {value!r}")
    return " ".join(str(value).split())


def load_table(path: str | Path, config: TableConfig | None = None, **settings: object) -> Catalog:
    """Load a CSV/JSONL catalog; see the module docstring for reading, inference and errors.

    ``settings`` override fields of ``config`` (``load_table(path, interactions="events.csv")``);
    ``kinds`` may give :class:`FieldKind` members. The interactions file has a user, an item and an
    optional timestamp column (a number or an ISO date, not both kinds); without timestamps, file
    order is the time order.
    """
    if isinstance(settings.get("kinds"), Mapping):
        settings["kinds"] = {k: FieldKind(v).value for k, v in settings["kinds"].items()}  # type: ignore[union-attr]
    if settings.get("interactions") is not None:
        settings["interactions"] = str(settings["interactions"])
    config = replace(config or TableConfig(), **settings)  # type: ignore[arg-type]
    path = Path(path)
    report = LoadReport(source=str(path))
    records = _read_records(path, report, config.on_error)
    columns = list(dict.fromkeys(key for _, record in records for key in record))
    for required in (config.id_column, config.title_column):
        if required not in columns:
            separators = (("\t", "tabs"), (";", "semicolons"))
            other = next((name for sep, name in separators if any(sep in c for c in columns)), None)
            hint = f"; its header looks separated by {other}: itemlib reads comma-separated CSV" if other else ""
            raise CatalogError(f"{path}: no {required!r} column (columns: {columns}); name yours with "
                               f"--id-column / --title-column{hint}")  # fmt: skip
    unknown = sorted((set(config.kinds or {}) | set(config.roles or {})) - set(columns))
    if unknown:
        raise CatalogError(f"{path}: kinds or roles given for unknown columns {unknown}")
    table = [
        infer_column(column, [r.get(column) for _, r in records], config)
        for column in columns
        if column not in (config.id_column, config.title_column)
    ]

    def fail(reason: str, where: str, detail: str) -> None:
        reject(report, config.on_error, reason, where, f"{where}: {detail}")

    items: list[Item] = []
    seen: set[str] = set()
    for number, record in records:
        where = f"{path}:{number}"
        raw_id, raw_title = record.get(config.id_column), record.get(config.title_column)
        item_id = _id_text(raw_id)
        title = "" if _is_empty(raw_title) else " ".join(str(raw_title).split())
        if not item_id:
            fail("record without id", where, "record has no id")
            continue
        if not title:
            fail("record without title", where, f"record {item_id!r} has no title")
            continue
        if item_id in seen:
            fail("duplicate id", where, f"duplicate id {item_id!r}")
            continue
        fields: dict[str, object] = {}
        for column in table:
            value = record.get(column.field.name)
            if _is_empty(value):
                continue
            try:
                converted = _convert(value, column)
            except ValueError as error:
                reason = f"{column.field.kind.value} value dropped from {column.field.name!r}"
                message = f"{where}: record {item_id!r}, column {column.field.name!r}: {error}"
                reject(report, config.on_error, reason, f"{where} {value!r}", message)
                continue
            if converted not in ([], ""):
                fields[column.field.name] = converted
        seen.add(item_id)
        items.append(Item(item_id, title, fields))
    if not items:
        raise CatalogError(f"{path}: no usable records")
    histories = _read_histories(Path(config.interactions), seen, report, config) if config.interactions else {}
    schema = [column.field for column in table]
    return Catalog(config.name or path.stem, items, schema, noun=config.noun, verb=config.verb, histories=histories,
                   report=report)  # fmt: skip


def _read_histories(path: Path, known: set[str], report: LoadReport, config: TableConfig) -> dict[str, list[str]]:
    events: dict[str, list[tuple[float, int, str]]] = {}
    first_stamp: tuple[str, int] | None = None  # ("number" or "date", line): one ordering never mixes the two

    def fail(reason: str, where: str, detail: str) -> None:
        reject(report, config.on_error, reason, where, f"{where}: {detail}")

    for order, (number, record) in enumerate(_read_records(path, report, config.on_error)):
        user, item = (_id_text(record.get(column)) for column in (config.user_column, config.item_column))
        where = f"{path}:{number}"
        if not user or not item:
            fail("interaction without user or item", where,
                 f"interaction needs {config.user_column!r} and {config.item_column!r} values")  # fmt: skip
            continue
        if item not in known:
            fail("interaction with unknown item", where, f"interaction names unknown item {item!r}")
            continue
        stamp = record.get(config.timestamp_column)
        moment = 0.0
        if not _is_empty(stamp):
            number_value = parse_number(str(stamp))
            date_value = parse_iso_moment(str(stamp))
            if number_value is None and date_value is None:
                fail("interaction with unparseable timestamp", where, f"unparseable timestamp {stamp!r}")
                continue
            kind = "number" if number_value is not None else "date"
            first_stamp = first_stamp or (kind, number)
            if kind != first_stamp[0]:
                fail("interaction whose timestamp kind differs from the first's", where,
                     f"timestamp {stamp!r} is a {kind}, but line {first_stamp[1]} has a {first_stamp[0]}: "
                     "one ordering cannot mix them")  # fmt: skip
                continue
            moment = number_value if number_value is not None else date_value
        events.setdefault(user, []).append((moment, order, item))
    histories = {}
    for user in sorted(events):
        ordered = dedupe_history(item for _, _, item in sorted(events[user]))
        if len(ordered) >= config.min_history:
            histories[user] = ordered
        else:
            report.skip(f"user with fewer than {config.min_history} items", f"user={user}")
    return histories
