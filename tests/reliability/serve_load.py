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


def haproxy_replays() -> int:
    """Requests the local node's Serve HAProxy sent again after a replica failed them (its retries,
    summed over the backends; with Serve's `option redispatch 1` each goes to another replica), read
    from HAProxy's admin socket with `show stat`."""
    import csv
    import os
    import socket

    import ray
    from ray.serve._private.constants import RAY_SERVE_HAPROXY_SOCKET_PATH

    # Serve keeps each node's HAProxy files in a folder named by the node ID.
    folder, name = os.path.split(RAY_SERVE_HAPROXY_SOCKET_PATH)
    path = os.path.join(folder, ray.get_runtime_context().get_node_id(), name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
        admin.settimeout(10)
        admin.connect(path)
        admin.sendall(b"show stat\n")
        chunks = []
        while chunk := admin.recv(65536):
            chunks.append(chunk)
    lines = b"".join(chunks).decode().lstrip("# ").splitlines()
    rows = [row for row in csv.DictReader(lines) if row.get("svname") == "BACKEND"]
    return sum(int(row["wretr"] or 0) for row in rows)
