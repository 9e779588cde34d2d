"""Serve on a Ray this process started or joined: the Serve settings and the one Serve start that
`ray-aks serve`, the demo, the tests and the benchmarks use. Imports Ray only when called."""

from __future__ import annotations

import os

from ray_aks.processes import wait_until

# Serve's throughput-optimized mode (Ray 2.56+): HAProxy answers Serve's HTTP port and forwards to
# the replicas, which serve HTTP themselves (direct ingress); Serve's actors talk gRPC; user code
# runs on the replica's main event loop; request logs are buffered. benchmarks/README.md has what
# each part buys. Ray's processes read these at
# start, so they are set before `ray.init` (local Ray) or on the pods (the chart's RayService).
SERVE_ENV = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    # The HAProxy manager starts a subprocess before it reports ready; on a busy node that takes
    # longer than Serve's default 5 s x 3 checks, after which the controller kills and restarts it.
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "30",
    # HAProxy replays a request whose replica closed the connection without answering (a replica
    # killed or lost with its node), not only one it could not connect to (Serve's default): the
    # other replicas answer it instead of the client getting a dropped connection. Safe for the
    # inference apps here (no side effects); an app whose requests must not run twice sets
    # `conn-failure` back.
    "RAY_SERVE_HAPROXY_RETRY_ON": "conn-failure empty-response",
}


def apply_serve_env() -> None:
    """Set SERVE_ENV in this process (values already set win) before it starts a local Ray."""
    for name, value in SERVE_ENV.items():
        os.environ.setdefault(name, value)


def start_serve(host: str = "127.0.0.1", port: int = 8000, timeout: float = 300) -> str:
    """Start Serve's HTTP ingress on host:port and return its base URL once it answers."""
    import ray
    import requests
    from ray import serve

    options = {"host": host, "port": port}
    try:
        serve.start(http_options=options)
    except (ray.exceptions.ActorDiedError, TimeoutError):
        # On a loaded machine the controller may restart a slow proxy while serve.start waits on the
        # first one; the controller is up, so start again to connect to it.
        serve.start(http_options=options)
    url = f"http://{host}:{port}"

    def answering() -> bool:
        try:
            requests.get(f"{url}/-/routes", timeout=5)  # any answer: 503 until an app is deployed
            return True
        except requests.RequestException:
            return False

    wait_until(answering, timeout, f"Serve's HTTP ingress at {url}", interval=0.2, retry_errors=False)
    return url
