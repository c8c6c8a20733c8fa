"""A worker node stopped while its trial runs: the trial is retried elsewhere."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml
from mlflow.tracking import MlflowClient

from search_spaces.study import STUDIES_DIR
from search_spaces.tags import KEY, NODE, ROLE, STATUS
from tests.commands import ROOT
from tests.processes import TOKEN, node_ids, two_node_cluster

pytestmark = pytest.mark.cluster


def trial_nodes(db) -> dict[str, str]:
    """Run id -> Ray node of every trial that has logged an epoch (read straight from SQLite,
    so polling never creates the store; a store MLflow is still creating has none yet)."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as connection:
            rows = connection.execute("select run_uuid, value from tags where key = ?", (NODE,))
            return dict(rows.fetchall())
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise
        return {}  # the file exists, its tables not yet


def test_a_stopped_worker_node_costs_a_retry_not_the_study(tmp_path):
    raw = yaml.safe_load((STUDIES_DIR / "smoke.yaml").read_text())
    raw.update(name="node-fault", max_failures=2)
    raw["fixed"]["epochs"] = 4  # the node dies after a trial's first epoch there
    raw["fixed"]["width"] = 2  # the retry is the point, not the model
    study = tmp_path / "node-fault.yaml"
    study.write_text(yaml.safe_dump(raw))
    db = tmp_path / "mlflow.db"
    with two_node_cluster(tmp_path / "ray") as cluster:
        worker_node = node_ids(cluster["address"])["workers"][0]
        driver = subprocess.Popen(
            [
                sys.executable,
                "platform/sweep.py",
                "--study",
                str(study),
                "--address",
                cluster["address"],
                "--tracking-uri",
                f"sqlite:///{db}",
                "--storage",
                str(tmp_path / "tune"),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **TOKEN},
        )
        deadline = time.time() + 600
        while worker_node not in trial_nodes(db).values():
            assert driver.poll() is None, driver.stdout.read()[-3000:]
            assert time.time() < deadline
            time.sleep(0.5)
        os.killpg(cluster["worker"].pid, signal.SIGKILL)  # the node dies mid-trial
        output, _ = driver.communicate(timeout=900)
    assert driver.returncode == 0, output[-4000:]
    assert "trials: 4 finished" in output

    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("node-fault")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{ROLE}` = 'trial'")
    assert len(runs) == 4 and len({r.data.tags[KEY] for r in runs}) == 4
    assert all(r.data.tags[STATUS] == "finished" for r in runs)
    assert all(len(client.get_metric_history(r.info.run_id, "test_psnr")) >= 4 for r in runs)
    # the trial that lost its node finished on the head
    assert all(r.data.tags[NODE] != worker_node for r in runs)
