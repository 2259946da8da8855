"""Where the project's shared data lies: ``../shared/data/<name>`` seen from the working directory
or from the package, unless an environment variable names the folder."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir(name: str, marker: str, variable: str) -> Path:
    """``$variable``, else the first ``shared/data/<name>`` beside the working directory or the
    package that holds ``marker`` (else the first of them, for the error that names it)."""
    if os.environ.get(variable):
        return Path(os.environ[variable])
    candidates = [
        Path.cwd().parent / "shared" / "data" / name,
        Path(__file__).resolve().parents[3] / "shared" / "data" / name,
    ]
    return next((c for c in candidates if (c / marker).exists()), candidates[0])
