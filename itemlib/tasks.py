"""The ten item-retrieval tasks of the paper, one small class each with the same interface.

``build(context, split, count, rng)`` returns :class:`Example` objects; relevance of any item to
an example is decided by :func:`itemlib.relevance.relevant_mask` on the example's ``spec``, the
one predicate used for negatives, in-batch filtering and Coverage@K. ``core`` is the query with its
template stripped (the slot values only): the leakage rule compares cores of train and test.

Behaviour tasks (UH2I, US2I, UQ2I) never target a user's last item in training: it is the test
target, and co-occurrence and popularity are computed without it. Their training examples cut each
user's history at several points, and come only from users who are not I2I judges
(:func:`itemlib.cooccurrence.is_judge`), whose co-occurrences are I2I's test answers. Their
validation queries (:meth:`BehaviourTask.validation_targets`) are drawn as the test's are: the next
item after a user's history, the user's last training item, from the validation judges. I2I's
(:meth:`I2I.validation_examples`) can be too, when a run keeps a fixed quarter of the items out of
I2I training (``Context.validation_sources``): they are answered by their neighbours among the
validation judges.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

from itemlib.catalog import Catalog, FieldKind, Item
from itemlib.cooccurrence import is_judge, is_validation_judge, item_neighbours, validation_neighbours
from itemlib.sampling import (
    Clause,
    lexicalise_request,
    misspell,
    request_clauses,
    sample_attributes,
    sample_conditions,
    sample_wanted_and_excluded,
)
from itemlib.taskinfo import TASK_INFO, TaskInfo, task_info
from itemlib.templates import template_bank
from itemlib.writers import OfflineWriter, Writer

#: Most recent items shown in a UH2I query (the paper's limit) and in a UQ2I query.
HISTORY_LIMIT = 20
UQ_HISTORY_LIMIT = 10
#: I2I ground truth: top neighbours kept, and neighbours a source needs to be a test query.
NEIGHBOURS = 20
MIN_TEST_NEIGHBOURS = 5


@dataclass
class Example:
    task: str
    query: str
    core: str
    pos_ids: list[str]
    spec: dict
    mask_ids: list[str] = field(default_factory=list)
    user: str | None = None


@dataclass
class Context:
    """What the tasks of one generation run share: the catalog, the writer, derived tables."""

    catalog: Catalog
    writer: Writer = field(default_factory=OfflineWriter)
    #: Whether I2I keeps its validation sources (:meth:`I2I.validation_source`) out of training and
    #: draws its test-shaped validation queries from them (``GenerateConfig.i2i_validation_sources``).
    validation_sources: bool = False

    @cached_property
    def neighbours(self) -> dict[int, list[int]]:
        """Neighbours among the users who are not judges: I2I's training positives."""
        return item_neighbours(self.catalog, NEIGHBOURS)

    @cached_property
    def judge_neighbours(self) -> dict[int, list[int]]:
        """Neighbours among the judges: I2I's test answers, never trained on."""
        return item_neighbours(self.catalog, NEIGHBOURS, judges=True)

    @cached_property
    def validation_neighbours(self) -> dict[int, list[int]]:
        """Neighbours among the validation judges: I2I's validation answers."""
        return validation_neighbours(self.catalog, NEIGHBOURS)

    @cached_property
    def users(self) -> list[str]:
        """Users with 3 or more items: each one's last item is a behaviour test target."""
        return sorted(u for u, h in self.catalog.histories.items() if len(h) >= 3)

    @cached_property
    def training_users(self) -> list[str]:
        """The users whose histories give behaviour training examples (judges excluded)."""
        return [u for u in self.users if not is_judge(u)]

    def render(self, task: str, split: str, rng: random.Random, **slots: str) -> str:
        template = rng.choice(template_bank(task)[split])
        noun = self.catalog.noun
        return template.format(noun=noun, nouns=f"{noun}s", verb=self.catalog.verb, verbed=self.catalog.verbed, **slots)


def core_of(*slots: str) -> str:
    return " | ".join(slots)


