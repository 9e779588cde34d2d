"""The tests' one local Ray (2 CPUs, as on the 2-core CI machine), started by the session fixture
`ray_local` (tests/conftest.py) and shared by every package that needs it."""

from __future__ import annotations

import os

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


def start_test_ray(attempts: int = 5) -> str:
    """Start the tests' local Ray; returns the dashboard URL. Retried more than Ray's users need:
    the session may start it after heavy tests, on a loaded machine."""
    from ray_aks.local_ray import start_local_ray

    for name, value in SERVE_DRAIN_ENV.items():
        os.environ.setdefault(name, value)  # the raylet, and every Ray process, inherit it

    return start_local_ray(
        num_cpus=2, object_store_memory=RAY_OBJECT_STORE_BYTES, env_vars=RAY_ENV, attempts=attempts
    )


def dashboard_address() -> str:
    """host:port of this process's Ray dashboard: Ray's state API needs it named, since other Rays
    may run on this machine and it refuses to guess between them ("Found multiple active Ray
    instances")."""
    import ray

    assert ray.is_initialized(), "the ray_local fixture has not started Ray"
    return ray._private.worker._global_node.address_info["webui_url"]
