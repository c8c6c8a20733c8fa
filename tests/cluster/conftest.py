from collections.abc import Iterator

import pytest

from tests.processes import mlflow_server, two_node_cluster


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory) -> Iterator[dict]:
    with two_node_cluster(tmp_path_factory.mktemp("ray")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server["url"]
