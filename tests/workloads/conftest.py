"""Real parts for workload tests: one local Ray cluster (2 CPUs) and one MLflow server per session."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, stop_process_group, wait_for

RAY_START_ATTEMPTS = 3


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray with 2 CPUs. The dashboard stays on: Ray Train's controller polls its state API."""
    import ray

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
    """A real `mlflow server` on loopback with a SQLite backend; yields its tracking URI.

    mlflow starts helper processes, so it runs in its own process group and the whole group is stopped.
    """
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("wb")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}; see {root / 'server.log'}")
        try:
            return requests.get(f"{uri}/health", timeout=2).status_code == 200
        except requests.RequestException:  # refused, or a read timeout while it starts on a busy machine
            return False

    try:
        wait_for(healthy, timeout=900, what=f"mlflow server at {uri}")
        yield uri
    finally:
        stop_process_group(proc)
        log.close()
