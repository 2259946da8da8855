"""Catalog loaders: the embedded MovieLens default, Steam, and any CSV/JSONL table."""

from __future__ import annotations

from pathlib import Path

from itemlib.catalog import Catalog, CatalogError
from itemlib.datasets.movielens import load_movielens
from itemlib.datasets.steam import load_steam
from itemlib.datasets.tabular import load_table

__all__ = ["TABLE_SUFFIXES", "load_catalog", "load_movielens", "load_steam", "load_table"]
#: File endings read as a user's own catalog table.
TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson")


def load_catalog(spec: str | Path, **options: object) -> Catalog:
    """``"movielens"``, ``"steam"`` (default directory), ``"steam:DIR"``, a Steam directory, or a
    CSV/JSONL file (``options`` go to :func:`load_table`)."""
    text = str(spec)
    if text == "movielens":
        return load_movielens()
    if text == "steam":
        return load_steam()
    if text.startswith("steam:"):
        return load_steam(text.removeprefix("steam:"))
    path = Path(text)
    if path.is_dir():
        return load_steam(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return load_table(path, **options)  # type: ignore[arg-type]
    raise CatalogError(
        f"unknown catalog {text!r}: use 'movielens', 'steam', 'steam:DIR', a Steam data directory, "
        "or a .csv/.jsonl file"
    )
