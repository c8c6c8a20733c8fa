"""Real sweeps: Ray Tune, the grid searcher, MLflow on SQLite, launched as users launch them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from search_spaces.study import STUDIES_DIR
from search_spaces.tags import (
    CUSTOM_MODEL_DEVELOPMENT,
    ERROR,
    EXPERIMENT_KIND,
    KEY,
    PARENT,
    ROLE,
    STATUS,
    ran_tag,
)
from tests.commands import ROOT, run_command, sweep_command
from tests.conftest import PLANTED_SECRETS
from trainables.training.hardware import detect_hardware

METRICS = {
    "train_loss",
    "test_loss",
    "test_psnr",
    "test_psnr_low",
    "test_psnr_mid",
    "test_psnr_high",
    "test_ssim",
    "test_note_acc",
    "test_note_acc_low",
    "test_note_acc_mid",
    "test_note_acc_high",
    "baseline_psnr",
}
ARTIFACTS = {
    "per_key_psnr.csv",
    "test_scores.csv",
    "predictions.png",
    "worst_keys.png",
    "loss_curves.png",
    "metrics.csv",
    "config.yaml",
    "execution.yaml",
}


def run_sweep_cli(study: str | Path, folder: Path) -> subprocess.CompletedProcess:
    return run_command(sweep_command(study, folder))


def runs_of(folder: Path, study: str) -> tuple[MlflowClient, object, list]:
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(study)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get(ROLE) == "sweep"]
    children = [r for r in runs if r.data.tags.get(ROLE) == "trial"]
    assert len(parents) == 1
    return client, parents[0], children


def custom_study(tmp_path: Path, name: str, edit) -> Path:
    raw = yaml.safe_load((STUDIES_DIR / "smoke.yaml").read_text())
    raw["name"] = name
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def smoke(smoke_launch):
    """The README's first command (after the install): the smoke study and its report."""
    return smoke_launch


def test_smoke_study_prints_the_best_config_and_where_the_runs_are(smoke):
    folder, result = smoke
    assert "trials: 4 finished" in result.stdout
    assert "best (test_psnr, mean over 2 seed(s)): loss=" in result.stdout
    assert f"sqlite:///{folder / 'mlflow.db'}" in result.stdout
    assert "mlflow ui --backend-store-uri" in result.stdout
    page = "http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning"
    assert f"its runs: {page}" in result.stdout
    assert result.returncode == 0  # every planned trial recorded
    assert "snapshotting has been triggered" not in result.stdout + result.stderr
    report = folder / "report" / "report.html"
    assert f"report: {report}" in result.stdout
    assert report.stat().st_size > 50_000 and "data:image/png;base64" in report.read_text()


def test_every_trial_is_a_child_run_with_params_metrics_and_artifacts(smoke):
    folder, _ = smoke
    client, parent, children = runs_of(folder, "smoke")
    assert len(children) == 4
    assert parent.info.status == "FINISHED"
    assert {"dataset_hash", "git_commit", "sheetsweep.study"} <= set(parent.data.tags)
    assert {(r.data.params["loss"], r.data.params["seed"]) for r in children} == {
        ("smooth_l1", "0"),
        ("smooth_l1", "1"),
        ("mse", "0"),
        ("mse", "1"),
    }
    for run in children:
        assert run.data.tags[PARENT] == parent.info.run_id
        assert run.info.status == "FINISHED" and run.data.tags[STATUS] == "finished"
        assert run.info.run_name == f"loss={run.data.params['loss']} seed={run.data.params['seed']}"
        assert {"lr", "batch_size", "kernel", "width", "epochs", "snr_low_db"} <= set(
            run.data.params
        )
        assert set(run.data.metrics) >= METRICS
        history = client.get_metric_history(run.info.run_id, "test_psnr")
        assert sorted(m.step for m in history) == [1, 2, 3, 4]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == ARTIFACTS
        assert run.data.tags["dataset_hash"] == parent.data.tags["dataset_hash"]
        (trained_on,) = run.inputs.dataset_inputs  # the runs table's Dataset column
        assert trained_on.dataset.name == "smoke"
        assert parent.data.tags["dataset_hash"].startswith(trained_on.dataset.digest)
        (model,) = run.outputs.model_outputs  # runs:/<id>/model
        assert model.step == 4
        logged = client.get_logged_model(model.model_id)
        assert logged.name == "model" and logged.source_run_id == run.info.run_id
        assert logged.status == "READY"
    assert len({r.data.tags[KEY] for r in children}) == 4


def test_the_experiment_opens_on_its_runs_in_the_mlflow_ui(smoke):
    folder, _ = smoke
    experiment = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").get_experiment_by_name("smoke")
    assert experiment.tags[EXPERIMENT_KIND] == CUSTOM_MODEL_DEVELOPMENT


