"""Built once per test session: small real data (two piano presets, two velocities), and
the README's first command, the smoke study launched as a user launches it.

Tests train what they must and no more: the smoke study's four trials are trained once
per session and read by the sweep tests and the analysis tests alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands import run_command, sweep_command
from trainables.data.dataset import DatasetInfo, DatasetSpec, build_dataset

SMALL_SPEC = DatasetSpec(presets=(0, 1), velocities=(60, 110))


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    """352 rendered notes (88 keys x 2 presets x 2 velocities), 88 of them for testing."""
    return build_dataset(tmp_path_factory.mktemp("data") / "small", SMALL_SPEC)


@pytest.fixture(scope="session")
def small_root(small_dataset: DatasetInfo) -> Path:
    return small_dataset.root


#: Credentials a user's environment may hold: none may reach a log, param, tag or artifact.
PLANTED_SECRETS = {
    "MLFLOW_TRACKING_PASSWORD": "planted-pw-5f1d",
    "AWS_SECRET_ACCESS_KEY": "planted-aws-93c0",
}


@pytest.fixture(scope="session")
def smoke_launch(tmp_path_factory: pytest.TempPathFactory):
    """The README's first command (after the install): the smoke study, its best model
    registered as `smoke` (alias champion) and its report, with secrets planted in the
    environment. (folder, completed process)"""
    folder = tmp_path_factory.mktemp("smoke")
    result = run_command(
        sweep_command("smoke", folder, "--register", "smoke", "--report", str(folder / "report")),
        env=PLANTED_SECRETS,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, result
