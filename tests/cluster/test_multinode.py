"""The smoke study submitted to a two-node Ray cluster, logging to a tracking server."""

import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from search_spaces.tags import ROLE, STATUS
from tests.processes import ROOT, TOKEN

pytestmark = pytest.mark.cluster


def test_smoke_study_runs_across_two_nodes_into_the_server(ray_cluster, tracking_server, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "platform/sweep.py",
            "--study",
            "smoke",
            "--address",
            ray_cluster["address"],
            "--tracking-uri",
            tracking_server,
            "--storage",
            str(tmp_path / "tune"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **TOKEN},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "trials: 4 finished" in result.stdout

    client = MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name("smoke")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{ROLE}` = 'trial'")
    assert len(runs) == 4
    assert all(r.data.tags[STATUS] == "finished" for r in runs)
    nodes = {r.data.tags["ray_node_id"] for r in runs}
    assert len(nodes) == 2, f"all trials ran on {nodes}"
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id)}
    assert {"per_key_psnr.csv", "predictions.png", "model.pt"} <= artifacts


def test_an_unreachable_tracking_server_stops_the_sweep_before_any_trial(ray_cluster, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "platform/sweep.py",
            "--study",
            "smoke",
            "--address",
            ray_cluster["address"],
            "--tracking-uri",
            "http://127.0.0.1:9",
            "--storage",
            str(tmp_path / "tune"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **TOKEN},
    )
    assert result.returncode == 2
    assert "MLflow tracking server http://127.0.0.1:9 is not reachable" in result.stderr
    assert not (tmp_path / "tune").exists()


def test_joining_without_the_token_says_how_to_fix_it(ray_cluster, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    result = subprocess.run(
        [
            sys.executable,
            "platform/sweep.py",
            "--study",
            "smoke",
            "--address",
            ray_cluster["address"],
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--storage",
            str(tmp_path / "tune"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 2
    assert "could not join the Ray cluster" in result.stderr
    assert "RAY_AUTH_MODE=token" in result.stderr
