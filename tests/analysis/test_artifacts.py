"""A run's files from MLflow: one the run never logged is None (or skipped), one that
cannot be fetched raises, so a broken store never reads as a run without files."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analysis.artifacts import ArtifactError, artifact_bytes, artifact_tables

SCORES = "scores.csv"


@dataclass(frozen=True)
class Store:
    tracking_uri: str
    logged: str  # a run that logged SCORES
    bare: str  # a run that logged nothing
    unreachable: str  # a run whose artifact store is a closed port


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("artifacts")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    local = client.create_experiment("local", artifact_location=(folder / "files").as_uri())
    closed = f"http://127.0.0.1:{closed_port()}/api/2.0/mlflow-artifacts/artifacts"
    remote = client.create_experiment("remote", artifact_location=closed)
    logged = client.create_run(local).info.run_id
    (folder / SCORES).write_text("midi,correct\n21,True\n22,False\n")
    client.log_artifact(logged, str(folder / SCORES))
    bare = client.create_run(local).info.run_id
    unreachable = client.create_run(remote).info.run_id
    return Store(uri, logged, bare, unreachable)


@pytest.fixture(autouse=True)
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow retries a refused connection for minutes by default."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")


def test_a_logged_artifact_is_read_and_one_never_logged_is_none(store: Store):
    assert artifact_bytes(store.tracking_uri, store.logged, SCORES).startswith(b"midi,correct")
    assert artifact_bytes(store.tracking_uri, store.logged, "worst_keys.png") is None
    assert artifact_bytes(store.tracking_uri, store.logged, "report/report.md") is None
    assert artifact_bytes(store.tracking_uri, store.bare, SCORES) is None


def test_an_artifact_store_that_cannot_be_reached_raises(store: Store):
    with pytest.raises(ArtifactError, match=f"cannot fetch {SCORES} of run {store.unreachable}"):
        artifact_bytes(store.tracking_uri, store.unreachable, SCORES)


def test_a_tracking_server_that_cannot_be_reached_raises(store: Store):
    with pytest.raises(ArtifactError, match="cannot fetch"):
        artifact_bytes(f"http://127.0.0.1:{closed_port()}", store.logged, SCORES)


def test_tables_skip_a_run_without_the_file_and_raise_for_one_not_fetched(store: Store, caplog):
    client = MlflowClient(store.tracking_uri)
    runs = pd.DataFrame({"run_id": [store.logged, store.bare]})
    with caplog.at_level(logging.WARNING, logger="analysis.artifacts"):
        table = artifact_tables(client, runs, SCORES, ("run_id", "midi", "correct"))
    assert table["run_id"].tolist() == [store.logged, store.logged]
    assert f"run {store.bare} did not log {SCORES}" in caplog.text
    broken = pd.DataFrame({"run_id": [store.logged, store.unreachable]})
    with pytest.raises(ArtifactError, match=store.unreachable):
        artifact_tables(client, broken, SCORES, ("run_id", "midi", "correct"))


def test_a_published_run_without_the_file_is_none(tmp_path: Path):
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "worst_keys.png").write_bytes(b"png")
    assert artifact_bytes(f"published:{tmp_path}", "r1", "worst_keys.png") == b"png"
    assert artifact_bytes(f"published:{tmp_path}", "r2", "worst_keys.png") is None
