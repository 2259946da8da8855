"""environment.yml and pyproject.toml describe the same environment."""

from __future__ import annotations

import re

import pytest
import yaml

from itemlib.provenance import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the package itself runs on 3.10

#: conda-forge names of packages whose PyPI name differs.
CONDA_NAMES = {"torch": "pytorch-cpu"}


def requirement(text: str) -> tuple[str, str]:
    """("numpy", ">=1.24") of "numpy>=1.24"."""
    name, bound = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", text.strip()).groups()  # type: ignore[union-attr]
    return name.lower(), bound.replace(" ", "")


def test_conda_packages_carry_the_bounds_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(requirement(r) for r in project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= dict(requirement(r) for r in extra)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [requirement(d) for d in environment["dependencies"] if isinstance(d, str) and d != "pip"]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[test,study]"]  # the package itself, with everything the study and tests use
    by_conda_name = {CONDA_NAMES.get(name, name): (name, bound) for name, bound in declared.items()}
    for name, bound in conda:
        if name == "python":
            assert bound == project["requires-python"], "environment.yml's python differs from requires-python"
            continue
        assert name in by_conda_name, f"environment.yml lists {name}, which pyproject.toml does not declare"
        assert bound == by_conda_name[name][1], (
            f"{name}: {bound} in environment.yml, {by_conda_name[name][1]} in pyproject"
        )
