"""The files a cluster deploys from: linted and checked here, since Docker can't run here."""

import shutil

import pytest
import yaml

from tests.commands import ROOT, run_command


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv/bin/hadolint")
    result = run_command([hadolint, "docker/Dockerfile"], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_what_the_nodes_need():
    text = (ROOT / "docker/Dockerfile").read_text()
    assert "libcairo2" in text and "portaudio19-dev" in text
    assert "pip install ." in text  # torch/torchaudio pins come from pyproject.toml
    for folder in ("trainables", "search_spaces", "analysis", "platform", "mlflow"):
        assert f"COPY {folder} ./{folder}" in text


def test_compose_runs_mlflow_on_postgres_with_auth_and_no_secret_in_it():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mlflow"}
    mlflow = services["mlflow"]
    env = mlflow["environment"]
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/run/secrets/basic_auth.ini"
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (ROOT / "docker" / compose["secrets"]["basic_auth.ini"]["file"]).parent.is_dir()
    # passwords come from the environment, never from the file
    assert "${POSTGRES_PASSWORD:?" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert "${MLFLOW_FLASK_SERVER_SECRET_KEY:?" in env["MLFLOW_FLASK_SERVER_SECRET_KEY"]


@pytest.mark.parametrize("name", ["cluster-gpu.yaml", "cluster-local.yaml"])
def test_cluster_yamls_launch_the_platform(name):
    cluster = yaml.safe_load((ROOT / "platform" / name).read_text())
    assert cluster["cluster_name"].startswith("sheetsweep")
    commands = " ".join(cluster["head_start_ray_commands"] + cluster["worker_start_ray_commands"])
    assert "ray start --head --port=6379" in commands and "--address=$RAY_HEAD_IP:6379" in commands
    setup = " ".join(cluster.get("head_setup_commands", []))
    assert "MLFLOW_TRACKING_URI" in setup and "RAY_AUTH_MODE=token" in setup
    text = (ROOT / "platform" / name).read_text()
    assert "ray submit platform/" in text and "--address auto" in text


def test_local_cluster_yaml_uses_the_ssh_provider():
    cluster = yaml.safe_load((ROOT / "platform/cluster-local.yaml").read_text())
    assert cluster["provider"]["type"] == "local"
    assert cluster["provider"]["worker_ips"]
    assert any("platform/install.sh" in c for c in cluster["setup_commands"])
