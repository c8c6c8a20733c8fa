"""Runs to frames: what the tidy frames hold is what MLflow holds, typed back."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analysis.configs import config_labels, hardware_labels, noise_label, varying_fields
from analysis.runs import (
    AnalysisError,
    EmptyExperimentError,
    ExperimentNotFoundError,
    load_runs,
    require_finished,
)
from search_spaces.study import load_study
from search_spaces.tags import ROLE, STATUS
from trainables.keys import KEYS, register_of


def test_trials_are_told_apart_by_state(smoke_runs):
    counts = smoke_runs.counts().loc["smoke"]
    assert counts["finished"] == 4 and counts["failed"] == 2
    assert counts[["pruned", "lost", "running"]].sum() == 0
    failed = smoke_runs.trials[smoke_runs.trials["status"] == "failed"]
    assert failed["error"].str.contains("too small for depth 6").all()
    assert len(smoke_runs.experiments.loc[0, "parent_run_ids"]) == 2  # two sweeps


def test_hardware_labels_say_what_made_the_results():
    recorded = {
        "ran_device": "cpu: AMD EPYC",
        "ran_device_capability": "avx2",
        "ran_precision": "fp32",
        "ran_memory_format": "channels_last",
    }
    trials = pd.DataFrame([recorded, recorded, dict.fromkeys(recorded)])
    assert hardware_labels(trials) == [
        "cpu: AMD EPYC (avx2), fp32 + channels_last: 2 trial(s)",
        "not recorded: 1 trial(s)",
    ]


def test_params_are_typed_back(smoke_runs):
    run = smoke_runs.finished.iloc[0]
    assert isinstance(run["loss"], str) and run["kernel"] == "5"
    fixed = load_study("smoke").fixed
    assert run["width"] == fixed["width"] and run["lr"] == pytest.approx(fixed["lr"])
    assert run["precision"] == "auto" and run["memory_format"] == "auto"
    assert all(math.isnan(run[f]) for f in ("snr_low_db", "snr_mid_db", "snr_high_db"))
    assert pd.api.types.is_integer_dtype(smoke_runs.trials["seed"])
    assert pd.api.types.is_float_dtype(smoke_runs.trials["lr"])


def test_final_and_best_metrics_are_mlflows(smoke_store, smoke_runs):
    client = MlflowClient(smoke_store.tracking_uri)
    for _, row in smoke_runs.finished.iterrows():
        run = client.get_run(row["run_id"])
        for name, value in run.data.metrics.items():
            assert row[name] == pytest.approx(value), name
        history = client.get_metric_history(row["run_id"], "test_psnr")
        assert row["best_test_psnr"] == pytest.approx(max(m.value for m in history))
        assert row["epochs_done"] == load_study("smoke").epochs == row["epochs"]


def test_history_has_every_epoch(smoke_runs):
    history = smoke_runs.history
    finished = history[history["run_id"].isin(smoke_runs.finished["run_id"])]
    epochs = finished.groupby(["run_id", "metric"])["epoch"].apply(sorted)
    assert (epochs.map(tuple) == tuple(range(1, load_study("smoke").epochs + 1))).all()
    assert set(finished["metric"]) >= {"train_loss", "test_loss", "test_psnr"}


def test_per_key_psnr_is_the_artifact(smoke_store, smoke_runs, tmp_path: Path):
    per_key = smoke_runs.per_key
    assert set(per_key["run_id"]) == set(smoke_runs.finished["run_id"])
    client = MlflowClient(smoke_store.tracking_uri)
    run_id = smoke_runs.finished["run_id"].iloc[0]
    artifact = pd.read_csv(client.download_artifacts(run_id, "per_key_psnr.csv", str(tmp_path)))
    ours = per_key[per_key["run_id"] == run_id].reset_index(drop=True)
    assert ours["psnr"].tolist() == pytest.approx(artifact["psnr"].tolist())
    assert ours["midi"].tolist() == [k.midi for k in KEYS]  # the smoke test set has every key
    assert (ours["register"] == ours["midi"].map(lambda m: register_of(m).value)).all()


def test_unknown_experiment_names_itself_and_the_store(smoke_store):
    with pytest.raises(ExperimentNotFoundError) as error:
        load_runs(smoke_store.tracking_uri, ["nope"])
    assert "'nope'" in str(error.value) and smoke_store.tracking_uri in str(error.value)
    assert "smoke" in str(error.value)  # what is there instead


def test_missing_store_is_not_created(tmp_path: Path):
    path = tmp_path / "absent.db"
    with pytest.raises(AnalysisError, match="no MLflow store"):
        load_runs(f"sqlite:///{path}", ["smoke"])
    assert not path.exists()


def test_empty_experiment_is_an_error(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("empty")
    with pytest.raises(EmptyExperimentError, match="'empty'.*no trial runs"):
        load_runs(uri, ["empty"])


def test_stale_experiment_without_finished_trials_is_an_error(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("stale")
    run = client.create_run(experiment_id, tags={ROLE: "trial", STATUS: "lost"})
    client.set_terminated(run.info.run_id, "KILLED")
    runs = load_runs(uri, ["stale"])
    assert runs.counts().loc["stale", "lost"] == 1
    with pytest.raises(EmptyExperimentError, match="no finished trials.*'stale'"):
        require_finished(runs)


def test_labels_name_what_varies(smoke_runs):
    finished = smoke_runs.finished
    assert varying_fields(finished) == ["loss"]
    assert set(config_labels(finished)) == {"loss=smooth_l1", "loss=mse"}
    assert set(config_labels(finished, with_study=True)) == {
        "smoke: loss=smooth_l1",
        "smoke: loss=mse",
    }


def test_noise_labels():
    assert (
        noise_label({"snr_low_db": 20.0, "snr_mid_db": 10.0, "snr_high_db": 10.0}) == "20/10/10 dB"
    )
    assert (
        noise_label({"snr_low_db": None, "snr_mid_db": 10.0, "snr_high_db": 10.0}) == "off/10/10 dB"
    )
    assert (
        noise_label({"snr_low_db": math.nan, "snr_mid_db": None, "snr_high_db": math.nan})
        == "no noise"
    )


def test_states_beyond_the_known_ones_are_counted(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("odd")
    for state in ("finished", "diverged"):
        run = client.create_run(experiment_id, tags={ROLE: "trial", STATUS: state})
        client.set_terminated(run.info.run_id, "FINISHED" if state == "finished" else "FAILED")
    counts = load_runs(uri, ["odd"]).counts().loc["odd"]
    assert (counts["finished"], counts["diverged"], counts["failed"]) == (1, 1, 0)
