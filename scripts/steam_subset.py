"""Rebuild the Steam libraries subset the published runs read (``users_items_subset.parquet``) from
McAuley's original ``australian_users_items.json.gz``, and compare it with a copy.

The shared data's README says how the subset was cut (users with at most 30 games, entries with
playtime, then the first 50,000 rows); :func:`itemlib.datasets.steam.libraries_subset` does exactly
that. The original file is not on the study's machines (they have no internet), so this script was
tested on a synthetic file in the original format, not on the original itself: run it with
``--compare`` to see whether it rebuilds the shared copy row for row (a parquet file's bytes depend
on the writer's version, so rows are compared, not checksums).

    python scripts/steam_subset.py australian_users_items.json.gz users_items_subset.parquet \
        [--compare ../shared/data/steam/users_items_subset.parquet]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from itemlib.datasets.steam import libraries_subset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", type=Path, help="McAuley's australian_users_items.json.gz")
    parser.add_argument("out", type=Path, help="the parquet file to write")
    parser.add_argument("--compare", type=Path, help="a subset to compare with, row for row")
    args = parser.parse_args(argv)
    subset = libraries_subset(args.original)
    partial = args.out.with_name(args.out.name + ".partial")
    subset.to_parquet(partial, index=False)
    partial.replace(args.out)  # published whole or not at all
    print(f"{args.out}: {len(subset):,} rows, {subset.user_id.nunique():,} users, {subset.item_id.nunique():,} items")
    if args.compare:
        other = pd.read_parquet(args.compare)
        same = len(other) == len(subset) and other.astype(str).reset_index(drop=True).equals(
            subset.astype(str).reset_index(drop=True)
        )
        print(f"same rows as {args.compare}" if same else f"differs from {args.compare} ({len(other):,} rows there)")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
