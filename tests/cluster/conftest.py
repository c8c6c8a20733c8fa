from collections.abc import Iterator

import pytest

from tests.processes import mlflow_server, postgres_database, two_node_cluster


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory) -> Iterator[dict]:
    with two_node_cluster(tmp_path_factory.mktemp("ray")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory) -> Iterator[str]:
    """`mlflow/serve.sh` on a PostgreSQL backend store, as on a cluster."""
    folder = tmp_path_factory.mktemp("mlflow")
    with (
        postgres_database() as database,
        mlflow_server(folder, {"MLFLOW_BACKEND_STORE_URI": database}) as server,
    ):
        yield server["url"]
