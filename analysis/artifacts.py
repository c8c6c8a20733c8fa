"""Files the runs logged, fetched from MLflow: CSV tables stacked into one frame, or raw bytes.

A run that did not log a file is told apart from a file that could not be fetched: the
first is skipped (the tables say which runs lack it), the second raises ArtifactError.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import requests
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from trainables.errors import SheetsweepError

log = logging.getLogger(__name__)
#: The "tracking URI" of runs read back from a published folder (analysis/publish.py):
#: their artifacts are files under its runs/<run id>/, and there is no store to write to.
PUBLISHED = "published:"


class ArtifactError(SheetsweepError):
    """A run's artifact is there but could not be fetched: the store or its artifact
    folder is unreachable or unreadable."""


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
    A run that did not log it (an older trial, a failed upload) is skipped with a warning
    and has no rows; one whose artifact cannot be fetched raises ArtifactError."""
    frames = []
    with tempfile.TemporaryDirectory() as folder, _no_progress_bars():
        for run_id in trials["run_id"]:
            path = _download(client, run_id, artifact, Path(folder) / run_id)
            if path is None:
                log.warning("run %s did not log %s", run_id, artifact)
                continue
            table = pd.read_csv(path, dtype={"note": str, "register": str})
            table.insert(0, "run_id", run_id)
            frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(columns))
    stacked = pd.concat(frames, ignore_index=True)
    return stacked[[c for c in columns if c in stacked]]


def artifact_bytes(tracking_uri: str, run_id: str, name: str) -> bytes | None:
    """A run's artifact `name`, or None where the run did not log it; ArtifactError where
    it did but the file cannot be fetched."""
    if tracking_uri.startswith(PUBLISHED):
        path = Path(tracking_uri.removeprefix(PUBLISHED)) / "runs" / run_id / name
        return path.read_bytes() if path.is_file() else None
    with tempfile.TemporaryDirectory() as folder, _no_progress_bars():
        path = _download(MlflowClient(tracking_uri), run_id, name, Path(folder))
        return None if path is None else path.read_bytes()


def _download(client: MlflowClient, run_id: str, name: str, folder: Path) -> Path | None:
    """`name` of `run_id` downloaded under `folder`; None when the run's artifact listing
    lacks it. A listing or download that fails raises: that is no proof it is missing."""
    parent = posixpath.dirname(name) or None
    try:
        if name not in {item.path for item in client.list_artifacts(run_id, parent)}:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return Path(client.download_artifacts(run_id, name, str(folder)))
    except (MlflowException, requests.RequestException, OSError) as error:
        raise ArtifactError(
            f"cannot fetch {name} of run {run_id} from {client.tracking_uri}: {error}"
        ) from error
