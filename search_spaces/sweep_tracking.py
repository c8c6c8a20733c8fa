"""MLflow for a sweep: the store checked, one experiment per study, the sweep its parent run.

The driver is the only writer. It creates the store, the experiment and the parent run
before any trial starts (several trial processes creating a SQLite store at once can
fail); each trial is a child run (`search_spaces.tracking`). Runs are found again
by their trial key, so a relaunched sweep reuses runs instead of making new ones.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import sqlalchemy.exc
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.tracking import MlflowClient

from search_spaces.tags import (
    COMMIT,
    CUSTOM_MODEL_DEVELOPMENT,
    DATASET,
    DIGEST,
    EXPERIMENT_KIND,
    KEY,
    PARENT,
    ROLE,
    STUDY,
    STUDY_FILE,
)
from trainables.errors import SheetsweepError

#: A dead tracking server must not hold the sweep for minutes per write (MLflow's default
#: is 7 retries with exponential backoff and a 120 s timeout).
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


#: What MLflow raises when its store cannot be reached or refuses a write; `except` these,
#: then re-raise unless `tracking_failure` says so: the same types also carry bugs.
TRACKING_ERRORS = (MlflowException, requests.RequestException, OSError)
#: Error codes of a tracking server that refused a request it understood.
REFUSED = {
    databricks_pb2.ErrorCode.Name(code)
    for code in (
        databricks_pb2.PERMISSION_DENIED,
        databricks_pb2.UNAUTHENTICATED,
        databricks_pb2.CUSTOMER_UNAUTHORIZED,
        databricks_pb2.TEMPORARILY_UNAVAILABLE,
        databricks_pb2.REQUEST_LIMIT_EXCEEDED,
    )
}


def tracking_failure(error: BaseException) -> bool:
    """Whether `error` means the store could not be reached or written (a connection, a
    timeout, a locked or full database, a refused request), not a mistake of the caller."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, requests.RequestException | OSError | sqlalchemy.exc.OperationalError):
            return True
        cause = cause.__cause__ or cause.__context__
    return isinstance(error, MlflowException) and error.error_code in REFUSED


def is_server(tracking_uri: str) -> bool:
    """A tracking server (http, https), not a store this process opens itself."""
    return tracking_uri.startswith(("http://", "https://"))


class TrackingUnreachable(SheetsweepError):
    """The tracking store cannot be reached or written: nothing would be recorded."""


def check_tracking(tracking_uri: str, timeout_s: float = 10.0) -> None:
    """Before any trial starts: can this driver reach and write the tracking store?"""
    if tracking_uri.startswith("sqlite:///"):
        folder = Path(tracking_uri.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrackingUnreachable(f"{tracking_uri}: cannot create {folder}: {error}") from None
        if not os.access(folder, os.W_OK):
            raise TrackingUnreachable(f"{tracking_uri}: {folder} is not writable")
        return
    if is_server(tracking_uri):
        url = tracking_uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                if response.status == 200:
                    return
                problem = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            problem = str(getattr(error, "reason", error))
        raise TrackingUnreachable(
            f"MLflow tracking server {tracking_uri} is not reachable ({problem}); start it "
            f"(mlflow/serve.sh) or pass --tracking-uri"
        )


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def artifact_root(tracking_uri: str) -> str | None:
    """Beside a SQLite file, its artifacts folder; a server decides for itself."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    return None


@dataclass
class SweepRuns:
    """The experiment and parent run of one study, and the trials it has already finished."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    finished: dict[str, dict[str, float]]  # trial key -> final metrics

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)


def open_sweep(tracking_uri: str, study, dataset_hash: str, params: dict[str, Any]) -> SweepRuns:
    """Create or reopen the study's experiment and parent run (same study digest)."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study.name)
    if experiment is None:
        location = artifact_root(tracking_uri)
        experiment_id = client.create_experiment(
            study.name,
            artifact_location=f"{location}/{study.name}" if location else None,
            tags={"question": study.question, EXPERIMENT_KIND: CUSTOM_MODEL_DEVELOPMENT},
        )
    else:
        experiment_id = experiment.experiment_id
        if EXPERIMENT_KIND not in experiment.tags:  # made before the UI asked for its kind
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND, CUSTOM_MODEL_DEVELOPMENT)
    digest = study.digest()
    parents = client.search_runs(
        [experiment_id],
        f"tags.`{ROLE}` = 'sweep' and tags.`{DIGEST}` = '{digest}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if parents:
        parent_id = parents[0].info.run_id
        client.update_run(parent_id, status="RUNNING")
    else:
        parent = client.create_run(
            experiment_id,
            run_name=f"{study.name}-sweep",
            tags={
                ROLE: "sweep",
                STUDY: study.name,
                DIGEST: digest,
                DATASET: dataset_hash,
                COMMIT: git_commit(),
            },
        )
        parent_id = parent.info.run_id
        client.log_batch(parent_id, params=[Param(k, str(v)) for k, v in params.items()])
        client.log_dict(parent_id, study.as_ran(), STUDY_FILE)
    return SweepRuns(tracking_uri, experiment_id, parent_id, finished_trials(client, experiment_id))


def child_runs(client: MlflowClient, experiment_id: str, extra: str = "") -> list:
    query = f"tags.`{ROLE}` = 'trial'" + (f" and {extra}" if extra else "")
    return client.search_runs([experiment_id], query, max_results=50000)


def finished_trials(client: MlflowClient, experiment_id: str) -> dict[str, dict[str, float]]:
    """Final metrics of every trial this experiment finished (or pruned), by trial key."""
    runs = child_runs(client, experiment_id, "attributes.status = 'FINISHED'")
    return {run.data.tags[KEY]: dict(run.data.metrics) for run in runs if KEY in run.data.tags}


#: Where `mlflow ui` serves a SQLite store by default.
UI_ADDRESS = "http://127.0.0.1:5000"


def runs_page(tracking_uri: str, experiment_id: str) -> str:
    """The MLflow UI's page of an experiment's runs. A fresh browser opens an experiment on
    the GenAI overview (MLflow 3 keeps the workflow in the browser, not the experiment);
    `workflowType=machine_learning` asks for the model-training view."""
    server = tracking_uri if is_server(tracking_uri) else UI_ADDRESS
    return f"{server.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def run_name(config: dict[str, Any], searched: list[str]) -> str:
    """What the runs table shows: the searched values (floats to 3 significant digits; the
    run's params keep them whole) and the seed."""
    return " ".join(f"{name}={_short(config[name])}" for name in [*searched, "seed"])


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def sweep_trials(runs: SweepRuns) -> list:
    """The child runs of the sweep's parent run, of this launch and earlier ones."""
    return child_runs(runs.client, runs.experiment_id, f"tags.`{PARENT}` = '{runs.parent_run_id}'")


def close_sweep(runs: SweepRuns, best: dict[str, Any] | None) -> None:
    """End the parent run: FINISHED with the best config's test metrics as `best_*` when
    some trial finished (`best`), else FAILED."""
    client = runs.client
    if best is not None:
        now = int(time.time() * 1000)
        client.log_batch(
            runs.parent_run_id,
            metrics=[
                Metric(f"best_{k}", float(v), now, 0)
                for k, v in best.items()
                if k.startswith("test_") and isinstance(v, float)
            ],
        )
    client.set_terminated(runs.parent_run_id, status="FINISHED" if best is not None else "FAILED")
