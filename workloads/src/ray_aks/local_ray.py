"""The one way this process gets a Ray: join the cluster a RayJob or `--address` names, or start a
local Ray, retried. Every `ray-aks` command that runs on Ray, `make demo`, the tests and the
benchmarks use it.
Imports Ray only when called."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from ray_aks.processes import free_port
from ray_aks.serving.local import apply_serve_env

# Ray's start-up waits, longer than its defaults (60 s for the dashboard, a raylet lookup): a loaded
# 2-core machine needs them. The dashboard's is read when ray is imported: a caller that imports
# ray before starting it calls apply_slow_start_env() first. Values already set win.
logger = logging.getLogger(__name__)

SLOW_START_ENV = {"RAY_DASHBOARD_STARTUP_TIMEOUT_S": "300", "RAY_raylet_start_wait_time_s": "120"}

# Serve binds fixed ports besides its HTTP port: HAProxy's stats page and Prometheus metrics (8404,
# 9101, on all addresses) and the fallback proxy behind HAProxy (8500, 9500, with SO_REUSEPORT). A
# second local Serve on the machine (`make demo` beside `ray-aks serve`, or beside a test session's
# Serve) failed to start its HAProxy ("cannot bind socket (Address already in use)"), or shared the
# fallback port, so that some requests reached the other Serve and got 404. A local Ray gives its
# Serve free ones; a cluster's pods keep Serve's defaults. Values already set win.
LOCAL_SERVE_PORT_ENV = (
    "RAY_SERVE_HAPROXY_STATS_PORT",
    "RAY_SERVE_HAPROXY_METRICS_PORT",
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
    "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT",
)


def apply_slow_start_env() -> None:
    for name, value in SLOW_START_ENV.items():
        os.environ.setdefault(name, value)


def connect_ray(address: str | None = None) -> str | None:
    """Join the Ray cluster `address` or RAY_ADDRESS names (a RayJob's driver does), else start a
    local one (start_local_ray); reuse a session already open. Return the dashboard's URL, None
    when the session was open already or the cluster has no dashboard."""
    apply_slow_start_env()
    import ray

    if ray.is_initialized():
        return None
    if address or os.environ.get("RAY_ADDRESS"):
        dashboard = ray.init(address=address).dashboard_url
        url = f"http://{dashboard}" if dashboard else None
    else:
        url = start_local_ray()
    if url:
        logger.info("Ray dashboard: %s", url)
    return url


def start_local_ray(
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    env_vars: dict[str, str] | None = None,
    dashboard_port: int | None = None,
    temp_dir: Path | None = None,
    logging_level: str | None = None,
    attempts: int = 3,
) -> str:
    """ray.init a local Ray (or join the one RAY_ADDRESS or `ray start` names) with the Serve
    settings users get (SERVE_ENV), free ports for Serve's own listeners (LOCAL_SERVE_PORT_ENV) and the
    dashboard on loopback; return the dashboard's URL.

    The dashboard stays on: Ray Train's controller polls its state API. `dashboard_port` None is a
    free port, so runs side by side do not collide. Defaults are Ray's (all cores, its object store
    size, /tmp/ray). On a loaded machine Ray's fixed start-up waits can run out ("The current node
    timed out during startup"), so a failed start is retried after its processes are stopped:
    ray.shutdown() leaves a failed start's GCS, dashboard and monitors running, and they would
    compete with the next try.
    """
    apply_slow_start_env()
    apply_serve_env()
    for name in LOCAL_SERVE_PORT_ENV:
        os.environ.setdefault(name, str(free_port()))  # the raylet, and Serve's processes, inherit it
    import ray

    options: dict[str, Any] = {
        "num_cpus": num_cpus,
        "object_store_memory": object_store_memory,
        "include_dashboard": True,
        "dashboard_host": "127.0.0.1",
        "runtime_env": {"env_vars": env_vars} if env_vars else None,
    }
    if temp_dir:
        options["_temp_dir"] = str(temp_dir)
    if logging_level:
        options["logging_level"] = logging_level
    for attempt in range(1, attempts + 1):
        before = _descendants()
        try:
            context = ray.init(**options, dashboard_port=dashboard_port or free_port())
            return f"http://{context.dashboard_url}"
        except Exception as err:  # Ray raises bare Exceptions for its start-up timeouts
            ray.shutdown()
            _stop_new_descendants(before)
            if attempt == attempts:
                raise
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            print(f"Ray did not start ({first_line[:200]}); retrying ({attempt}/{attempts - 1})", flush=True)
    raise AssertionError("unreachable")


def _descendants() -> set[int]:
    import psutil  # Ray's vendored copy (ray/thirdparty_files), importable once ray is

    return {child.pid for child in psutil.Process().children(recursive=True)}


def _stop_new_descendants(before: set[int]) -> None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        if child.pid not in before:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