class Task:
    """Base of the ten task generators: a name (its metadata lives in :mod:`itemlib.taskinfo`) and a builder."""

    name: ClassVar[str]

    @property
    def info(self) -> TaskInfo:
        return TASK_INFO[self.name]

    def unavailable(self, context: Context) -> str | None:
        """Why this catalog cannot give this task's examples (None: it can)."""
        return None

    def build(self, context: Context, split: str, count: int, rng: random.Random) -> list[Example]:
        raise NotImplementedError

    def draws_validation(self, context: Context) -> bool:
        """Whether the task draws validation queries shaped like its test queries in ``context``
        (:meth:`validation_examples`); one that does not is validated on its undrawn training
        examples alone (:mod:`itemlib.validation`)."""
        return False

    def validation_examples(
        self, context: Context, count: int, rng: random.Random, train: list[Example]
    ) -> list[Example]:
        """Up to ``count`` validation queries drawn as the test draws its own, from what no training
        example of ``train`` targets, phrased as training queries are (the test's phrasings stay
        unseen) and masked as test queries are."""
        raise NotImplementedError

    def as_test(self, record: dict) -> Example:
        """A stored training record as a test query of this task (the same positives and masks).

        Training examples no run has drawn make a validation split with the training phrasings and
        targets, so recipe settings can be chosen without the test set (:mod:`itemlib.validation`).
        """
        return self._example(record, list(record["pos_ids"]), [])

    @staticmethod
    def _example(record: dict, pos_ids: list[str], mask_ids: list[str]) -> Example:
        return Example(
            record["task"], record["query"], record["core"], pos_ids, record["spec"], mask_ids, record["user"]
        )


class BehaviourTask(Task):
    """Tasks whose target is the next item of a user's time-ordered history."""

    def draws_validation(self, context: Context) -> bool:
        return True

    def unavailable(self, context: Context) -> str | None:
        if not context.catalog.histories:
            return "the catalog has no user histories (give an interactions file)"
        if not context.users:
            return "no user has 3 or more items in their history"
        return None

    def targets(self, context: Context, split: str, count: int, rng: random.Random) -> list[tuple[str, int]]:
        """(user, target position) pairs. Test: each user's last position. Training: positions
        1..N-2 of the users who are not judges, as many cut points per user as ``count`` needs
        when every user gives the same number (fewer where a history is short)."""
        users = list(context.users if split == "test" else context.training_users)
        rng.shuffle(users)
        cuts = math.ceil(count / len(users)) if users else 0
        pairs: list[tuple[str, int]] = []
        for user in users:
            size = len(context.catalog.histories[user])
            positions = [size - 1] if split == "test" else sorted(rng.sample(range(1, size - 1), min(cuts, size - 2)))
            pairs.extend((user, p) for p in positions)
            if len(pairs) >= count:
                break
        return pairs[:count]

    def validation_targets(
        self, context: Context, count: int, rng: random.Random, taken: set[tuple[str, str]]
    ) -> list[tuple[str, int]]:
        """(user, position) pairs of a validation draw shaped like the test draw: each validation
        judge's (:func:`itemlib.cooccurrence.is_validation_judge`) last training item, the next item
        after their history as the test's target is, where the training draw did not already target
        that (user, item) pair (``taken``); at most ``count``, users in a shuffled order."""
        users = [u for u in context.training_users if is_validation_judge(u)]
        rng.shuffle(users)
        pairs = []
        for user in users:
            history = context.catalog.histories[user]
            if (user, history[-2]) not in taken:
                pairs.append((user, len(history) - 2))
        return pairs[:count]

    def validation_examples(self, context, count, rng, train):
        taken = {(example.user, example.pos_ids[0]) for example in train}
        pairs = self.validation_targets(context, count, rng, taken)
        return self.build_at(context, pairs, "train", rng, masked=True)

    def build(self, context: Context, split: str, count: int, rng: random.Random) -> list[Example]:
        return self.build_at(context, self.targets(context, split, count, rng), split, rng)

    def build_at(
        self, context: Context, pairs: list[tuple[str, int]], split: str, rng: random.Random, masked: bool = False
    ) -> list[Example]:
        """An example per (user, position) pair, phrased from ``split``'s templates; a test example (or,
        with ``masked``, a validation one) masks the history before its target, as evaluation needs."""
        catalog = context.catalog
        examples = []
        for user, position in pairs:
            history = catalog.histories[user]
            example = self.example(context, split, rng, history[:position], history[position])
            example.user = user
            example.spec.setdefault("ids", list(history))
            if split == "test" or masked:
                example.mask_ids = list(history[:position])
            examples.append(example)
        return examples

    def example(self, context: Context, split: str, rng: random.Random, before: list[str], target: str) -> Example:
        raise NotImplementedError

    def as_test(self, record: dict) -> Example:
        """The user's history before the target is masked, as at test time."""
        history, target = record["spec"]["ids"], record["pos_ids"][0]
        return self._example(record, [target], history[: history.index(target)])


