"""Bring-your-own catalog: a CSV or JSONL file of items, optionally with an interactions file.

Field kinds are inferred from the values and can be overridden with ``kinds``:

* a JSON list, or a CSV value holding ``list_separator`` ("|") in at least 10% of rows: list;
* at least 90% of the non-empty values parse as numbers ("$1,299.00" counts): numeric;
* at least 90% parse as ISO dates ("2016-03-01") or years written as a 4-digit date column: date;
* short values (at most 40 characters, 5 words) with at most 200 distinct ones, or distinct
  values in at most half the rows: categorical;
* anything else: free text.

Bad records follow ``on_error``: ``"raise"`` (default) stops with a :class:`CatalogError` naming the
file, the line and the record; ``"skip"`` drops the record (or, for one unparseable value in a
typed column, just that value) and counts it in ``catalog.report``. An empty file, a missing id or
title column, or a malformed JSON line under ``"raise"`` is always an error.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item, LoadReport, dedupe_history

OnError = Literal["raise", "skip"]
_NUMBER = re.compile(r"^[-+]?\$?\s*[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def parse_number(text: str) -> float | None:
    text = text.strip()
    if not text or not _NUMBER.match(text) or not any(c.isdigit() for c in text):
        return None
    return float(text.replace("$", "").replace(",", "").replace(" ", ""))


def parse_iso_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _read_records(path: Path, report: LoadReport, on_error: OnError) -> list[tuple[int, dict[str, object]]]:
    """(line number, raw record) pairs; malformed lines raise or are counted."""
    if not path.exists():
        raise CatalogError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise CatalogError(f"{path}: file is empty")
    records: list[tuple[int, dict[str, object]]] = []
    if path.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                if on_error == "raise":
                    raise CatalogError(f"{path}:{number}: malformed JSON line ({error}): {line[:80]!r}") from None
                report.skip("malformed line", f"{path.name}:{number}")
                continue
            records.append((number, record))
    else:
        reader = csv.reader(text.splitlines())
        header = next(reader)
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                message = f"{path}:{number}: malformed line, {len(row)} fields where the header has {len(header)}"
                if on_error == "raise":
                    raise CatalogError(message)
                report.skip("malformed line", f"{path.name}:{number}")
                continue
            records.append((number, dict(zip(header, row))))
    if not records:
        raise CatalogError(f"{path}: no records")
    return records


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def infer_kind(values: list[object], list_separator: str) -> FieldKind:
    """Guess a field's kind from its non-empty values (rules in the module docstring)."""
    present = [v for v in values if not _is_empty(v)]
    if not present:
        return FieldKind.TEXT
    if any(isinstance(v, list) for v in present):
        return FieldKind.LIST
    texts = [str(v) for v in present]
    if sum(list_separator in t for t in texts) >= 0.1 * len(texts):
        return FieldKind.LIST
    if sum(isinstance(v, (int, float)) or parse_number(t) is not None for v, t in zip(present, texts)) >= 0.9 * len(
        texts
    ):
        return FieldKind.NUMERIC
    if sum(parse_iso_date(t) is not None for t in texts) >= 0.9 * len(texts):
        return FieldKind.DATE
    short = all(len(t) <= 40 and len(t.split()) <= 5 for t in texts)
    distinct = len(set(texts))
    if short and (distinct <= 200 or distinct <= len(texts) // 2):
        return FieldKind.CATEGORICAL
    return FieldKind.TEXT


def _convert(value: object, kind: FieldKind, list_separator: str) -> object:
    """Typed value, or raise ValueError saying what is wrong with it."""
    if kind is FieldKind.LIST:
        parts = value if isinstance(value, list) else str(value).split(list_separator)
        return list(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
    if kind is FieldKind.NUMERIC:
        number = (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else parse_number(str(value))
        )
        if number is None or number != number:
            raise ValueError(f"unparseable number {value!r}")
        return number
    if kind is FieldKind.DATE:
        date = parse_iso_date(str(value))
        if date is None:
            raise ValueError(f"unparseable date {value!r}")
        return date
    return " ".join(str(value).split())


def load_table(
    path: str | Path,
    *,
    id_column: str = "id",
    title_column: str = "title",
    kinds: Mapping[str, FieldKind | str] | None = None,
    interactions: str | Path | None = None,
    noun: str = "item",
    verb: str = "try",
    name: str | None = None,
    list_separator: str = "|",
    on_error: OnError = "raise",
    min_history: int = 3,
) -> Catalog:
    """Load a CSV/JSONL catalog; see the module docstring for inference and error handling.

    ``interactions`` is a CSV/JSONL with ``user`` and ``item`` columns and an optional
    ``timestamp`` (number or ISO date); without one, file order is the time order.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    path = Path(path)
    report = LoadReport(source=str(path))
    records = _read_records(path, report, on_error)
    columns = list(dict.fromkeys(key for _, record in records for key in record))
    for required in (id_column, title_column):
        if required not in columns:
            raise CatalogError(f"{path}: no {required!r} column (columns: {columns})")
    overrides = {k: FieldKind(v) for k, v in (kinds or {}).items()}
    unknown = set(overrides) - set(columns)
    if unknown:
        raise CatalogError(f"{path}: kinds given for unknown columns {sorted(unknown)}")
    schema = [
        Field(column, overrides.get(column) or infer_kind([r.get(column) for _, r in records], list_separator))
        for column in columns
        if column not in (id_column, title_column)
    ]

    def fail(reason: str, where: str, detail: str) -> None:
        if on_error == "raise":
            raise CatalogError(f"{where}: {detail}")
        report.skip(reason, where)

    items: list[Item] = []
    seen: set[str] = set()
    for number, record in records:
        where = f"{path}:{number}"
        item_id = "" if _is_empty(record.get(id_column)) else str(record[id_column]).strip()
        title = "" if _is_empty(record.get(title_column)) else " ".join(str(record[title_column]).split())
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
        for spec in schema:
            value = record.get(spec.name)
            if _is_empty(value):
                continue
            try:
                converted = _convert(value, spec.kind, list_separator)
            except ValueError as error:
                if on_error == "raise":
                    raise CatalogError(f"{where}: record {item_id!r}, column {spec.name!r}: {error}") from None
                report.skip(f"{spec.kind.value} value dropped from {spec.name!r}", f"{where} {value!r}")
                continue
            if converted not in ([], ""):
                fields[spec.name] = converted
        seen.add(item_id)
        items.append(Item(item_id, title, fields))
    if not items:
        raise CatalogError(f"{path}: no usable records")
    histories = _read_histories(Path(interactions), seen, report, on_error, min_history) if interactions else {}
    return Catalog(name or path.stem, items, schema, noun=noun, verb=verb, histories=histories, report=report)


def _read_histories(
    path: Path, known: set[str], report: LoadReport, on_error: OnError, min_history: int
) -> dict[str, list[str]]:
    events: dict[str, list[tuple[float, int, str]]] = {}
    for order, (number, record) in enumerate(_read_records(path, report, on_error)):
        user, item = str(record.get("user", "")).strip(), str(record.get("item", "")).strip()
        where = f"{path}:{number}"
        if not user or not item:
            if on_error == "raise":
                raise CatalogError(f"{where}: interaction needs 'user' and 'item' columns")
            report.skip("interaction without user or item", where)
            continue
        if item not in known:
            if on_error == "raise":
                raise CatalogError(f"{where}: interaction names unknown item {item!r}")
            report.skip("interaction with unknown item", where)
            continue
        stamp = record.get("timestamp")
        moment = 0.0
        if not _is_empty(stamp):
            number_value = parse_number(str(stamp))
            date_value = parse_iso_date(str(stamp))
            if number_value is None and date_value is None:
                if on_error == "raise":
                    raise CatalogError(f"{where}: unparseable timestamp {stamp!r}")
                report.skip("interaction with unparseable timestamp", where)
                continue
            moment = number_value if number_value is not None else float(date_value.toordinal())  # type: ignore[union-attr]
        events.setdefault(user, []).append((moment, order, item))
    histories = {}
    for user in sorted(events):
        ordered = dedupe_history(item for _, _, item in sorted(events[user]))
        if len(ordered) >= min_history:
            histories[user] = ordered
        else:
            report.skip(f"user with fewer than {min_history} items", f"user={user}")
    return histories
