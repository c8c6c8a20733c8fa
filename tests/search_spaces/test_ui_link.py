"""The link a sweep prints opens the study's runs in a fresh browser (headless Chromium on
a real tracking server), with run names a person can read."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from mlflow.tracking import MlflowClient

from search_spaces.study import load_study
from search_spaces.summary import plan_params
from search_spaces.sweep_tracking import open_sweep, run_name, runs_page
from search_spaces.tags import PARENT, ROLE
from tests.processes import mlflow_server

CHROMIUM = shutil.which("chromium")


def page_text(url: str, profile) -> str:
    """The page's DOM once its scripts ran, in a browser profile never used before."""
    assert CHROMIUM, "this test needs Debian's chromium (apt-get install -y chromium)"
    command = [CHROMIUM, "--headless=new", "--no-sandbox", f"--user-data-dir={profile}"]
    command += ["--dump-dom", "--virtual-time-budget=20000", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.slow
def test_the_printed_link_opens_the_runs_with_readable_names(tmp_path):
    study = load_study("full")
    config = {"loss": "mse", "kernel": "5", "snr_low_db": 33.92331493851256}
    config |= {"snr_mid_db": 36.43352222919464, "snr_high_db": 6.495035651771658}
    config |= {"lr": 0.0002463712336657064, "batch_size": 32, "seed": 0}
    name = run_name(config, study.searched_fields)
    assert name == (
        "loss=mse kernel=5 snr_low_db=33.9 snr_mid_db=36.4 snr_high_db=6.5 lr=0.000246 "
        "batch_size=32 seed=0"
    )
    with mlflow_server(tmp_path / "server") as server:
        runs = open_sweep(server["url"], study, "d" * 64, plan_params(study))
        MlflowClient(server["url"]).create_run(
            runs.experiment_id,
            run_name=name,
            tags={
                ROLE: "trial",
                PARENT: runs.parent_run_id,
                "mlflow.parentRunId": runs.parent_run_id,
            },
        )
        page = page_text(runs_page(server["url"], runs.experiment_id), tmp_path / "profile")
    assert ">Runs<" in page and "Model training" in page  # the runs table, not GenAI's overview
    assert "full-sweep" in page and "matching runs" in page