def history_titles(catalog: Catalog, before: list[str], limit: int) -> str:
    """Titles of the ``limit`` most recent items, newest first."""
    return "; ".join(catalog.item(i).title for i in reversed(before[-limit:]))


class UH2I(BehaviourTask):
    name = "UH2I"

    def example(self, context, split, rng, before, target):
        history = history_titles(context.catalog, before, HISTORY_LIMIT)
        query = history if rng.random() < 0.5 else context.render(self.name, split, rng, history=history)
        return Example(self.name, query, core_of(history), [target], {})


class US2I(BehaviourTask):
    name = "US2I"

    def example(self, context, split, rng, before, target):
        items = [context.catalog.item(i) for i in before[-HISTORY_LIMIT:]]
        summary = context.writer.summary(context.catalog, items, rng)
        return Example(
            self.name, context.render(self.name, split, rng, summary=summary), core_of(summary), [target], {}
        )


class UQ2I(BehaviourTask):
    name = "UQ2I"

    def example(self, context, split, rng, before, target):
        catalog = context.catalog
        history = history_titles(catalog, before, UQ_HISTORY_LIMIT)
        clauses = sample_attributes(
            catalog, catalog.item(target), rng, max_fields=2, title_probability=0.0, allow_text=False, max_list_values=2
        )
        attributes = lexicalise_request(catalog, clauses)
        query = context.render(self.name, split, rng, history=history, attributes=attributes)
        return Example(self.name, query, core_of(history, attributes), [target], constraint_spec(clauses))


