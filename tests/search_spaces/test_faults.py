"""Faults injected for real into real sweeps: what each one keeps, in MLflow and in Tune."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from tests.commands import ROOT, run_command, sweep_command
from tests.processes import mlflow_server
from tests.search_spaces.test_sweep import custom_study, kill_driver_after, runs_of
from trainables.exit_codes import Exit
from trainables.training.config import TrialConfig
from trainables.training.memory import available_memory, training_memory


def tune_results(storage: Path) -> list[dict]:
    """The last result Tune recorded for each trial (its own files, not MLflow)."""
    last = []
    for path in storage.glob("*/trial_*/result.json"):
        lines = path.read_text().splitlines()
        if lines:
            last.append(json.loads(lines[-1]))
    return last


def too_wide() -> int:
    """A width whose training would not fit in this machine's free memory."""
    width = 256
    while training_memory(
        TrialConfig(width=width, n_mels=64, hop_length=512, batch_size=16), 47
    ) < 2 * available_memory(torch.device("cpu")):
        width *= 2
    return width


@pytest.mark.slow
def test_diverging_oversized_and_raising_trials_stop_alone_with_their_reason(tmp_path):
    width = too_wide()

    def edit(raw):
        raw["fixed"].pop("lr")
        raw["fixed"].pop("width")
        raw["fixed"]["epochs"] = 1
        raw["seeds"] = [0]
        raw["max_failures"] = 0  # a raising trial would fail again: not retried here
        raw["space"] = {
            "case": {
                "choice": [
                    {"lr": 0.002},  # trains
                    {"lr": 1.0e12},  # the loss turns NaN in the first epoch
                    {"lr": 0.002, "width": width},  # needs more memory than the machine has
                    # depth 6 halves a 64-bin spectrogram six times: the model refuses it
                    # inside the trial, which raises
                    {"lr": 0.002, "depth": 6},
                ]
            }
        }

    study = custom_study(tmp_path, "faults", edit)
    result = run_command(sweep_command(study, tmp_path))
    assert result.returncode == Exit.INCOMPLETE, result.stderr[-3000:]
    assert "trials: 1 diverged, 1 failed, 1 finished, 1 too_large" in result.stdout
    failed = next(line for line in result.stdout.splitlines() if line.startswith("failed: "))
    assert "(diverged)" in failed and "(failed)" in failed and "(too_large)" in failed

    _, _, children = runs_of(tmp_path, "faults")
    by_status = {r.data.tags["sheetsweep.status"]: r for r in children}
    assert by_status["finished"].info.status == "FINISHED"
    diverged, too_large = by_status["diverged"], by_status["too_large"]
    assert diverged.info.status == too_large.info.status == "FAILED"
    assert "training loss became nan in epoch 1" in diverged.data.tags["sheetsweep.error"]
    assert f"width={width}" in too_large.data.tags["sheetsweep.error"]
    assert "GiB free" in too_large.data.tags["sheetsweep.error"]
    raised = by_status["failed"]  # fails alone: the others finished or stopped as planned
    assert raised.info.status == "FAILED" and raised.data.params["depth"] == "6"
    assert "too small for depth 6" in raised.data.tags["sheetsweep.error"]

    reasons = {r.get("stop_status"): r.get("stop_reason") for r in tune_results(tmp_path / "tune")}
    assert "nan" in reasons["diverged"] and "GiB" in reasons["too_large"]
    assert reasons[None] is None  # the healthy trial


@pytest.mark.slow
def test_tracking_server_going_away_does_not_stop_the_sweep(tmp_path):
    """Kill the tracking server after the first epoch is logged: the sweep finishes, says
    what it could not log and which trials MLflow may lack, exits NOT_RECORDED, and Tune's
    results keep every trial's metrics."""

    def edit(raw):
        raw["fixed"]["epochs"] = 3

    study = custom_study(tmp_path, "away", edit)
    with mlflow_server(tmp_path / "server") as server:
        command = sweep_command(study, tmp_path)
        command[command.index("--tracking-uri") + 1] = server["url"]
        driver = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        client = MlflowClient(server["url"])
        deadline = time.time() + 300
        while True:
            assert time.time() < deadline and driver.poll() is None
            experiment = client.get_experiment_by_name("away")
            if experiment and client.search_runs(
                [experiment.experiment_id], "metrics.test_psnr > 0"
            ):
                break
            time.sleep(1)
        os.killpg(server["process"].pid, signal.SIGKILL)  # the server and its workers
        output, _ = driver.communicate(timeout=600)
    assert driver.returncode == Exit.NOT_RECORDED, output[-3000:]
    assert "could not" in output and "in MLflow" in output
    assert "MLflow was unreachable when the sweep ended" in output
    unconfirmed = next(line for line in output.splitlines() if "not recorded in MLflow" in line)
    assert unconfirmed.count("(unconfirmed)") == 4 and "seed=0" in unconfirmed
    results = tune_results(tmp_path / "tune")
    assert len(results) == 4
    assert all(r["epoch"] == 3 and r["test_psnr"] > 0 for r in results)


@pytest.mark.slow
def test_a_killed_optuna_sweep_resumes_with_its_searcher(tmp_path):
    """TPE's history survives the driver: after kill -9 and the same command again, the
    study finishes its planned trials, each once, without retraining the finished ones."""

    def edit(raw):
        raw.update(
            searcher="optuna",
            num_trials=4,
            seeds=[0],
            max_concurrent=1,
            optuna={"seed": 3, "n_startup_trials": 2},
        )
        raw["fixed"].pop("lr")
        raw["fixed"]["epochs"] = 2
        raw["space"] = {"lr": {"loguniform": [0.0005, 0.005]}}

    study = custom_study(tmp_path, "tpe", edit)
    kill_driver_after(study, tmp_path, "tpe", finished=2, timeout=600)
    _, _, before = runs_of(tmp_path, "tpe")
    done = {
        r.data.tags["sheetsweep.trial_key"]: r.info.end_time
        for r in before
        if r.info.status == "FINISHED"
    }

    result = run_command(sweep_command(study, tmp_path), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    _, _, after = runs_of(tmp_path, "tpe")
    finished = [r for r in after if r.info.status == "FINISHED"]
    assert len(finished) == 4  # the planned four, no more
    assert len({r.data.params["lr"] for r in finished}) == 4  # four distinct suggestions
    assert not [r for r in after if r.info.status == "RUNNING"]  # no orphan left running
    for run in finished:
        key = run.data.tags["sheetsweep.trial_key"]
        if key in done:
            assert run.info.end_time == done[key]  # not trained again
