"""A study whose Tune experiment was saved by a sheetsweep with other module paths (Tune
pickles the trainable and the callbacks by module) resumes from MLflow: nothing is trained
again, and the sweep says why it did not restore Tune's state."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from search_spaces.tags import ROLE
from tests.commands import run_command, sweep_command

#: A module path Tune pickled in `tuner.pkl`, and the same length of bytes naming a module
#: that does not exist: what a file saved before a module moved looks like to this version.
PICKLED = b"search_spaces.tracking"
MOVED = b"search_spaces.trackin_"


def trial_end_times(folder: Path) -> dict[str, int]:
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("smoke")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{ROLE}` = 'trial'")
    return {run.info.run_id: run.info.end_time for run in runs}


def test_a_tune_state_from_moved_modules_resumes_from_mlflow(smoke_launch, tmp_path):
    source, _ = smoke_launch
    shutil.copy(source / "mlflow.db", tmp_path / "mlflow.db")
    shutil.copytree(source / "tune", tmp_path / "tune")
    [saved] = (tmp_path / "tune").glob("smoke-*/tuner.pkl")
    assert PICKLED in saved.read_bytes()
    saved.write_bytes(saved.read_bytes().replace(PICKLED, MOVED))
    before = trial_end_times(tmp_path)
    assert len(before) == 4

    started = time.perf_counter()
    result = run_command(sweep_command("smoke", tmp_path))

    assert result.returncode == 0, result.stderr[-3000:]
    assert "cannot be restored (ModuleNotFoundError" in result.stderr
    assert "trials: 4 finished" in result.stdout
    assert trial_end_times(tmp_path) == before  # every trial reported, none trained again
    assert time.perf_counter() - started < 120
    assert PICKLED in saved.read_bytes()  # saved afresh: the next launch restores it