def test_every_trial_records_the_precision_and_hardware_it_ran_on(smoke):
    folder, result = smoke
    _, _, children = runs_of(folder, "smoke")
    hardware = detect_hardware(torch.device("cpu"))
    for run in children:
        tags = run.data.tags
        assert run.data.params["precision"] == "auto"  # the identity: what was asked
        assert tags[ran_tag("device")] == f"cpu: {hardware.name}"
        assert tags[ran_tag("device_capability")] == hardware.capability
        assert tags[ran_tag("memory_format")] in ("channels_last", "contiguous")
        if hardware.native_bf16:
            assert tags[ran_tag("precision")] in ("bf16", "fp32")
        else:  # emulated bf16 is never the default
            assert tags[ran_tag("precision")] == "fp32"
    report = (folder / "report" / "report.md").read_text()
    ran = children[0].data.tags
    assert f"Ran on: cpu: {hardware.name}" in report
    assert f"{ran[ran_tag('precision')]} + {ran[ran_tag('memory_format')]}" in report
    # each worker said once in the sweep's output what it chose, and why
    assert "precision auto, memory_format auto ->" in result.stdout + result.stderr


def test_trials_reuse_their_worker_processes(smoke):
    """Four trials, two at a time: Tune runs the later two in the first two's processes."""
    folder, _ = smoke
    results = list((folder / "tune").glob("smoke-*/trial_*/result.json"))
    assert len(results) == 4
    pids = {json.loads(path.read_text().splitlines()[0])["pid"] for path in results}
    assert len(pids) == 2


def test_launching_a_finished_study_again_trains_nothing(smoke):
    folder, _ = smoke
    _, _, before = runs_of(folder, "smoke")
    started = time.perf_counter()
    result = run_sweep_cli("smoke", folder)
    assert result.returncode == 0
    _, _, after = runs_of(folder, "smoke")
    assert {r.info.run_id: r.info.end_time for r in after} == {
        r.info.run_id: r.info.end_time for r in before
    }
    assert time.perf_counter() - started < 120


def finished_children(folder: Path, study: str) -> int:
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return 0
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.`{ROLE}` = 'trial' and attributes.status = 'FINISHED'"
    )
    return len(runs)


def kill_driver_after(study: Path, folder: Path, name: str, finished: int, timeout: float) -> None:
    """Launch the sweep, wait until `finished` trials are FINISHED in MLflow, then kill -9
    its driver (the Ray processes it started are left to notice on their own)."""
    driver = subprocess.Popen(
        sweep_command(study, folder), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + timeout
    while finished_children(folder, name) < finished:
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
        assert time.time() < deadline
        time.sleep(0.5)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_retraining(tmp_path):
    """Two launches of a sweep, the first killed -9 after its first finished trial."""

    def edit(raw):
        raw["fixed"]["epochs"] = 3  # long enough to be killed between trials
        raw["fixed"]["width"] = 2  # resuming is the point, not the model

    study = custom_study(tmp_path, "resume", edit)
    kill_driver_after(study, tmp_path, "resume", finished=1, timeout=300)
    client, _, before = runs_of(tmp_path, "resume")
    done = {r.data.tags[KEY]: r.info.end_time for r in before if r.info.status == "FINISHED"}
    assert 1 <= len(done) < 4

    result = run_sweep_cli(study, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    client, parent, after = runs_of(tmp_path, "resume")
    assert len(after) == 4  # every planned trial exactly once
    assert all(r.info.status == "FINISHED" for r in after), [
        (r.info.run_name, r.info.status, r.data.tags.get(STATUS), r.data.tags.get(ERROR))
        for r in after
    ]
    assert all(r.data.tags[PARENT] == parent.info.run_id for r in after)
    for run in after:
        key = run.data.tags[KEY]
        if key in done:  # not trained again
            assert run.info.end_time == done[key]
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "test_psnr")]
        assert sorted(steps) == [1, 2, 3]  # no epoch logged twice


def test_no_secret_reaches_mlflow_tune_or_the_output(smoke):
    folder, result = smoke
    client, parent, children = runs_of(folder, "smoke")
    recorded = [result.stdout, result.stderr]
    for run in [parent, *children]:
        recorded += [str(run.data.params), str(run.data.tags)]
    for run in children:
        target = folder / "downloaded" / run.info.run_id
        target.mkdir(parents=True)
        local = Path(client.download_artifacts(run.info.run_id, "", str(target)))
        recorded += [p.read_text() for p in local.rglob("*") if p.suffix in (".yaml", ".csv")]
    recorded += [
        p.read_text(errors="ignore")
        for p in (folder / "tune").rglob("*")
        if p.is_file() and p.suffix in (".json", ".csv", ".txt", ".log", ".pkl")
    ]
    recorded += [p.read_text() for p in (folder / "report").rglob("*.md")]
    for secret in PLANTED_SECRETS.values():
        assert not any(secret in text for text in recorded), secret
