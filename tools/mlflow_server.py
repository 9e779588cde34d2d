"""A real `mlflow server` on a free loopback port (SQLite backend, local artifacts): the tracking
server of `make demo` and of the tests (the chart runs its own; the package never starts one)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ray_aks.processes import free_port, wait_until

from tools.process_group import stop_process_group


@dataclass
class LocalMlflowServer:
    uri: str
    proc: subprocess.Popen
    log_path: Path

    def healthy(self) -> bool:
        """Whether it answers /health; raises if the server process has exited."""
        import requests

        if self.proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {self.proc.returncode}; see {self.log_path}")
        try:
            return requests.get(f"{self.uri}/health", timeout=2).status_code == 200
        except requests.RequestException:  # refused, or a read timeout while it starts
            return False

    def wait_healthy(self, timeout: float) -> None:
        wait_until(self.healthy, timeout, f"mlflow server at {self.uri}", retry_errors=False)


@contextmanager
def mlflow_server(root: Path) -> Iterator[LocalMlflowServer]:
    """Start the server under `root` and yield at once (the caller awaits `wait_healthy`, e.g.
    while Ray starts). mlflow starts helper processes, so it runs in its own process group and the
    whole group is stopped on exit."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = root / "server.log"
    # fmt: off
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"), "--workers", "1",
    ]
    # fmt: on
    # As the chart runs it (mlflow.jobExecution): without the job runner's seven consumer
    # processes, which only MLflow's GenAI features use.
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            yield LocalMlflowServer(f"http://127.0.0.1:{port}", proc, log_path)
        finally:
            stop_process_group(proc)
