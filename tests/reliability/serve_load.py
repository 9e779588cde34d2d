"""A Serve deployment's replica processes (found through Ray's state API) and their memory. The load
itself comes from ray_aks.serving.load, the generator the e2e scenarios run inside the cluster."""

from __future__ import annotations

from typing import Any


def replica_actors(app: str, deployment: str) -> list[dict[str, Any]]:
    """The ALIVE replica actors of a deployment, from Ray's state API (each has a `pid`)."""
    from tests.reliability.cluster import list_alive_actors

    actors = list_alive_actors()
    name = f"SERVE_REPLICA::{app}#{deployment}#"
    return [a.__dict__ if not isinstance(a, dict) else a for a in actors if (a.name or "").startswith(name)]


def replica_pids(app: str, deployment: str) -> list[int]:
    return sorted(int(a["pid"]) for a in replica_actors(app, deployment))


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20
