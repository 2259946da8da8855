"""Configs declared once: constraints checked at construction, the command line derived from the
fields, profiles that hold configs, and a new field reaching every place without another edit."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import papermill
import pytest

from itemlib import cli
from itemlib.config import add_arguments, command_line, from_arguments, option
from itemlib.generate import GenerateConfig
from itemlib.provenance import ROOT
from itemlib.study import PROFILES, Ablation, Profile, plan
from itemlib.train_config import IN_BATCH_MODES, TrainConfig


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"in_batch": "sometimes"}, "in_batch must be one of 'off', 'on', 'filtered'"),
        ({"negatives": 16}, "negatives must be <= 15"),
        ({"max_steps": 0}, r"max_steps must be >= 1 \(or -1: not set\)"),
        ({"max_steps": -3}, "max_steps must be >= 1"),
        ({"temperature": 0}, "temperature must be > 0"),
        ({"pooling": "max"}, "pooling must be one of"),
        ({"tasks": ["XX2I"]}, "unknown task 'XX2I'"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"oversample": {"NM2I": 0}}, "oversample counts must be whole numbers >= 1"),
    ],
)
def test_bad_settings_fail_at_construction(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_task_names_are_normalised_and_the_dict_round_trip_is_exact():
    config = TrainConfig(tasks=["nm2i"], oversample={"vc2i": 2}, resample_positives=["vc2i"], max_steps=-1)
    assert (config.tasks, config.oversample, config.resample_positives) == (["NM2I"], {"VC2I": 2}, ["VC2I"])
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="TrainConfig has no field.*steps"):
        TrainConfig.from_dict({"steps": 10})
    assert GenerateConfig.from_dict(GenerateConfig(seed=3, tasks=["i2i"]).to_dict()) == GenerateConfig(
        seed=3, tasks=["I2I"]
    )


def test_command_line_defaults_are_the_dataclass_defaults():
    parser = cli.build_parser()
    train_args = parser.parse_args(["train", "--data", "d", "--out", "o"])
    assert cli.from_arguments(TrainConfig, train_args) == TrainConfig()
    generate_args = parser.parse_args(["generate", "--catalog", "movielens", "--out", "o"])
    assert cli.from_arguments(GenerateConfig, generate_args) == GenerateConfig()
    tuned = parser.parse_args(
        [
            "train",
            "--data",
            "d",
            "--out",
            "o",
            "--lr",
            "1e-4",
            "--oversample",
            "nm2i=2",
            "--quiet",
            "--in-batch",
            "filtered",
            "--tasks",
            "NM2I",
            "VC2I",
        ]
    )
    assert cli.from_arguments(TrainConfig, tuned) == TrainConfig(
        learning_rate=1e-4, oversample={"NM2I": 2}, progress=False, in_batch="filtered", tasks=["NM2I", "VC2I"]
    )


def test_bad_command_line_values_are_usage_errors_not_tracebacks(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--data", "d", "--out", "o", "--in-batch", "bogus"])
    assert stopped.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--data", "d", "--out", "o", "--oversample", "NM2I=0"])
    assert "expected KEY=N" in capsys.readouterr().err
    assert cli.main(["train", "--data", "d", "--out", "o", "--max-steps", "0"]) == 2
    assert "max_steps must be >= 1" in capsys.readouterr().err


def test_a_new_train_config_field_reaches_the_cli_the_plan_and_the_notebook(monkeypatch, capsys):
    """The promise of one declaration: a field added to TrainConfig needs no other edit."""
    knob = option(3, minimum=1, help="a knob no run has had before")
    Extended = dataclasses.make_dataclass("TrainConfig", [("dummy_knob", int, knob)], bases=(TrainConfig,))

    monkeypatch.setattr(cli, "TrainConfig", Extended)
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    shown = capsys.readouterr().out
    assert "--dummy-knob DUMMY_KNOB" in shown and "a knob no run has had before (default: 3)" in shown
    args = cli.build_parser().parse_args(["train", "--data", "d", "--out", "o", "--dummy-knob", "7"])
    assert cli.from_arguments(Extended, args).dummy_knob == 7

    smoke = PROFILES["smoke"]
    extended = Extended(**smoke.training.to_dict(), dummy_knob=5)
    profile = dataclasses.replace(smoke, training=extended, ablation=dataclasses.replace(smoke.ablation, base=extended))
    train_run = next(run for run in plan(profile) if run.name == "train-movielens")
    assert train_run.parameters["train_config"]["dummy_knob"] == 5
    assert Extended.from_dict(train_run.parameters["train_config"]) == profile.training

    template = papermill.iorw.load_notebook_node(str(ROOT / "notebooks" / train_run.notebook))
    injected = papermill.parameterize.parameterize_notebook(template, train_run.parameters)
    cell = next(cell for cell in injected.cells if "injected-parameters" in cell.metadata.get("tags", []))
    namespace: dict = {}
    exec(cell.source, namespace)  # what the notebook's kernel runs first
    assert Extended.from_dict(namespace["train_config"]).dummy_knob == 5


def test_profiles_hold_configs_whose_seeds_and_negatives_agree():
    smoke = PROFILES["smoke"]
    with pytest.raises(ValueError, match="profile's seed"):
        dataclasses.replace(smoke, training=dataclasses.replace(smoke.training, seed=1))
    with pytest.raises(ValueError, match="generation makes 1"):
        dataclasses.replace(smoke, generation=GenerateConfig(negatives=1))
    variants = Ablation(TrainConfig(max_steps=3), ({"negatives": 1}, {"in_batch": "on"})).configs()
    assert [(c.negatives, c.in_batch, c.max_steps) for c in variants] == [(1, "off", 3), (7, "on", 3)]
    assert isinstance(smoke, Profile) and smoke.training.in_batch in IN_BATCH_MODES


def test_an_ablation_arm_reused_from_the_in_domain_run_must_share_its_settings():
    """The in-batch comparison is only fair at equal settings: a profile whose in-domain recipe differs
    from the ablation's base in anything but the varied field cannot reuse its model as an arm."""
    smoke = PROFILES["smoke"]
    epoch = dataclasses.replace(smoke.training, negatives=0, batch_size=8)
    with pytest.raises(ValueError, match="differs from the ablation's base in negatives, batch_size"):
        dataclasses.replace(smoke, training=epoch)
    dataclasses.replace(smoke, training=dataclasses.replace(smoke.training, logging_steps=3, progress=True))


