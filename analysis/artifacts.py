"""Files the runs logged, fetched from MLflow: CSV tables stacked into one frame, or raw bytes."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)
#: The "tracking URI" of runs read back from a published folder (analysis/publish.py):
#: their artifacts are files under its runs/<run id>/, and there is no store to write to.
PUBLISHED = "published:"


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """MLflow draws a progress bar per downloaded file: dozens of lines of noise here."""
    name = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def artifact_tables(
    client: MlflowClient, trials: pd.DataFrame, artifact: str, columns: tuple[str, ...]
) -> pd.DataFrame:
    """The CSV artifact `artifact` of every run in `trials`, stacked with a run_id column.
    A run without it (an older trial, a failed upload) is skipped with a warning."""
    frames = []
    with tempfile.TemporaryDirectory() as folder, _no_progress_bars():
        for run_id in trials["run_id"]:
            try:
                path = client.download_artifacts(run_id, artifact, str(Path(folder) / run_id))
            except (MlflowException, OSError) as error:
                log.warning("run %s has no %s artifact: %s", run_id, artifact, error)
                continue
            table = pd.read_csv(path, dtype={"note": str, "register": str})
            table.insert(0, "run_id", run_id)
            frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(columns))
    stacked = pd.concat(frames, ignore_index=True)
    return stacked[[c for c in columns if c in stacked]]


def artifact_bytes(tracking_uri: str, run_id: str, name: str) -> bytes | None:
    """A run's artifact `name`, or None where the run did not log it."""
    if tracking_uri.startswith(PUBLISHED):
        path = Path(tracking_uri.removeprefix(PUBLISHED)) / "runs" / run_id / name
        return path.read_bytes() if path.is_file() else None
    client = MlflowClient(tracking_uri)
    with tempfile.TemporaryDirectory() as folder:
        try:
            return Path(client.download_artifacts(run_id, name, folder)).read_bytes()
        except (MlflowException, OSError):
            return None
