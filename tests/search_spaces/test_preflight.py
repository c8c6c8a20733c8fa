"""Before Ray starts: a trial no node can run, or a precision this machine cannot, is refused."""

import pytest

from search_spaces.preflight import check_local_precision, check_local_resources
from search_spaces.study import Dimension, StudyError, load_study
from tests.commands import run_command, sweep_script


def test_a_trial_no_node_can_run_is_refused_before_ray_starts():
    study = load_study("smoke").with_overrides(cpu=512.0)
    with pytest.raises(StudyError, match="asks for 512 CPU.*this machine has"):
        check_local_resources(study)
    with pytest.raises(StudyError, match="0 GPU"):
        check_local_resources(load_study("smoke").with_overrides(gpu=1.0))


def test_a_precision_this_machine_cannot_run_is_refused_before_ray_starts():
    result = run_command(sweep_script("--study", "smoke", "--set", "precision=fp16"), timeout=120)
    assert result.returncode == 2
    assert "smoke.yaml: field 'precision': 'fp16' needs a CUDA GPU" in result.stderr
    assert "Started a local Ray instance" not in result.stdout + result.stderr
    smoke = load_study("smoke")
    searched = smoke.with_overrides(
        space=(Dimension("precision", "choice", ("auto", "fp32", "fp16")),)
    )
    with pytest.raises(StudyError, match="'fp16' needs a CUDA GPU"):
        check_local_precision(searched)
    check_local_precision(smoke.with_overrides(fixed={**smoke.fixed, "precision": "bf16"}))
