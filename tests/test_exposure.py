"""Exposure: what the platform serves, loads and logs."""

import ipaddress
import os
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from tests.commands import ROOT, run_command
from tests.processes import free_port, healthy, mlflow_server, stop, wait_for
from trainables.model.net import ModelConfig, SheetMusicNet
from trainables.training.artifacts import load_weights


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_server_refuses_another_address_without_authentication(host, tmp_path):
    result = run_command(
        ["bash", "mlflow/serve.sh"],
        env={
            "PATH": "/usr/bin:/bin",
            "MLFLOW_HOST": host,
            "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path}/x.db",
        },
        inherit=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"refusing to listen on {host} without authentication" in result.stderr
    assert not (tmp_path / "x.db").exists()


def listening_addresses(port: int) -> set[str]:
    """The local addresses of this machine's TCP sockets listening on `port`, IPv4 and
    IPv6, from /proc/net/tcp{,6} (each 32-bit word of an address in host byte order)."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                addresses.add(str(ipaddress.ip_address(words)))
    return addresses


def other_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (`hostname -I`)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = (ipaddress.ip_address(a) for a in out.stdout.split())
    return [str(a) for a in found if a.version == 4 and not a.is_loopback]


def test_server_listens_on_loopback_only_by_default(tmp_path):
    """`mlflow/serve.sh` as a user starts it, no MLFLOW_HOST: only 127.0.0.1 is bound,
    and the machine's other addresses refuse the connection."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_HOST", "MLFLOW_AUTH_CONFIG_PATH")
    }
    env |= {
        "MLFLOW_PORT": str(port),
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
    }
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            ["bash", str(ROOT / "mlflow/serve.sh")],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop() ends the server's workers too
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: healthy(url) or server.poll() is not None, "the MLflow server")
        assert healthy(url), (tmp_path / "server.log").read_text()[-3000:]
        assert listening_addresses(port) == {"127.0.0.1"}
        for address in other_addresses():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=10).close()
    finally:
        stop(server)


def test_authenticated_server_turns_away_anonymous_requests(tmp_path):
    config = tmp_path / "basic_auth.ini"
    config.write_text(
        (ROOT / "mlflow/basic_auth.ini.example")
        .read_text()
        .replace("sqlite:///basic_auth.db", f"sqlite:///{tmp_path / 'auth.db'}")
        .replace("CHANGE-ME-before-first-start", "a-long-test-password")
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key",
    }
    with mlflow_server(tmp_path, env) as server:
        url = f"{server['url']}/api/2.0/mlflow/experiments/search?max_results=1"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(url)
        request.add_header("Authorization", "Basic YWRtaW46YS1sb25nLXRlc3QtcGFzc3dvcmQ=")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


class Payload:
    """Anything a pickle could smuggle in."""


def test_weights_load_refuses_pickled_code(tmp_path):
    model = SheetMusicNet(ModelConfig(n_mels=64, n_frames=47, width=4))
    path = tmp_path / "model.pt"
    torch.save({"state": model.state_dict(), "payload": Payload()}, path)
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        load_weights(model, path)
