"""The smoke study submitted to a two-node Ray cluster, logging to a tracking server."""

import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from search_spaces.tags import NODE, ROLE, STATUS
from tests.commands import ROOT, console_script, report_command, run_command, sweep_script
from tests.processes import TOKEN

pytestmark = pytest.mark.cluster


def sweep_on(address: str, tracking_uri: str, storage, unset: tuple[str, ...] = ()):
    """What `ray submit ... platform/sweep.py -- --study smoke --address ...` runs: the
    environment holds the token, less the variables named in `unset`."""
    return run_command(
        sweep_script(
            "--study",
            "smoke",
            "--address",
            address,
            "--tracking-uri",
            tracking_uri,
            "--storage",
            str(storage),
        ),
        env=TOKEN,
        unset=unset,
        timeout=900,
    )


def test_ray_job_submit_runs_the_study_on_the_cluster(ray_cluster, tmp_path):
    """`ray job submit` against a running cluster whose nodes have the project installed
    (as in the node image). No --working-dir here: both raylets share this machine's Ray
    temp folder, and one replacing the other's unpacked copy pulls the driver's cwd away."""
    ray = console_script("ray")
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
        result = run_command(submit, env=TOKEN, timeout=900)
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
    result = run_command(report_command("smoke", tracking_server, tmp_path / "report"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "smoke: 4 finished" in result.stdout
    assert (tmp_path / "report" / "report.html").stat().st_size > 50_000


def test_an_unreachable_tracking_server_stops_the_sweep_before_any_trial(ray_cluster, tmp_path):
    result = sweep_on(ray_cluster["address"], "http://127.0.0.1:9", tmp_path / "tune")
    assert result.returncode == 2
    assert "MLflow tracking server http://127.0.0.1:9 is not reachable" in result.stderr
    assert not (tmp_path / "tune").exists()


def test_joining_without_the_token_says_how_to_fix_it(ray_cluster, tmp_path):
    result = sweep_on(
        ray_cluster["address"],
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        tmp_path / "tune",
        unset=("RAY_AUTH_MODE",),
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
    register = [console_script("sheetsweep-register"), "--experiment", "smoke"]
    result = run_command(
        [*register, "--name", "smoke", "--tracking-uri", tracking_server], timeout=300, cwd=None
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "alias champion -> version" in result.stdout
    note = small_root / "audio/TimGM6mb-p0/C4_v60.wav"
    transcribe = [console_script("sheetsweep-transcribe"), str(note)]
    result = run_command(
        [*transcribe, "--model", "models:/smoke@champion", "--out", str(tmp_path / "out")],
        env={"MLFLOW_TRACKING_URI": tracking_server},
        timeout=300,
        cwd=None,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{note}: " in result.stdout and "margin" in result.stdout
