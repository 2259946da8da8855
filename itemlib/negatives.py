"""Verified negatives: items the example's relevance predicate rejects.

In-batch negatives risk pushing away items that are in fact relevant (a second comedy for "a
comedy"); the paper instead gives each example K sampled negatives verified by the task's
predicate. For attribute queries part of them are *hard*: items meeting some but not all of the
constraints, which teach the model that every constraint matters, and near misses (just on the
wrong side of a threshold, or a similar title for a misspelled name), which teach it that the
boundary and the exact name matter (see :func:`itemlib.relevance.near_miss_mask`).
"""

from __future__ import annotations

import random
from itertools import zip_longest

import numpy as np

from itemlib.catalog import Catalog
from itemlib.relevance import Spec, hard_negative_pool, relevant_mask


def sample_negatives(
    catalog: Catalog,
    spec: Spec,
    positives: list[str],
    count: int,
    rng: random.Random,
    hard_fraction: float = 0.5,
) -> list[str]:
    """Up to ``count`` distinct item ids, none relevant to ``spec`` nor a positive.

    Fewer are returned only when the catalog has fewer irrelevant items. Hard and easy negatives
    alternate, hard first, because training uses the first K stored ones: every prefix keeps about
    ``hard_fraction`` of hard negatives, so training with fewer negatives than were generated
    changes how many the model sees, not how hard they are.
    """
    if count <= 0:
        return []
    excluded = relevant_mask(catalog, spec)
    excluded[[catalog.index[i] for i in positives]] = True
    hard = np.flatnonzero(hard_negative_pool(catalog, spec) & ~excluded)
    take = min(len(hard), int(round(count * hard_fraction)))
    hard_chosen = [int(hard[j]) for j in rng.sample(range(len(hard)), take)]
    excluded[hard_chosen] = True
    easy = np.flatnonzero(~excluded)
    easy_chosen = [int(easy[j]) for j in rng.sample(range(len(easy)), min(len(easy), count - take))]
    alternating = [p for pair in zip_longest(hard_chosen, easy_chosen) for p in pair if p is not None]
    return [catalog.items[p].id for p in alternating]
