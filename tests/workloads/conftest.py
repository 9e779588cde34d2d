"""Real parts for workload tests: one local Ray cluster (2 CPUs) and one MLflow server per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ray_aks.tracking import local_server

from tests.conftest import free_port

RAY_START_ATTEMPTS = 3


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray with 2 CPUs. The dashboard stays on: Ray Train's controller polls its state API."""
    import ray
    from ray_aks.serving.local import apply_serve_env

    apply_serve_env()  # the Serve settings users get, before Ray's processes start
    # Ray waits a fixed 30 s for its raylet to register; on a loaded 2-core machine that can run out,
    # so a failed start is retried rather than erroring every test that needs Ray.
    for attempt in range(1, RAY_START_ATTEMPTS + 1):
        try:
            ray.init(
                num_cpus=2,
                object_store_memory=512 * 1024 * 1024,
                include_dashboard=True,
                dashboard_port=free_port(),
                # Tests run from the repo; workers import ray_aks from the installed (editable) package.
                runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
            )
            break
        except Exception:
            ray.shutdown()
            if attempt == RAY_START_ATTEMPTS:
                raise
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on loopback with a SQLite backend (the one `make demo` runs); yields its
    tracking URI and stops it, with its helper processes, after the session."""
    with local_server.mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        server.wait_healthy(timeout=900)
        yield server.uri
