"""Catalog loaders: the embedded MovieLens default, Steam, and any CSV/JSONL table."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from itemlib.catalog import Catalog, CatalogError
from itemlib.datasets.movielens import load_movielens
from itemlib.datasets.steam import load_steam
from itemlib.datasets.tabular import load_table

__all__ = [
    "CATALOG_LOADERS",
    "TABLE_SUFFIXES",
    "catalog_source",
    "load_catalog",
    "load_movielens",
    "load_steam",
    "load_table",
]
#: File endings read as a user's own catalog table.
TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson")


#: Catalogs by name: ``NAME`` calls the loader with no argument, ``NAME:DIR`` passes ``DIR`` as its
#: ``directory`` (for a loader that takes one). A new catalog is one loader module in ``datasets/`` and
#: one entry here.
CATALOG_LOADERS: dict[str, Callable[..., Catalog]] = {"movielens": load_movielens, "steam": load_steam}


def catalog_source(spec: str | Path) -> Path | None:
    """The file or folder a catalog spec reads (``steam:DIR`` reads DIR, ``items.csv`` itself), or
    None for a built-in name, which reads its own default location."""
    name, colon, argument = str(spec).partition(":")
    if name in CATALOG_LOADERS:
        return Path(argument) if colon and argument else None
    return Path(spec)


def load_catalog(spec: str | Path, **options: object) -> Catalog:
    """A catalog of :data:`CATALOG_LOADERS` (``"movielens"``, ``"steam"``, ``"steam:DIR"``), a Steam
    directory, or a CSV/JSONL file (``options`` go to :func:`load_table`)."""
    text = str(spec)
    name, colon, argument = text.partition(":")
    if name in CATALOG_LOADERS and (not colon or argument):
        loader = CATALOG_LOADERS[name]
        if not colon:
            return loader()
        if "directory" not in inspect.signature(loader).parameters:
            raise CatalogError(f"catalog {name!r} is built in and reads no directory: use {name!r}, not {text!r}")
        return loader(directory=argument)
    path = Path(text)
    if path.is_dir():
        return load_steam(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return load_table(path, **options)  # type: ignore[arg-type]
    names = ", ".join(repr(name) for name in CATALOG_LOADERS)
    raise CatalogError(
        f"unknown catalog {text!r}: use {names} (NAME:DIR for another data directory), a Steam data directory, "
        "or a .csv/.jsonl file"
    )
