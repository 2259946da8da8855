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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from itemlib.catalog import Catalog, CatalogError

#: The file in every output folder that names the command which wrote it: a writer replaces only a
#: folder it made itself, never a user's folder that happens to share a name.
OWNER_FILE = ".itemlib-output.json"
#: What each writer leaves in its folder, recognised in folders written before :data:`OWNER_FILE`.
KNOWN_OUTPUTS = {
    "generate": {"stats.json", "train", "test"},
    "validation-split": {"stats.json", "test"},
    "evaluate": {"metrics.json", "metrics.csv", "headline.csv", "per_query.csv"},
}
#: Files that mark a training folder of an earlier itemlib (a model folder also holds the encoder's own files).
TRAIN_MARKERS = ("itemlib_training.json", "checkpoints/itemlib_run.json")


def replace_file(path: str | Path, write: Callable[[Path], None]) -> None:
    """Make ``path`` whole or leave it as it was: ``write`` fills a scratch file beside it (same folder,
    so the move is a rename), which then replaces ``path``; on any error, an interruption included,
    the scratch file is removed and the error goes on. For single files a reader opens in place (a
    model folder's chosen weights, caches, the book's pages): a folder is published whole by
    :func:`published_dir` instead."""
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    scratch = Path(name)
    try:
        write(scratch)
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def write_text_whole(path: str | Path, text: str) -> None:
    """``path.write_text(text)`` (UTF-8) by :func:`replace_file`: a reader never sees half of it."""
    replace_file(path, lambda scratch: scratch.write_text(text, encoding="utf-8"))


def owner(folder: Path) -> str | None:
    """The command that wrote ``folder`` (from :data:`OWNER_FILE`), or None."""
    try:
        return json.loads((folder / OWNER_FILE).read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None


def claim(folder: Path, command: str) -> None:
    """Mark ``folder`` as written by ``command``."""
    (folder / OWNER_FILE).write_text(json.dumps({"command": command}) + "\n", encoding="utf-8")


def _overlaps(out: Path, path: Path) -> bool:
    out, path = out.resolve(), path.resolve()
    return out == path or out in path.parents or path in out.parents


def check_output_dir(out: str | Path, command: str, inputs: Sequence[str | Path] = ()) -> Path:
    """``out`` as a folder ``command`` may write, checked before any work. Refused, with a message
    naming it: a file; a symbolic link (a writer replaces its folder whole, which would replace the
    link, not write into its target); a folder that holds, or lies inside, one of the command's
    ``inputs``; a non-empty folder another command or a user made (it holds no :data:`OWNER_FILE` of
    ``command``, and not only what ``command`` writes); a place that cannot be written."""
    out = Path(out)
    if out.is_symlink():
        raise CatalogError(f"--out {out} is a symbolic link: give the folder it points to ({out.resolve()})")
    if out.exists() and not out.is_dir():
        raise CatalogError(f"--out {out} is a file, not a folder")
    for path in inputs:  # an input not on disk (a preset's or a catalog's name) is nothing to lose
        if Path(path).exists() and _overlaps(out, Path(path)):
            raise CatalogError(f"--out {out} is, holds or lies inside the input {path}: choose another folder")
    entries = [e.name for e in out.iterdir() if e.name != OWNER_FILE] if out.is_dir() else []
    made_by = owner(out) if entries else None
    if entries and made_by != command:
        earlier_training = command == "train" and any((out / marker).exists() for marker in TRAIN_MARKERS)
        foreign = [] if earlier_training else sorted(set(entries) - KNOWN_OUTPUTS.get(command, set()))
        if made_by or foreign:
            what = (
                f"was written by `itemlib {made_by}`"
                if made_by
                else f"holds files itemlib did not write: {', '.join(foreign[:5])}"
            )
            raise CatalogError(f"--out {out} {what}; `itemlib {command}` replaces only its own output: "
                               "choose a new folder or remove that one")  # fmt: skip
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CatalogError(f"--out {out}: cannot create {parent} ({error.strerror})") from None
    if not os.access(parent, os.W_OK) or (out.is_dir() and not os.access(out, os.W_OK)):
        raise CatalogError(f"--out {out}: cannot write there (read-only or no permission)")
    return out


def _remove_abandoned(out: Path) -> None:
    """Remove the scratch folders of earlier writes of ``out`` whose process is gone (killed runs);
    a scratch of a process still running is left alone."""
    for scratch in out.resolve().parent.glob(f".{out.name}.partial-*"):
        pid = scratch.name.removeprefix(f".{out.name}.partial-").split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True


@contextlib.contextmanager
def published_dir(out: str | Path, record: str, command: str, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield an empty scratch folder beside ``out``; when the block ends without error and the
    scratch holds ``record``, it replaces ``out`` (a folder ``command`` may write:
    :func:`check_output_dir`) in one rename, marked as ``command``'s. On error the scratch is
    removed and ``out`` is left as it was."""
    out = check_output_dir(out, command, inputs)
    try:
        _remove_abandoned(out)
        scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.resolve().parent))
    except OSError as error:
        raise CatalogError(f"--out {out}: cannot write there ({error.strerror})") from None
    try:
        yield scratch
        if not (scratch / record).exists():
            raise RuntimeError(f"internal error: {scratch} was finished without {record}")
        claim(scratch, command)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(scratch, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def require_catalog(folder: str | Path, stats: dict, catalog: Catalog) -> None:
    """An error when the data in ``folder`` (its ``stats``) was generated from another catalog than
    ``catalog``; data of an earlier version, without a fingerprint, passes."""
    made_from = stats.get("catalog_fingerprint") if isinstance(stats, dict) else None
    if made_from and made_from != catalog.fingerprint:
        raise CatalogError(
            f"{folder} was generated from catalog {stats.get('catalog')!r} ({made_from}), not from "
            f"{catalog.name!r} as loaded here ({catalog.fingerprint}): wrong --catalog, or its files changed since"
        )


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