class I2I(Task):
    name = "I2I"

    def draws_validation(self, context: Context) -> bool:
        return context.validation_sources

    def unavailable(self, context: Context) -> str | None:
        if not any(context.neighbours.values()):
            return "no two items share a user's history (give an interactions file)"
        return None

    def build(self, context, split, count, rng):
        """Test sources and answers come from the judges' co-occurrences, training ones from the
        other users'; an item that is a test source (or, where the context keeps them out, a
        validation source) is never a training source."""
        catalog = context.catalog
        judged = context.judge_neighbours
        validated = context.validation_neighbours if context.validation_sources else {}  # none kept out
        if split == "test":
            table = judged
            pool = [p for p in sorted(table) if self.test_source(catalog.items[p].id, len(judged[p]))]
        else:
            table = context.neighbours
            pool = [
                p
                for p in sorted(table)
                if not self.test_source(catalog.items[p].id, len(judged.get(p, [])))
                and not self.validation_source(catalog.items[p].id, len(validated.get(p, [])))
            ]
        rng.shuffle(pool)
        # train cycles through its sources (each time with another positive); test uses each once
        sources = pool[:count] if split == "test" else [pool[n % len(pool)] for n in range(count if pool else 0)]
        return [self._query(context, split, rng, position, table[position], split == "test") for position in sources]

    def validation_examples(self, context, count, rng, train):
        """The validation sources (:meth:`validation_source`, kept out of training by the context, so
        ``train`` targets none of them) in a shuffled order, each answered by all its neighbours among the
        validation judges, as a test source is by the judges'."""
        catalog, table = context.catalog, context.validation_neighbours
        pool = [p for p in sorted(table) if self.validation_source(catalog.items[p].id, len(table[p]))]
        rng.shuffle(pool)
        return [
            self._query(context, "train", rng, position, table[position], test_shaped=True) for position in pool[:count]
        ]

    def _query(
        self, context: Context, split: str, rng: random.Random, position: int, neighbours: list[int],
        test_shaped: bool,
    ) -> Example:  # fmt: skip
        """An example of ``split``'s phrasing asking for the item at ``position``'s neighbours: a
        test-shaped one has them all as positives and masks the source, a training one names one of them."""
        catalog = context.catalog
        source = catalog.items[position]
        ids = [catalog.items[p].id for p in neighbours]
        title = self.describe(catalog, source, rng)
        positives = ids if test_shaped else [rng.choice(ids)]
        query = context.render(self.name, split, rng, title=title)
        return Example(
            self.name, query, core_of(title), positives, {"ids": [source.id] + ids}, [source.id] if test_shaped else []
        )

    def as_test(self, record: dict) -> Example:
        """Every neighbour of the source is a positive and the source is masked, as at test time
        (a training record names one neighbour as its positive)."""
        source, *neighbours = record["spec"]["ids"]
        return self._example(record, neighbours, [source])

    @staticmethod
    def test_source(item_id: str, neighbour_count: int) -> bool:
        """A fixed quarter of the items with enough judge neighbours are test sources, never trained on."""
        return neighbour_count >= MIN_TEST_NEIGHBOURS and zlib.crc32(item_id.encode()) % 4 == 0

    @staticmethod
    def validation_source(item_id: str, neighbour_count: int) -> bool:
        """Another fixed quarter of the items, those with enough neighbours among the validation
        judges, can be validation sources, then never trained on either: a validation query about an
        item the model was trained to answer for favours the text model as no test query does."""
        return neighbour_count >= MIN_TEST_NEIGHBOURS and zlib.crc32(item_id.encode()) % 4 == 1

    @staticmethod
    def describe(catalog: Catalog, item: Item, rng: random.Random) -> str:
        """The title, sometimes followed by a few attribute values in brackets."""
        if rng.random() >= 0.3:
            return item.title
        clauses = sample_attributes(
            catalog, item, rng, max_fields=2, title_probability=0.0, allow_text=False, max_list_values=2
        )
        return f"{item.title} ({'; '.join(c.bare for c in clauses)})"


class ItemTask(Task):
    """Tasks that start from a random catalog item (attributes, names, conditions)."""

    #: (field kinds of which the catalog needs an askable field, the reason it says when it has none)
    needs: ClassVar[tuple[tuple[FieldKind, ...], str] | None] = None

    def unavailable(self, context: Context) -> str | None:
        if self.needs and not context.catalog.query_fields(*self.needs[0]):
            return self.needs[1]
        return None

    def build(self, context, split, count, rng):
        """Walk the catalog in a random order until ``count`` examples with distinct cores exist
        (small condition spaces such as VC2I's repeat themselves often)."""
        catalog = context.catalog
        examples: list[Example] = []
        cores: set[str] = set()
        for position in rng.sample(range(len(catalog)), len(catalog)):
            if len(examples) >= count:
                break
            example = self.example(context, split, rng, catalog.items[position])
            if example is not None and example.core.lower() not in cores:
                cores.add(example.core.lower())
                examples.append(example)
        return examples

    def example(self, context: Context, split: str, rng: random.Random, item: Item) -> Example | None:
        raise NotImplementedError

    def phrased(
        self, context: Context, split: str, rng: random.Random, item: Item, slot: str, text: str, spec: dict
    ) -> Example:
        """The example whose query puts ``text`` into the template slot ``slot`` (``text`` is its core)."""
        query = context.render(self.name, split, rng, **{slot: text})
        return Example(self.name, query, core_of(text), [item.id], spec)


def constraint_spec(clauses: list[Clause]) -> dict:
    return {"constraints": [c.constraint for c in clauses]}