def test_the_cpu_pass_leaves_out_what_it_cut_for_time_and_nothing_else():
    """The cpu profile trains one epoch and, to fit two hours (profiles.py says what each cut costs), runs no
    ablation, does not evaluate the MovieLens model on Steam and leaves mpnet out of the generated Chat-Rec
    dialogues; the Steam model is still judged on MovieLens, mpnet still on MovieLens and ReDial, and the other
    profiles keep all three."""
    cpu = PROFILES["cpu"]
    assert cpu.training.max_steps == -1 and cpu.training.epochs >= 1 and cpu.ablation is None
    runs = {run.name: run for run in plan(cpu, available_only=False)}
    assert "ablation" not in runs and "ablation" not in runs["results"].needs
    arms = {name: [arm["label"] for arm in runs[f"evaluate-{name}"].parameters["arms"]] for name in cpu.catalogs}
    assert "tuned-steam" in arms["movielens"] and "tuned-movielens" not in arms["steam"]
    assert runs["evaluate-steam"].needs == ["generate-steam", "train-steam"]
    assert "untuned-mpnet" in arms["movielens"] and "untuned-mpnet" in [
        a["label"] for a in runs["chat"].parameters["redial_arms"]
    ]
    assert "untuned-mpnet" not in [a["label"] for a in runs["chat"].parameters["arms"]["movielens"]]
    smoke = {run.name: run for run in plan(PROFILES["smoke"], available_only=False)}
    assert "ablation" in smoke and "tuned-movielens" in [a["label"] for a in smoke["evaluate-steam"].parameters["arms"]]
    with pytest.raises(ValueError, match="out_of_domain names catalogs it does not have: \\['books'\\]"):
        dataclasses.replace(cpu, out_of_domain={"books": ()})


def test_training_and_evaluation_do_not_import_the_generators():
    code = "import sys, itemlib.training, itemlib.evaluation; print('itemlib.tasks' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "False"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_profiles_recipe_written_as_command_line_options_parses_back_to_itself(profile):
    """The "Use it" page prints each recipe as the options of `itemlib generate` / `itemlib train`."""
    for config in (PROFILES[profile].generation, PROFILES[profile].training):
        parser = argparse.ArgumentParser()
        add_arguments(parser, type(config))
        assert from_arguments(type(config), parser.parse_args(command_line(config))) == config


def test_the_use_pages_commands_rebuild_the_profiles_configs_through_the_real_command_line():
    import shlex

    from itemlib.study.profiles import recipe_commands

    profile = PROFILES["cpu"]
    commands = recipe_commands(profile, "movielens", "d", "m")
    generate, train = (shlex.split(command.replace("\\\n", " ")) for command in commands)  # as a shell joins lines
    parser = cli.build_parser()
    assert from_arguments(GenerateConfig, parser.parse_args(generate[1:])) == profile.generation
    assert from_arguments(TrainConfig, parser.parse_args(train[1:])) == profile.training
