"""The sweep's command line: the plan without running, a variant under its own name, and
bad overrides refused."""

import subprocess

from tests.commands import run_command, sweep_script


def test_dry_run_prints_the_plan_without_running():
    result = run_command(
        sweep_script("--study", "loss", "--dry-run", "--seeds", "0,1"), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "6 trials" in result.stdout
    assert "loss=ssim seed=1" in result.stdout
    assert "Trial status" not in result.stdout


def test_a_variant_of_a_study_is_recorded_under_its_own_name():
    variant = ["--study", "timbre", "--set", "spectrogram=mel", "--name", "timbre-mel"]
    result = run_command(
        sweep_script(*variant, "--dry-run"),
        env={"CI": "1"},  # stdout stays the plan where CI is set
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("study timbre-mel:")
    assert "'spectrogram': 'mel'" in result.stdout and "9 trials" in result.stdout


def smoke_with(override: str) -> subprocess.CompletedProcess:
    """`platform/sweep.py --study smoke --set <override>`."""
    return run_command(sweep_script("--study", "smoke", "--set", override), timeout=120)


def test_cli_rejects_a_bad_override_before_ray_starts():
    result = smoke_with("lr=0")
    assert result.returncode == 2
    assert "field 'lr': 0.0, expected a positive number" in result.stderr
