"""Real servers for tests: a Ray cluster of two nodes and an MLflow tracking server, on
this machine, on loopback, each in its own process group so that a test can kill it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.commands import ROOT, console_script, run_command

RAY = console_script("ray")
#: `ray start --head` turns on Ray's token authentication; the other nodes and the probes
#: send the token it keeps in ~/.ray/auth_token.
TOKEN = {"RAY_AUTH_MODE": "token"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """A long-running process in its own session, so the whole group can be stopped."""
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(check, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not come up in {timeout} s")


def ask_cluster(address: str, expression: str) -> object | None:
    """Evaluate `expression` (JSON-able, with `ray` joined to the cluster) in a fresh
    driver; None while the cluster does not answer yet."""
    probe = (
        f"import json, ray; ray.init(address={address!r}, logging_level='ERROR'); "
        f"print(json.dumps({expression}))"
    )
    try:
        result = run_command([sys.executable, "-c", probe], env=TOKEN, timeout=60, cwd=None)
    except subprocess.TimeoutExpired:  # the head is still starting on a busy machine
        return None
    if result.returncode:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def nodes_alive(address: str) -> int:
    return ask_cluster(address, "sum(n['Alive'] for n in ray.nodes())") or 0


def node_ids(address: str) -> dict[str, list[str]]:
    """The cluster's live node ids: {"head": [...], "workers": [...]}."""
    nodes = ask_cluster(
        address,
        "[(n['NodeID'], 'node:__internal_head__' in n['Resources']) "
        "for n in ray.nodes() if n['Alive']]",
    )
    return {
        "head": [n for n, head in nodes if head],
        "workers": [n for n, head in nodes if not head],
    }


@contextlib.contextmanager
def two_node_cluster(logs: Path) -> Iterator[dict]:
    """A head and a worker node, one CPU each, started by `ray start` on loopback.

    Each node gets a dashboard agent port of its own. On one machine both agents would
    otherwise race for Ray's default 52365; when the worker's agent wins (a busy head binds
    late), the head's agent runs without its HTTP server and the job server answers every
    `ray job submit` with "No available agent to submit job"."""
    logs.mkdir(parents=True, exist_ok=True)
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Unix socket paths stay under 108 bytes
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--num-gpus=0", "--disable-usage-stats", "--block"]

    def agent_port() -> str:
        return f"--dashboard-agent-listen-port={free_port()}"

    dashboard = free_port()
    head = start(
        [
            RAY,
            "start",
            "--head",
            f"--port={port}",
            "--include-dashboard=true",  # the job server behind `ray job submit`
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            f"--temp-dir={temp}",
            agent_port(),
            *common,
        ],
        logs / "head.log",
        TOKEN,
    )
    wait_for(lambda: nodes_alive(address) >= 1, "the Ray head", timeout=300)
    worker = start(
        [RAY, "start", f"--address={address}", agent_port(), *common], logs / "worker.log", TOKEN
    )
    try:
        wait_for(lambda: nodes_alive(address) >= 2, "the second Ray node", timeout=300)
        yield {
            "address": address,
            "jobs": f"http://127.0.0.1:{dashboard}",
            "head": head,
            "worker": worker,
            "logs": logs,
        }
    finally:
        stop(worker)
        stop(head)
        shutil.rmtree(temp, ignore_errors=True)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def mlflow_server(folder: Path, env: dict | None = None) -> Iterator[dict]:
    """`mlflow/serve.sh` on a SQLite backend store (127.0.0.1 unless `env` says otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        "MLFLOW_PORT": str(port),
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "MLFLOW_ARTIFACTS_DESTINATION": str(folder / "artifacts"),
        **(env or {}),
    }
    server = start(["bash", "mlflow/serve.sh"], folder / "server.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: healthy(url) or server.poll() is not None, "the MLflow server")
        yield {"url": url, "process": server, "log": folder / "server.log"}
    finally:
        stop(server)


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL (Debian's postgresql) on loopback; yields its SQLAlchemy URI.
    The server runs as the `postgres` user (PostgreSQL refuses root), in a folder of its
    own under /tmp (pytest's folders are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    data = folder / "pgdata"
    shutil.chown(folder, "postgres")
    port = free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(data), "-A", "trust")
    as_postgres(
        str(POSTGRES_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-o",
        f"-p {port} -h 127.0.0.1 -k {folder}",
        "-w",
        "start",
    )
    try:
        as_postgres(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            "create user mlflow password 'test-only'",
            "-c",
            "create database mlflow owner mlflow",
        )
        yield f"postgresql://mlflow:test-only@127.0.0.1:{port}/mlflow"
    finally:
        as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
