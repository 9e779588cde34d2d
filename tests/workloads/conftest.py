"""Real parts for workload tests: one local Ray cluster (2 CPUs) and one MLflow server per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools import mlflow_server as local_mlflow

# What the tests' Ray gives every worker: no tokenizer thread pool forked into Ray's workers.
# Workers import ray_aks from the installed (editable) package.
RAY_ENV = {"TOKENIZERS_PARALLELISM": "false"}
RAY_OBJECT_STORE_BYTES = 512 * 1024 * 1024


# Serve keeps a deleted replica serving for 30 s so that load balancers elsewhere on the network can
# deregister it (Ray Serve's RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S in throughput-optimized
# mode). The tests' HAProxy runs on this machine and reloads in about a second, so a few seconds keep
# the same order of events; at 30 s every app a test module deletes cost half a minute (the e2e
# cluster's RayService keeps Serve's default).
SERVE_DRAIN_ENV = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "3"}


def start_test_ray(attempts: int = 3) -> str:
    """The tests' local Ray (2 CPUs, as on the 2-core CI machine); returns the dashboard URL."""
    import os

    from ray_aks.local_ray import start_local_ray

    for name, value in SERVE_DRAIN_ENV.items():
        os.environ.setdefault(name, value)  # the raylet, and every Ray process, inherit it

    return start_local_ray(
        num_cpus=2, object_store_memory=RAY_OBJECT_STORE_BYTES, env_vars=RAY_ENV, attempts=attempts
    )


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray with 2 CPUs. The dashboard stays on: Ray Train's controller polls its state API."""
    import ray

    start_test_ray()
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on loopback with a SQLite backend (the one `make demo` runs); yields its
    tracking URI and stops it, with its helper processes, after the session."""
    with local_mlflow.mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        server.wait_healthy(timeout=900)
        yield server.uri
