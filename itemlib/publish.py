"""Output folders that are complete or absent: every itemlib writer builds its folder in a scratch
sibling and moves it into place only when it is whole, with a completion record written last;
every reader refuses a folder without that record and says what to re-run.

Completion records: ``stats.json`` (``itemlib generate`` and ``itemlib validation-split``),
``itemlib_training.json`` (``itemlib train``), ``metrics.json`` (``itemlib evaluate``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from itemlib.catalog import CatalogError


def check_output_dir(out: str | Path, record: str | None = None) -> Path:
    """``out`` as a folder itemlib may write, checked before any work: an error naming it when it is
    a file or cannot be written, and (with ``record``) when it holds files but no ``record``, so it
    is not an earlier output of the same command that may be replaced."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CatalogError(f"--out {out} is a file, not a folder")
    if (
        record
        and out.is_dir()
        and not (out / record).exists()
        and any(not e.name.startswith(".") for e in out.iterdir())
    ):
        raise CatalogError(f"--out {out} holds other files and no {record}: remove them or choose a new folder")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CatalogError(f"--out {out}: cannot create {parent} ({error.strerror})") from None
    if not os.access(parent, os.W_OK) or (out.is_dir() and not os.access(out, os.W_OK)):
        raise CatalogError(f"--out {out}: cannot write there (read-only or no permission)")
    return out


@contextlib.contextmanager
def published_dir(out: str | Path, record: str) -> Iterator[Path]:
    """Yield an empty scratch folder beside ``out``; when the block ends without error and the
    scratch holds ``record``, it replaces ``out`` (a folder) in one rename. On error the scratch is
    removed and ``out`` is left as it was."""
    out = check_output_dir(out, record)
    try:
        scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.resolve().parent))
    except OSError as error:
        raise CatalogError(f"--out {out}: cannot write there ({error.strerror})") from None
    try:
        yield scratch
        if not (scratch / record).exists():
            raise RuntimeError(f"internal error: {scratch} was finished without {record}")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(scratch, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def require_complete(folder: str | Path, record: str, remedy: str) -> dict:
    """The completion record of ``folder`` (parsed JSON); an error saying what to re-run without it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CatalogError(f"{folder}: no such folder ({remedy})")
    path = folder / record
    if not path.exists():
        raise CatalogError(f"{folder} is incomplete (no {record}: an interrupted or failed run?): {remedy}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise CatalogError(f"{path}: unreadable completion record: {remedy}") from None
