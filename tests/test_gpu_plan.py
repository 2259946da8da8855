"""The gpu profile cannot rot: its whole plan, recipes and variants as published, executes on a CPU
at tiny sizes (every notebook, every run, the results page)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from itemlib.provenance import ROOT
from itemlib.study import PROFILES, plan, run_study
from itemlib.study.profiles import shrink

from .tiny_models import tiny_mpnet


@pytest.mark.slow
def test_the_gpu_profile_plan_executes_at_tiny_sizes(tmp_path):
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    gpu = PROFILES["gpu"]
    mpnet = tiny_mpnet(tmp_path / "mpnet")  # the general reference's architecture, not its 438 MB of weights
    general = {catalog: (mpnet,) for catalog in gpu.general_references}
    profile = replace(shrink(gpu), general_references=general)
    assert profile.training.in_batch == gpu.training.in_batch and profile.ablation.variants == gpu.ablation.variants
    executed = run_study(profile, root=tmp_path, log=lambda *_: None)
    assert executed == [run.name for run in plan(profile)]
    results = json.loads((tmp_path / "book" / "runs" / profile.name / "results" / "metrics.json").read_text())
    assert results["claims"] and results["provenance"]["profile"] == "gpu-tiny"
    assert any("larger general model" in claim for claim in results["claims"])
