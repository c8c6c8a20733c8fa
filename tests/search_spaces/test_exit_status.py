"""What the sweep's exit status says, from real MLflow runs: every planned trial recorded,
one failed, one missing; a bug in the summary surfaces as itself, and only an unreachable
store falls back to Tune's results."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import search_spaces.sweep as sweep
from search_spaces.study import load_study
from search_spaces.summary import plan_params, summary_text
from search_spaces.sweep_tracking import SweepRuns, open_sweep, run_name
from search_spaces.tags import KEY, PARENT, ROLE, STATUS
from search_spaces.tune_run import grid_configs
from tests.processes import free_port
from trainables.exit_codes import Exit
from trainables.training.identity import trial_key

DATASET = "d" * 64


@pytest.fixture
def loss_sweep(tmp_path):
    """The `loss` study's parent run in a fresh SQLite store, and its 9 planned configs."""
    study = load_study("loss")
    runs = open_sweep(f"sqlite:///{tmp_path}/mlflow.db", study, DATASET, plan_params(study))
    return study, runs, grid_configs(study)


def record(runs: SweepRuns, study, config, status: str) -> None:
    client = MlflowClient(runs.tracking_uri)
    tags = {
        ROLE: "trial",
        PARENT: runs.parent_run_id,
        KEY: trial_key(study.name, DATASET, config),
        STATUS: status,
    }
    name = run_name(config.to_dict(), study.searched_fields)
    run = client.create_run(runs.experiment_id, run_name=name, tags=tags)
    client.log_param(run.info.run_id, "loss", config.loss)
    client.log_metric(run.info.run_id, "test_psnr", 20.0 + config.seed)
    client.set_terminated(run.info.run_id, "FINISHED" if status == "finished" else "FAILED")


def summarise(study, runs) -> sweep.SweepSummary:
    return sweep.summarise(study, runs, DATASET, [], pd.DataFrame(), [])


def test_every_planned_trial_recorded_exits_0_and_one_failed_exits_3(loss_sweep):
    study, runs, configs = loss_sweep
    for config in configs[1:]:
        record(runs, study, config, "finished")
    record(runs, study, configs[0], "diverged")
    summary = summarise(study, runs)
    assert summary.exit_code() == Exit.INCOMPLETE
    assert summary.failed == [f"{run_name(configs[0].to_dict(), ['loss'])} (diverged)"]
    assert summary.missing == []


def test_a_planned_trial_without_a_run_exits_4_naming_it(loss_sweep):
    study, runs, configs = loss_sweep
    for config in configs[:-1]:
        record(runs, study, config, "finished")
    summary = summarise(study, runs)
    assert summary.exit_code() == Exit.NOT_RECORDED
    assert summary.missing == [run_name(configs[-1].to_dict(), ["loss"])]
    assert "planned, not recorded in MLflow: loss=ssim seed=2" in summary_text(summary)


def test_a_bug_in_the_summary_surfaces_as_itself(loss_sweep, monkeypatch):
    study, runs, _ = loss_sweep

    def broken(*args, **kwargs):
        raise KeyError("a bug in the summary")

    monkeypatch.setattr(sweep, "summary_from_trials", broken)
    with pytest.raises(KeyError, match="a bug in the summary"):
        summarise(study, runs)
    monkeypatch.setattr(sweep, "close_orphans", broken)
    with pytest.raises(KeyError, match="a bug in the summary"):
        summarise(study, runs)


def test_an_unreachable_store_falls_back_to_tunes_results_and_exits_4(loss_sweep, monkeypatch):
    study, runs, _ = loss_sweep
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    gone = SweepRuns(f"http://127.0.0.1:{free_port()}", runs.experiment_id, "x", {})
    summary = summarise(study, gone)
    assert "MLflow was unreachable when the sweep ended" in summary.unlogged[-1]
    assert summary.exit_code() == Exit.NOT_RECORDED
