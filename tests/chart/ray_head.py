"""A real Ray head with token auth, started the way KubeRay starts one, for tests of what users run
against it (the `helm test` check, the NOTES' job submission).

`ray start --head --block` runs in its own process group and is stopped as a group: `ray stop`
would stop every Ray on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import free_port, stop_process_group, wait_until

RAY_CLI = str(Path(sys.executable).with_name("ray"))


@dataclass(frozen=True)
class RayHead:
    dashboard_url: str
    token: str


class HeadExited(RuntimeError):
    """`ray start` exited before the head was ready."""


@contextmanager
def ray_head(log_dir: Path, attempts: int = 3) -> Iterator[RayHead]:
    """A ready head; `ray start` is retried when Ray's own start-up times out on a loaded machine
    (its raylet registration wait is a fixed 30 s)."""
    token = secrets.token_hex(16)
    for attempt in range(1, attempts + 1):
        try:
            with _one_head(log_dir / f"ray-start-{attempt}.log", token) as head:
                yield head
                return
        except HeadExited:
            if attempt == attempts:
                raise


@contextmanager
def _one_head(log_path: Path, token: str) -> Iterator[RayHead]:
    dashboard_port, agent_port = free_port(), free_port()
    url = f"http://127.0.0.1:{dashboard_port}"
    # Ready as KubeRay's head readiness probe has it: the dashboard agent (which runs submitted
    # jobs) answers local_raylet_healthz and the dashboard answers gcs_healthz.
    ready_urls = [f"http://127.0.0.1:{agent_port}/api/local_raylet_healthz", f"{url}/api/gcs_healthz"]
    # As in a KubeRay pod: RAY_AUTH_MODE and RAY_AUTH_TOKEN set, and `python` is the one with Ray
    # (job entrypoints run `python`).
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        # A loaded 2-core machine can take longer than Ray's default 60 s to start the dashboard.
        "RAY_DASHBOARD_STARTUP_TIMEOUT_S": "300",
    }
    # Ray's session sockets must fit AF_UNIX's 107 bytes: pytest's tmp paths are too long.
    temp_dir = tempfile.mkdtemp(prefix="rayh-", dir="/tmp")
    command = [
        RAY_CLI,
        "start",
        "--head",
        "--block",
        f"--port={free_port()}",
        "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard_port}",
        f"--dashboard-agent-listen-port={agent_port}",
        "--include-dashboard=true",
        "--num-cpus=0",
        f"--temp-dir={temp_dir}",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

        def ready() -> bool:
            if proc.poll() is not None:
                raise HeadExited(f"ray start exited with {proc.returncode}; see {log_path}")
            try:
                return all(requests.get(u, timeout=2).status_code == 200 for u in ready_urls)
            except requests.ConnectionError:
                return False

        try:
            wait_until(ready, 240, f"Ray head at {url}", interval=0.2, retry_errors=False)
            yield RayHead(url, token)
        finally:
            # Killed, not asked: on SIGTERM `ray start --block` stops its processes one by one with
            # their own timeouts (34 s measured), and nothing of this head outlives the test.
            stop_process_group(proc, grace_s=0)
            shutil.rmtree(temp_dir, ignore_errors=True)
