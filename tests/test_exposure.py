"""Exposure: what the platform serves, loads and logs."""

import urllib.error
import urllib.request

import pytest
import torch

from tests.commands import ROOT, run_command
from tests.processes import mlflow_server
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


def test_server_binds_to_localhost_by_default():
    text = (ROOT / "mlflow/serve.sh").read_text()
    assert "HOST=${MLFLOW_HOST:-127.0.0.1}" in text


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
