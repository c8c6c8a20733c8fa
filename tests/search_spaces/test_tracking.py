"""Closing the MLflow runs of trials that Tune finished while the driver was being killed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from ray import tune

from search_spaces.study import load_study
from search_spaces.sweep_tracking import open_sweep
from search_spaces.tags import KEY, PARENT, ROLE, STATUS
from search_spaces.tracking import close_from_results, close_orphans
from trainables.training.identity import ARTIFACTS


@pytest.fixture
def sweep(tmp_path):
    study = load_study("smoke")
    runs = open_sweep(f"sqlite:///{tmp_path / 'mlflow.db'}", study, "hash", {"metric": "m"})

    def open_trial(key: str) -> str:
        tags = {PARENT: runs.parent_run_id, ROLE: "trial", KEY: key}
        return runs.client.create_run(runs.experiment_id, tags=tags).info.run_id

    return runs, open_trial


def checkpoint_with_artifacts(folder: Path) -> tune.Checkpoint:
    (folder / ARTIFACTS).mkdir(parents=True)
    (folder / ARTIFACTS / "per_key_psnr.csv").write_text("midi,psnr\n21,30.0\n")
    return tune.Checkpoint.from_directory(folder)


def test_a_finished_trial_left_open_is_closed_with_its_artifacts(sweep, tmp_path):
    runs, open_trial = sweep
    finished, pruned, untouched = open_trial("a"), open_trial("b"), open_trial("c")
    results = [
        tune.Result(
            {"trial_key": "a", "epoch": 4}, checkpoint_with_artifacts(tmp_path / "ck"), None, "p"
        ),
        tune.Result({"trial_key": "b", "epoch": 2}, None, None, "p"),
        tune.Result({"trial_key": "c", "epoch": 1}, None, RuntimeError("crashed"), "p"),
    ]
    assert sorted(close_from_results(runs, results, epochs=4)) == sorted([finished, pruned])
    client = MlflowClient(runs.tracking_uri)
    run = client.get_run(finished)
    assert run.info.status == "FINISHED" and run.data.tags[STATUS] == "finished"
    assert [a.path for a in client.list_artifacts(finished)] == ["per_key_psnr.csv"]
    assert client.get_run(pruned).data.tags[STATUS] == "pruned"
    assert close_orphans(runs) == [untouched]  # a crashed trial's open run is lost, as before
