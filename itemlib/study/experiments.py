"""What the study's experiments (``experiments/*.py``) share: the criterion each fixes in its
docstring before any score is seen, the published pass's models and validation splits they read,
and the record they write beside themselves (``experiments/NAME.json``), so that the method page's
figures can be traced to a file and the commit that made it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from itemlib.catalog import Catalog
from itemlib.provenance import git_commit
from itemlib.study.profiles import PROFILES, study_catalog

#: How an experiment's docstring opens its criterion: the paragraph that starts with it is recorded.
CRITERION_OPENING = "The criterion, fixed"
CATALOGS = ("movielens", "steam")


def new_record(doc: str) -> dict:
    """The record an experiment starts from: the commit it runs on and the criterion its docstring
    fixed (the paragraph opening with :data:`CRITERION_OPENING`), per-catalog results to come."""
    if CRITERION_OPENING not in doc:
        raise ValueError(f"an experiment states its criterion in its docstring, in a paragraph opening "
                         f"{CRITERION_OPENING!r}")  # fmt: skip
    return {"commit": git_commit(), "criterion": doc.split(CRITERION_OPENING)[1].split("\n\n")[0], "catalogs": {}}


def pass_catalogs(models: str | Path, names: Sequence[str] = ()) -> Iterator[tuple[str, Catalog, Path, Path]]:
    """Per catalog (``names``, default both), its study catalog as the cpu profile builds it, and the
    pass's tuned model and validation split in ``models`` (``NAME`` and ``NAME-validation``)."""
    profile = PROFILES["cpu"]
    for name in names or CATALOGS:
        catalog = study_catalog(name, profile.max_items, profile.seed)
        yield name, catalog, Path(models) / name, Path(models) / f"{name}-validation"


def write_record(script: str | Path, record: dict) -> Path:
    """Write ``record`` beside the experiment ``script`` (``NAME.py`` -> ``NAME.json``)."""
    out = Path(script).with_suffix(".json")
    out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return out


#: The key under which an experiment records, per catalog, whether its criterion was met there.
MEETS = "meets criterion on this catalog"


def conclude(script: str | Path, record: dict) -> dict:
    """Record whether the change is adopted (every catalog of :data:`CATALOGS` done and meeting the
    criterion there: :data:`MEETS`) and write the record beside ``script``; returns it."""
    done = [name for name in CATALOGS if name in record["catalogs"]]
    record["adopted"] = len(done) == len(CATALOGS) and all(record["catalogs"][name][MEETS] for name in done)
    write_record(script, record)
    return record