def render_attributes(clauses: list[Clause], rng: random.Random) -> str:
    """ "key: value" style ("genres: Drama; year: 1995") or bare style ("Drama, 1995")."""
    if rng.random() < 0.5:
        return "; ".join(c.keyed for c in clauses)
    return ", ".join(c.bare for c in clauses)


class FA2I(ItemTask):
    name = "FA2I"
    #: "Full" attributes: at least three of the item's fields when it has them.
    sampling = dict(max_fields=None, title_probability=0.5, allow_text=True, max_list_values=None, min_fields=3)

    def example(self, context, split, rng, item):
        clauses = sample_attributes(context.catalog, item, rng, **self.sampling)
        return self.phrased(
            context, split, rng, item, "attributes", render_attributes(clauses, rng), constraint_spec(clauses)
        )


class SA2I(FA2I):
    name = "SA2I"
    sampling = dict(max_fields=3, title_probability=0.5, allow_text=False, max_list_values=2)


class AS2I(ItemTask):
    name = "AS2I"

    def example(self, context, split, rng, item):
        if not (clauses := request_clauses(context.catalog, item, rng)):
            return None
        request = context.writer.request(context.catalog, clauses, rng)
        return self.phrased(
            context, split, rng, item, "request", request, {"ids": [item.id], **constraint_spec(clauses)}
        )


class NM2I(ItemTask):
    name = "NM2I"

    def example(self, context, split, rng, item):
        if sum(c.isalpha() for c in item.title) < 4:
            return None
        catalog = context.catalog
        typo = misspell(item.title, rng)
        key = catalog.title_keys[catalog.index[item.id]]
        same_title = [catalog.items[p].id for p in catalog.items_by_title[key]]
        query = typo if rng.random() < 0.4 else context.render(self.name, split, rng, title=typo)
        return Example(
            self.name,
            query,
            core_of(typo),
            same_title,
            {"constraints": [{"field": "title", "op": "title_eq", "value": key}]},
        )


class VC2I(ItemTask):
    name = "VC2I"

    needs = ((FieldKind.NUMERIC, FieldKind.DATE), "no numeric or date field to state a condition on")

    def example(self, context, split, rng, item):
        if not (clauses := sample_conditions(context.catalog, item, rng)):
            return None
        condition = " and ".join(c.natural for c in clauses)
        return self.phrased(context, split, rng, item, "condition", condition, constraint_spec(clauses))


class NA2I(ItemTask):
    name = "NA2I"

    needs = ((FieldKind.LIST, FieldKind.CATEGORICAL), "no list or categorical field to exclude values of")

    def example(self, context, split, rng, item):
        """What the user wants and what they exclude (the paper's NA2I states only the exclusion,
        which most of a catalog satisfies: a random ranking passed it)."""
        sampled = sample_wanted_and_excluded(context.catalog, item, rng)
        if sampled is None:
            return None
        wanted, excluded, request = sampled
        return self.phrased(context, split, rng, item, "request", request, constraint_spec([wanted, excluded]))


TASKS: dict[str, Task] = {
    task.name: task for task in (UH2I(), I2I(), US2I(), FA2I(), SA2I(), AS2I(), NM2I(), VC2I(), NA2I(), UQ2I())
}


def register_task(info: TaskInfo, generator: Task) -> None:
    """Add a task: its metadata (:data:`itemlib.taskinfo.TASK_INFO`) and its generator (:data:`TASKS`).

    Generation, training, evaluation, validation splits and the command line's ``--tasks`` then
    know it (CONTRIBUTING.md). Its phrasings are its own: ``Context.render`` reads
    ``templates/<NAME>.json`` only if the generator calls it.
    """
    if info.name != generator.name:
        raise ValueError(f"the generator's name {generator.name!r} differs from the task's {info.name!r}")
    if info.name.upper() in TASK_INFO or info.name != info.name.upper():
        raise ValueError(f"task {info.name!r} exists already, or is not written in capitals")
    TASK_INFO[info.name] = info
    TASKS[info.name] = generator


def get_task(name: str) -> Task:
    """The generator of the task called ``name`` (any case); unknown names are a ``ValueError``."""
    return TASKS[task_info(name).name]
