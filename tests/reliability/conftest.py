"""The workloads' real parts (a local Ray with 2 CPUs, an MLflow server on loopback), as in
tests/workloads/conftest.py but scoped to this package: they stop when the reliability tests are
done, so the workloads tests that run after them in the same pytest start their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability import cluster
from tests.workloads import conftest as workloads
from tests.workloads import serving_fixtures


@pytest.fixture(scope="package")
def ray_local() -> Iterator[None]:
    import ray

    if ray.is_initialized():  # the workloads' session Ray, when they ran first: share it
        cluster.dashboard_url = ray._private.worker._global_node.address_info["webui_url"]
        yield
        return
    # Retried more than the workloads' start: these tests run after heavy ones on a loaded machine.
    url = workloads.start_test_ray(attempts=5)
    cluster.dashboard_url = url.removeprefix("http://")
    try:
        yield
    finally:
        from ray import serve

        serve.shutdown()
        serving_fixtures._serve_port = None  # the next Ray gets its own Serve proxy
        ray.shutdown()


@pytest.fixture(scope="package")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from workloads.mlflow_server.__wrapped__(tmp_path_factory)
