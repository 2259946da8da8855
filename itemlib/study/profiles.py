"""The study's profiles: each holds the configs of its runs, declared once.

A profile is a :class:`~itemlib.generate.GenerateConfig` for the data, a
:class:`~itemlib.train_config.TrainConfig` for the in-domain runs and an :class:`Ablation`, plus
the catalog size and the conversational test size. The run plan (:mod:`itemlib.study.plan`) passes
each config to its notebook as one ``to_dict()`` parameter; a field added to a config therefore
reaches every run without another edit. Why the published recipe is what it is, with the
validation figures that chose it, is told on the book's method page.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields, replace

from itemlib.catalog import Catalog
from itemlib.config import command_line
from itemlib.datasets import load_catalog
from itemlib.generate import GenerateConfig
from itemlib.train_config import NON_RESULT_SETTINGS, TrainConfig


@dataclass(frozen=True)
class Ablation:
    """One base recipe trained once per variant; a variant overrides fields of ``base``.

    ``with_recipe`` adds the profile's in-domain model on ``catalog`` as one more arm, reused rather
    than trained again (when it is the base recipe itself, the base's own arm).
    """

    base: TrainConfig
    variants: tuple[dict, ...]
    catalog: str = "movielens"
    with_recipe: bool = False

    def configs(self) -> list[TrainConfig]:
        return [replace(self.base, **variant) for variant in self.variants]

    def unequal_to(self, recipe: TrainConfig) -> list[str]:
        """Settings in which ``recipe`` differs from ``base`` beyond what the variants change: reused as an
        arm, a model trained with it would be compared with the others at unequal settings."""
        varied = {name for variant in self.variants for name in variant} | set(NON_RESULT_SETTINGS)
        return [f.name for f in fields(TrainConfig)
                if f.name not in varied and getattr(recipe, f.name) != getattr(self.base, f.name)]  # fmt: skip


def _variants(negatives: tuple[int, ...], in_batch: tuple[str, ...], in_batch_negatives: int = 7) -> tuple[dict, ...]:
    """Negatives K with in-batch negatives off, then in-batch on/filtered at ``in_batch_negatives``."""
    return tuple(
        [{"negatives": k, "in_batch": "off"} for k in negatives]
        + [{"negatives": in_batch_negatives, "in_batch": mode} for mode in in_batch]
    )


@dataclass(frozen=True)
class Profile:
    """Sizes and recipes of one profile. ``max_items`` shrinks catalogs for quick runs (None: full).

    Every config a profile holds uses the profile's ``seed``, the generated data holds enough
    verified negatives for every training run, and an ablation that reuses the in-domain model as an
    arm trains its other arms at that model's settings; all three are checked here.
    """

    name: str
    generation: GenerateConfig
    training: TrainConfig
    ablation: Ablation
    max_items: int | None = None
    dialogues: int = 500  # conversational test set size per catalog
    #: the Chat-Rec language model on this machine (itemlib.chat.local), the test dialogues per catalog it
    #: re-ranks (the first of the test set), and the validation dialogues that choose its ranking rule
    #: (measured on 2 idle cores: about 1 s per test dialogue, 0.65 s per validation dialogue, 15 s to
    #: load; 100 and 50 per catalog cost about five minutes)
    local_llm: str = "smollm2"
    llm_dialogues: int = 100
    llm_validation_dialogues: int = 50
    #: examples per task of the validation split that chooses the popularity prior's weight of the
    #: tuned+popularity arm (itemlib.retrieval.PopularityPrior); 0 leaves the arm out
    popularity_validation: int = 200
    #: training steps of the "Use it" chapter's own-catalog example; 0 leaves the chapter out
    example_steps: int = 20
    seed: int = 0
    catalogs: tuple[str, ...] = field(default=("movielens", "steam"))
    #: per catalog, larger general-purpose encoders evaluated untuned as references (in the evaluate and
    #: chat runs): whether a bigger model already does what alignment does
    general_references: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        configs = [self.generation, self.training, self.ablation.base]
        if any(config.seed != self.seed for config in configs):
            raise ValueError(f"profile {self.name!r}: every config must use the profile's seed {self.seed}")
        needed = max(config.negatives for config in [self.training, *self.ablation.configs()])
        if self.generation.negatives < needed:
            raise ValueError(
                f"profile {self.name!r}: training uses {needed} negatives, generation makes {self.generation.negatives}"
            )
        if self.ablation.with_recipe and (unequal := self.ablation.unequal_to(self.training)):
            raise ValueError(
                f"profile {self.name!r}: the ablation reuses the in-domain model as an arm, but its recipe differs "
                f"from the ablation's base in {', '.join(unequal)}: the arms would not compare at equal settings"
            )


def _quiet(**settings) -> TrainConfig:
    """A study training run: no progress bars in executed notebooks."""
    return TrainConfig(progress=False, **settings)


#: The recipe of the published in-domain runs (cpu and smoke): filtered in-batch negatives, NM2I
#: drawn twice as often, VC2I positives drawn from every item the query accepts (book/method.md).
_RECIPE = dict(
    in_batch="filtered", oversample={"NM2I": 2}, resample_positives=["VC2I"], temperature=0.05, learning_rate=5e-5
)

#: The published in-domain recipe at CPU size (candidate B, chosen on validation splits of both catalogs,
#: book/method.md): one epoch in batches of 32, no verified negatives (the 31 other examples' passages,
#: filtered by the query's predicate, are its negatives), NM2I drawn twice as often, VC2I positives drawn
#: from every item the query accepts, the last tenth of each task held out as the validation split that
#: chooses the tuned+popularity weights.
_CPU_RECIPE = _quiet(**_RECIPE, negatives=0, batch_size=32, epochs=1.0, validation_share=0.1, save_steps=100,
                     logging_steps=10)  # fmt: skip
#: The ablation's base: the recipe cut to 120 steps (3,840 examples, about a fifth of an epoch), so that
#: its arms fit the two-hour pass; each arm changes one setting of it.
_CPU_ABLATION = replace(_CPU_RECIPE, max_steps=120, logging_steps=6)
_SMOKE_RECIPE = _quiet(**_RECIPE, negatives=7, batch_size=4, max_steps=6, logging_steps=1)

PROFILES = {
    "smoke": Profile(
        "smoke",
        max_items=1200,
        dialogues=20,
        llm_dialogues=3,
        llm_validation_dialogues=2,
        popularity_validation=10,
        example_steps=3,
        generation=GenerateConfig(per_task=40, test_per_task=20, negatives=7),
        training=_SMOKE_RECIPE,
        ablation=Ablation(_SMOKE_RECIPE, ({"in_batch": "off"}, {"in_batch": "on"}), with_recipe=True),
    ),
    # The ablation tests the recipe's own departure from the paper at its settings for 120 steps: in-batch
    # negatives as they come instead of filtered by the query's predicate. ("Off" is no arm: without
    # verified negatives it leaves a query no negative at all.) Verified negatives were weighed against
    # none when the recipe was chosen (method page, appendix); an arm adding 3 of them costs about twice a
    # plain arm and does not fit the two hours beside the larger behaviour data, so the negatives sweep
    # (1/3/7/15) is the gpu profile's.
    # all-mpnet-base-v2 (110M) as a reference on MovieLens only: it embeds 17 items/s on 2 cores against
    # MiniLM's 133 (benchmarks/bench_encoders.py), so Steam's 32,131 items would add about 31 minutes to a
    # pass that must stay within two hours; the gpu profile has it on both catalogs.
    "cpu": Profile(
        "cpu",
        general_references={"movielens": ("mpnet",)},
        # test queries drawn with a seed no earlier run used: the test set of the runs published before
        # (seed 0) guided recipe decisions and is a development set since
        generation=GenerateConfig(per_task=2000, test_per_task=500, negatives=15, test_seed=1),
        training=_CPU_RECIPE,
        ablation=Ablation(_CPU_ABLATION, ({}, {"in_batch": "on"})),
    ),
    "gpu": Profile(
        "gpu",
        general_references={"movielens": ("mpnet",), "steam": ("mpnet",)},
        generation=GenerateConfig(per_task=20000, test_per_task=1000, negatives=15),
        training=_quiet(
            **_RECIPE | {"learning_rate": 2e-5},
            negatives=7,
            batch_size=64,
            max_steps=5000,
            save_steps=500,
            logging_steps=100,
        ),  # fmt: skip
        ablation=Ablation(
            _quiet(temperature=0.05, learning_rate=2e-5, batch_size=64, max_steps=2000, save_steps=500),
            _variants((1, 3, 7, 15), ("on", "filtered")),
        ),
    ),
}
# The paper fine-tunes base-size encoders: the gpu profile's recipe, sizes and ablation with
# all-mpnet-base-v2 (110M) as the model fine-tuned, into its own book (book/runs/gpu-mpnet). Its
# untuned reference is mpnet itself; MiniLM's aligned runs are the gpu profile's.
PROFILES["gpu-mpnet"] = replace(
    PROFILES["gpu"],
    name="gpu-mpnet",
    general_references={},
    training=replace(PROFILES["gpu"].training, model="mpnet"),
    ablation=replace(PROFILES["gpu"].ablation, base=replace(PROFILES["gpu"].ablation.base, model="mpnet")),
)


def shrink(profile: Profile, name: str | None = None) -> Profile:
    """``profile`` with its recipes, variants and options kept and every size made tiny: its plan then
    executes on a CPU in minutes, so a profile no machine here can run (gpu) still cannot rot."""

    def tiny(config: TrainConfig, steps: int) -> TrainConfig:
        return replace(config, max_steps=steps, batch_size=4, save_steps=0, logging_steps=1)

    training = tiny(profile.training, 2)
    base = training if profile.ablation.with_recipe else tiny(profile.ablation.base, 1)
    return replace(
        profile, name=name or f"{profile.name}-tiny", max_items=800, dialogues=5, popularity_validation=5,
        llm_dialogues=2, llm_validation_dialogues=2,
        example_steps=1, training=training, ablation=replace(profile.ablation, base=base),
        generation=replace(profile.generation, per_task=30, test_per_task=10),
    )  # fmt: skip


def recipe_commands(profile: Profile, catalog: str, data_dir: str, model_dir: str) -> list[str]:
    """The two shell commands that make a profile's fine-tuned model of ``catalog`` without the study:
    ``itemlib generate`` with its generation settings, ``itemlib train`` with its recipe."""
    generate = ["itemlib", "generate", "--catalog", catalog, "--out", data_dir, *command_line(profile.generation)]
    train = ["itemlib", "train", "--data", data_dir, "--catalog", catalog, "--out", model_dir,
             *command_line(profile.training)]  # fmt: skip
    return [_shell_lines(generate), _shell_lines(train)]


def _shell_lines(words: list[str]) -> str:
    """A command as a reader pastes it: one option (with its values) per line, continued with ``\\``."""
    groups: list[list[str]] = [words[:2]]
    for word in words[2:]:
        if word.startswith("--"):
            groups.append([])
        groups[-1].append(word)
    return " \\\n    ".join(shlex.join(group) for group in groups)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; profiles are {', '.join(PROFILES)}") from None


def study_catalog(name: str, max_items: int | None = None, seed: int = 0) -> Catalog:
    """A study catalog, shrunk to ``max_items`` for quick profiles."""
    catalog = load_catalog(name)
    return catalog.subset(max_items, seed) if max_items else catalog
