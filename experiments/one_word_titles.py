"""Should a request's one-word titles count as named items? (#29) Chosen on validation data only.

:class:`itemlib.querykind.TitleMatcher` never counts a one-word title ("Heat" and "Up" occur in
requests that mean no film), so a request naming "Verdun" or "Spelunky" reaches neither the prior's
"item" weight nor the collaborative-filtering blend: 86 of Steam's 500 I2I queries of the seed-2 test
draw and 92 of MovieLens' name only such a title (counted from their words; nothing was scored), and
so do many of Steam's histories. The variant tried here counts a one-word title when the request
writes it exactly as the catalog does (case included: "Verdun", "DayZ", not "heat"), unless the
word is also a field value, as for longer titles.

**Criterion, fixed before any score was seen:** adopt the variant if, on both catalogs' validation
splits (the protocol of ``87ad5ac``: prior and blend chosen again with each rule, on a cpu pass's
models), the blend chosen with it has a higher mean headline over the four behaviour tasks than the
blend chosen with the current rule, and is worse than it beyond noise (paired 95% interval) on none
of the ten tasks.

Run: ``python experiments/one_word_titles.py MODELS DATA [CATALOG ...]`` with ``MODELS`` and
``DATA`` as for ``experiments/blend_leak.py`` (copies of a cpu pass's model folders and its data);
about 10 minutes per catalog on 2 cores. Writes ``experiments/one_word_titles.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path
from unittest import mock

from itemlib.comparison import paired_comparison
from itemlib.evaluation import evaluate
from itemlib.provenance import git_commit
from itemlib.querykind import TitleMatcher, words
from itemlib.study.profiles import PROFILES, study_catalog
from itemlib.taskinfo import tasks_in
from itemlib.validation import ValidationConfig, tune_blend, tune_popularity_weight, validation_blend


class CasedOneWordTitles(TitleMatcher):
    """The current rule, plus one-word titles written exactly as the catalog writes them."""

    def __init__(self, catalog) -> None:
        super().__init__(catalog)
        values = {words(value) for table in catalog.value_index.values() for value in table}
        self.cased: dict[str, tuple[str, ...]] = {}
        for position, item in enumerate(catalog.items):
            tokens = re.findall(r"[^\W_]+", item.title)
            if len(tokens) == 1 and (tokens[0].lower(),) not in values:
                self.cased[tokens[0]] = (tokens[0].lower(),)
                self.positions.setdefault((tokens[0].lower(),), []).append(position)

    def named(self, text: str) -> list[tuple[str, ...]]:
        tokens, cased, found, start = words(text), re.findall(r"[^\W_]+", text), [], 0
        if len(cased) != len(tokens):  # lower-casing split a character: no one-word titles in this text
            cased = [""] * len(tokens)
        while start < len(tokens):
            match = next((n for n in self.lengths if tuple(tokens[start : start + n]) in self.titles), 0)
            title = tuple(tokens[start : start + match]) if match else self.cased.get(cased[start])
            if title and title not in found:
                found.append(title)
            start += match or 1
        return found


def chosen_blend(model: Path, catalog, data: Path, scratch: Path) -> tuple[dict, object]:
    """Prior and blend chosen again for a copy of ``model`` at ``scratch``: the choices and the new
    split they were made on."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(f"{scratch}-validation", ignore_errors=True)
    shutil.copytree(model, scratch, ignore=shutil.ignore_patterns("checkpoints"))
    profile = PROFILES["cpu"]
    config = ValidationConfig(per_task=profile.popularity_validation, seed=profile.seed)
    prior = tune_popularity_weight(scratch, catalog, data, config)
    blend = tune_blend(scratch, catalog, seed=profile.seed)
    return {"prior weights": prior["weights"], "blend": {k: blend[k] for k in ("reference", "weights")},
            "judgement": blend["judgement"]}, f"{scratch}-validation"  # fmt: skip


def main(models: str, data: str, catalogs: list[str]) -> dict:
    result = {"commit": git_commit(), "criterion": __doc__.split("fixed before any score was seen:** ")[1]
              .split("\n\n")[0].replace("\n", " "), "catalogs": {}}  # fmt: skip
    profile = PROFILES["cpu"]
    for name in catalogs or ["movielens", "steam"]:
        started = time.perf_counter()
        catalog = study_catalog(name, profile.max_items, profile.seed)
        model = Path(models) / name
        current, split = chosen_blend(model, catalog, Path(data) / name, Path(models) / f"{name}-titles-current")
        # each blend scored as validation scores one: its references fitted without what the split asks
        text = f"{Path(models) / f'{name}-titles-current'}+popularity"
        before = evaluate(validation_blend(text, catalog, split), catalog, split, progress=False).per_query
        with mock.patch("itemlib.retrieval.TitleMatcher", CasedOneWordTitles), \
                mock.patch("itemlib.validation.TitleMatcher", CasedOneWordTitles):  # fmt: skip
            variant, _ = chosen_blend(model, catalog, Path(data) / name, Path(models) / f"{name}-titles-one-word")
            text = f"{Path(models) / f'{name}-titles-one-word'}+popularity"
            after = evaluate(validation_blend(text, catalog, split), catalog, split, progress=False).per_query
        rows = []
        for task, group in before.groupby("task", sort=False):
            ours = after[after.task == task].value.to_numpy()
            rows.append({"task": task, "queries": len(group), "current": round(float(group.value.mean()), 4),
                         "one-word": round(float(ours.mean()), 4),
                         **paired_comparison(ours, group.value.to_numpy(), seed=profile.seed)})  # fmt: skip
        behaviour = [row for row in rows if row["task"] in tasks_in("behaviour")]
        mean = {arm: round(sum(row[arm] for row in behaviour) / len(behaviour), 4) for arm in ("current", "one-word")}
        result["catalogs"][name] = {
            "seconds": round(time.perf_counter() - started, 1),
            "current rule": current,
            "one-word titles": variant,
            "one-word − current on the current rule's split": rows,
            "behaviour mean": mean,
            "worse on": [row["task"] for row in rows if row["verdict"] == "worse"],
        }
        print(json.dumps(result["catalogs"][name] | {"current rule": None, "one-word titles": None}, indent=1))
    verdicts = result["catalogs"].values()
    result["adopted"] = all(c["behaviour mean"]["one-word"] > c["behaviour mean"]["current"] and not c["worse on"]
                            for c in verdicts)  # fmt: skip
    out = Path(__file__).with_name("one_word_titles.json")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=float) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
