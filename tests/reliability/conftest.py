"""The workloads' real parts (a local Ray with 2 CPUs, an MLflow server on loopback), as in
tests/workloads/conftest.py but scoped to this package: they stop when the reliability tests are
done, so the workloads tests that run after them in the same pytest start their own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.reliability import cluster
from tests.workloads import conftest as workloads
from tests.workloads import serving_fixtures


def _init_ray(attempts: int = 5) -> None:
    """ray.init as tests/workloads does it, retried: on a loaded machine Ray's fixed 30 s wait for
    the raylet to register can run out ("The current node timed out during startup"), and so can
    the dashboard's start."""
    import psutil  # Ray's vendored copy (ray/thirdparty_files), importable once ray is
    import ray

    # As tests/chart/ray_head.py does: a loaded 2-core machine can take longer than Ray's default
    # 60 s to start the dashboard.
    os.environ.setdefault("RAY_DASHBOARD_STARTUP_TIMEOUT_S", "300")
    from ray_aks.serving.local import apply_serve_env

    apply_serve_env()  # the Serve settings users get, before Ray's processes start
    me = psutil.Process()
    for attempt in range(1, attempts + 1):
        before = {child.pid for child in me.children(recursive=True)}
        try:
            context = ray.init(
                num_cpus=2,
                object_store_memory=512 * 1024 * 1024,
                include_dashboard=True,  # Ray Train's controller polls the state API
                dashboard_port=free_port(),
                runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
            )
            cluster.dashboard_url = context.dashboard_url
            return
        except Exception as err:
            ray.shutdown()
            # A failed start leaves its GCS, dashboard and monitors running (ray.shutdown does not
            # stop them): stop what this attempt started, or the next attempts compete with them
            # and Ray's state API sees several clusters on the machine.
            for child in me.children(recursive=True):
                if child.pid not in before:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.kill()
            if attempt == attempts:
                raise
            print(f"ray.init attempt {attempt} failed ({str(err)[:200]}); retrying")


@pytest.fixture(scope="package")
def ray_local() -> Iterator[None]:
    import ray

    if ray.is_initialized():  # the workloads' session Ray, when they ran first: share it
        cluster.dashboard_url = ray._private.worker._global_node.address_info["webui_url"]
        yield
        return
    _init_ray()
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
