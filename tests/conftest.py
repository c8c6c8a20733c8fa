"""Built once per test session: small real data (two piano presets, two velocities), and
the README's first command, the smoke study launched as a user launches it.

Tests train what they must and no more: the smoke study's four trials are trained once
per session and read by the sweep tests and the analysis tests alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainables.data.dataset import DatasetInfo, DatasetSpec, build_dataset

SMALL_SPEC = DatasetSpec(presets=(0, 1), velocities=(60, 110))


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    """352 rendered notes (88 keys x 2 presets x 2 velocities), 88 of them for testing."""
    return build_dataset(tmp_path_factory.mktemp("data") / "small", SMALL_SPEC)


@pytest.fixture(scope="session")
def small_root(small_dataset: DatasetInfo) -> Path:
    return small_dataset.root


ROOT = Path(__file__).parents[1]
#: Credentials a user's environment may hold: none may reach a log, param, tag or artifact.
PLANTED_SECRETS = {
    "MLFLOW_TRACKING_PASSWORD": "planted-pw-5f1d",
    "AWS_SECRET_ACCESS_KEY": "planted-aws-93c0",
}


def sweep_command(study: str | Path, folder: Path) -> list[str]:
    """`platform/sweep.py` into `folder`'s own SQLite store and Tune storage."""
    return [
        sys.executable,
        "platform/sweep.py",
        "--study",
        str(study),
        "--tracking-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--storage",
        str(folder / "tune"),
    ]


@pytest.fixture(scope="session")
def smoke_launch(tmp_path_factory: pytest.TempPathFactory):
    """The README's first command (after the install): the smoke study, its best model
    registered as `smoke` (alias champion) and its report, with secrets planted in the
    environment. (folder, completed process)"""
    folder = tmp_path_factory.mktemp("smoke")
    result = subprocess.run(
        [
            *sweep_command("smoke", folder),
            "--register",
            "smoke",
            "--report",
            str(folder / "report"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **PLANTED_SECRETS},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, result
