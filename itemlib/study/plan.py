"""The run plan of a profile: which notebook runs with which parameters, in which order.

Each run executes one template of ``notebooks/`` with papermill. Configs travel as one parameter
each (``train_config``, ``generate_config``: their ``to_dict()``), so a notebook rebuilds exactly
the config the profile holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itemlib.datasets.redial import redial_available
from itemlib.datasets.steam import default_steam_dir
from itemlib.study.arms import Arm, general_arm, reference_arms, tuned_arm
from itemlib.study.profiles import Profile, recipe_commands

#: Runs made once per catalog, and the title of their pages.
RUN_STEPS = {"generate": "Generated tasks", "train": "Fine-tuning", "evaluate": "Evaluation"}
CATALOG_NAMES = {"movielens": "MovieLens", "steam": "Steam"}


def catalog_title(run_name: str) -> str | None:
    """ "Fine-tuning (MovieLens)" for ``train-movielens``; None for runs made once per profile. Pages
    of one step share a template, so without it Previous/Next would read "Fine-tuning → Fine-tuning"."""
    step, _, catalog = run_name.partition("-")
    return f"{RUN_STEPS[step]} ({CATALOG_NAMES.get(catalog, catalog)})" if step in RUN_STEPS and catalog else None


def steam_available() -> bool:
    return (default_steam_dir() / "steam_games.json.gz").exists()


@dataclass
class Run:
    name: str
    notebook: str  # template in notebooks/
    parameters: dict
    needs: list[str] = field(default_factory=list)  # runs whose products this run reads
    products: list[str] = field(default_factory=list)  # paths under work/ that this run writes
    folders: list[str] = field(
        default_factory=list
    )  # its work folders, emptied before a forced run (no stale checkpoints)


def plan(profile: Profile, available_only: bool = True) -> list[Run]:
    """The runs of a profile in execution order; ``available_only`` leaves out catalogs whose data is
    not on this machine (Steam), which a book of committed runs still shows."""
    work = f"work/{profile.name}"
    runs_dir = f"book/runs/{profile.name}"
    catalogs = [c for c in profile.catalogs if c != "steam" or steam_available() or not available_only]
    common = {"profile": profile.name, "seed": profile.seed, "max_items": profile.max_items}
    # every comparison carries every reference: the untuned encoder and every baseline
    references = reference_arms(profile.training.model)
    with_collaborative = reference_arms(profile.training.model, collaborative=True)  # test sets carry item ids
    tuned = {c: tuned_arm(c, f"{work}/models/{c}") for c in catalogs}
    general = {c: [general_arm(model) for model in profile.general_references.get(c, ())] for c in catalogs}

    def hybrid(name: str) -> list[Arm]:
        """The in-domain tuned+popularity arm and the same blended with collaborative filtering, their
        weights chosen on a validation split by the train run."""
        if not profile.popularity_validation:
            return []
        model = f"{work}/models/{name}"
        return [tuned_arm(name, model, prior=True), tuned_arm(name, model, collaborative=True)]

    def as_data(arms: list[Arm]) -> list[dict]:
        return [arm.to_dict() for arm in arms]

    # ReDial's dialogues people wrote, over MovieLens: every reference, the tuned models (with the prior)
    redial = (with_collaborative + general["movielens"] + [tuned[c] for c in catalogs] + hybrid("movielens")
              if "movielens" in catalogs and (redial_available() or not available_only) else [])  # fmt: skip
    runs = [Run("data", "data.ipynb", {**common, "catalogs": catalogs})]
    for name in catalogs:
        runs.append(
            Run(
                f"generate-{name}",
                "generate.ipynb",
                {
                    **common,
                    "catalog": name,
                    "data_dir": f"{work}/data/{name}",
                    "generate_config": profile.generation.to_dict(),
                },
                products=[f"{work}/data/{name}/stats.json"],
            )
        )
    for name in catalogs:
        runs.append(
            Run(
                f"train-{name}",
                "train.ipynb",
                {
                    **common,
                    "catalog": name,
                    "data_dir": f"{work}/data/{name}",
                    "out_dir": f"{work}/models/{name}",
                    "train_config": profile.training.to_dict(),
                    "popularity_validation": profile.popularity_validation,
                },
                needs=[f"generate-{name}"],
                products=[f"{work}/models/{name}/model.safetensors"],
                folders=[f"{work}/models/{name}", f"{work}/models/{name}-validation"],
            )
        )
    # on each test set: its own tuned model and those the profile transfers to it, in catalog order
    evaluated = {name: [c for c in catalogs if c == name or c in profile.transferred_to(name)] for name in catalogs}
    for name in catalogs:
        runs.append(
            Run(
                f"evaluate-{name}",
                "evaluate.ipynb",
                {
                    **common,
                    "catalog": name,
                    "tests_dir": f"{work}/data/{name}",
                    "arms": as_data(
                        with_collaborative + general[name] + [tuned[c] for c in evaluated[name]] + hybrid(name)
                    ),
                },
                needs=[f"generate-{name}"] + [f"train-{c}" for c in evaluated[name]],
            )
        )
    if ablation := profile.ablation:
        runs.append(
            Run(
                "ablation",
                "ablation.ipynb",
                {
                    **common,
                    "catalog": ablation.catalog,
                    "data_dir": f"{work}/data/{ablation.catalog}",
                    "work_dir": f"{work}/ablation",
                    "train_config": ablation.base.to_dict(),
                    "variants": list(ablation.variants),
                    "recipe_model": f"{work}/models/{ablation.catalog}" if ablation.with_recipe else None,
                    "recipe_config": profile.training.to_dict() if ablation.with_recipe else None,
                },
                needs=[f"generate-{ablation.catalog}"]
                + ([f"train-{ablation.catalog}"] if ablation.with_recipe else []),
                folders=[f"{work}/ablation"],
            )
        )
    runs.append(
        Run(
            "chat",
            "chat.ipynb",
            {
                **common,
                "catalogs": catalogs,
                "dialogues_per_catalog": profile.dialogues,
                "local_llm": profile.local_llm,
                "llm_dialogues": profile.llm_dialogues,
                "llm_validation_dialogues": profile.llm_validation_dialogues,
                "arms": {
                    c: as_data(references + (general[c] if profile.general_in_chat else []) + [tuned[c]])
                    for c in catalogs
                },
                "redial_arms": as_data(redial) if redial else [],
            },
            needs=[f"train-{c}" for c in catalogs],
        )
    )
    runs.append(
        Run(
            "diagnosis",
            "diagnosis.ipynb",
            {
                **common,
                "catalogs": catalogs,
                "tests_dirs": {c: f"{work}/data/{c}" for c in catalogs},
                "arms": {c: as_data(references + [tuned[c]]) for c in catalogs},
            },
            needs=[f"generate-{c}" for c in catalogs] + [f"train-{c}" for c in catalogs],
        )
    )
    if profile.example_steps:
        runs.append(
            Run(
                "use",
                "use.ipynb",
                {
                    **common,
                    "catalog": catalogs[0],
                    "model_dir": tuned[catalogs[0]].model,
                    # how a reader makes that model without the study: the profile's own settings
                    "commands": recipe_commands(
                        profile, catalogs[0], f"{work}/data/{catalogs[0]}", tuned[catalogs[0]].model
                    ),  # fmt: skip
                    "work_dir": f"{work}/use",
                    "own_steps": profile.example_steps,
                },
                needs=[f"train-{catalogs[0]}"],
                folders=[f"{work}/use"],
            )
        )
    runs.append(
        Run(
            "results",
            "results.ipynb",
            {**common, "catalogs": catalogs},
            needs=[r.name for r in runs],
        )
    )
    for run in runs:  # every page ends with the provenance of the runs it reads
        run.parameters |= {"runs_dir": runs_dir, "upstream": list(run.needs)}
    return runs
