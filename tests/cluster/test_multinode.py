"""The smoke study submitted to a two-node Ray cluster, logging to a tracking server."""

import os
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from search_spaces.tags import NODE, ROLE, STATUS
from tests.processes import ROOT, TOKEN

pytestmark = pytest.mark.cluster


def sweep_on(address: str, tracking_uri: str, storage, env: dict | None = None):
    """What `ray submit ... platform/sweep.py -- --study smoke --address ...` runs."""
    return subprocess.run(
        [
            sys.executable,
            "platform/sweep.py",
            "--study",
            "smoke",
            "--address",
            address,
            "--tracking-uri",
            tracking_uri,
            "--storage",
            str(storage),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env if env is not None else {**os.environ, **TOKEN},
    )


def test_ray_job_submit_runs_the_study_on_the_cluster(ray_cluster, tmp_path):
    """`ray job submit` against a running cluster whose nodes have the project installed
    (as in the node image). No --working-dir here: both raylets share this machine's Ray
    temp folder, and one replacing the other's unpacked copy pulls the driver's cwd away."""
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    entrypoint = (
        f"cd {ROOT} && {sys.executable} platform/sweep.py --study smoke "
        f"--address auto --tracking-uri {tracking} --storage {tmp_path / 'tune'}"
    )
    submit = [
        ray,
        "job",
        "submit",
        "--address",
        ray_cluster["jobs"],
        "--",
        "bash",
        "-c",
        entrypoint,
    ]
    deadline = time.monotonic() + 60
    while True:
        result = subprocess.run(
            submit,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, **TOKEN},
        )
        # A busy head registers its job agent some seconds after the node is up, and the job
        # server answers "No available agent ..., please try again later" until then.
        if "No available agent" not in result.stderr or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "trials: 4 finished" in result.stdout and "succeeded" in result.stdout + result.stderr
    client = MlflowClient(tracking)
    runs = client.search_runs(
        [client.get_experiment_by_name("smoke").experiment_id], f"tags.`{ROLE}` = 'trial'"
    )
    assert len(runs) == 4 and len({r.data.tags[NODE] for r in runs}) == 2


def test_smoke_study_runs_across_two_nodes_into_the_server(ray_cluster, tracking_server, tmp_path):
    result = sweep_on(ray_cluster["address"], tracking_server, tmp_path / "tune")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "trials: 4 finished" in result.stdout

    client = MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name("smoke")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{ROLE}` = 'trial'")
    assert len(runs) == 4
    assert all(r.data.tags[STATUS] == "finished" for r in runs)
    nodes = {r.data.tags[NODE] for r in runs}
    assert len(nodes) == 2, f"all trials ran on {nodes}"
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id)}
    assert {"per_key_psnr.csv", "predictions.png"} <= artifacts
    assert runs[0].outputs.model_outputs  # the trial's MLflow Model, logged on the server


def test_the_report_builds_from_the_server(ray_cluster, tracking_server, tmp_path):
    sweep_on(ray_cluster["address"], tracking_server, tmp_path / "tune")  # reused: seconds
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "report",
            "--experiment",
            "smoke",
            "--tracking-uri",
            tracking_server,
            "--out",
            str(tmp_path / "report"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "smoke: 4 finished" in result.stdout
    assert (tmp_path / "report" / "report.html").stat().st_size > 50_000


def test_an_unreachable_tracking_server_stops_the_sweep_before_any_trial(ray_cluster, tmp_path):
    result = sweep_on(ray_cluster["address"], "http://127.0.0.1:9", tmp_path / "tune")
    assert result.returncode == 2
    assert "MLflow tracking server http://127.0.0.1:9 is not reachable" in result.stderr
    assert not (tmp_path / "tune").exists()


def test_joining_without_the_token_says_how_to_fix_it(ray_cluster, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    result = sweep_on(
        ray_cluster["address"], f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "tune", env=env
    )
    assert result.returncode == 2
    assert "could not join the Ray cluster" in result.stderr
    assert "RAY_AUTH_MODE=token" in result.stderr


def test_the_best_model_is_registered_and_read_through_the_server(
    ray_cluster, tracking_server, small_root, tmp_path
):
    """The registry on PostgreSQL: the study's best model registered after the fact, then
    loaded by `models:/smoke@champion` from the server to read a recording."""
    sweep_on(ray_cluster["address"], tracking_server, tmp_path / "tune")  # reused: seconds
    bin_folder = os.path.dirname(sys.executable)
    register = [os.path.join(bin_folder, "sheetsweep-register"), "--experiment", "smoke"]
    result = subprocess.run(
        [*register, "--name", "smoke", "--tracking-uri", tracking_server],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "alias champion -> version" in result.stdout
    note = small_root / "audio/TimGM6mb-p0/C4_v60.wav"
    transcribe = [os.path.join(bin_folder, "sheetsweep-transcribe"), str(note)]
    result = subprocess.run(
        [*transcribe, "--model", "models:/smoke@champion", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_server},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{note}: " in result.stdout and "margin" in result.stdout
