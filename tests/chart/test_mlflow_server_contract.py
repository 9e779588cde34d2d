"""The MLflow Deployment's command line and env start a real `mlflow server` that does what the chart needs.

The rendered container's args and env are run with the workloads' mlflow (3.17.2, the image's
version) on loopback, with the pod's paths moved into a temporary directory: /health answers (the
probes), a client using the chart's in-cluster tracking URI host is accepted by MLflow's Host check,
a foreign Host is refused, and an artifact logged through the server lands in the artifact
destination. The external-database variant reads its backend URI from MLFLOW_BACKEND_STORE_URI, as
the Secret provides it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import free_port, stop_process_group, wait_until
from tools.render_chart import render

EXTERNAL = {
    "mlflow.database.type": "external",
    "mlflow.database.uri.secretName": "mlflow-db",
    "mlflow.artifactsDestination": "/mlflow/blob/artifacts",
}


def mlflow_container(set_values: dict[str, Any]) -> dict[str, Any]:
    objects = render(set_values=set_values)
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-mlflow")
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def local_command(container: dict[str, Any], root: Path, port: int) -> list[str]:
    """The container's command line with loopback, a free port, one worker and paths under `root`."""
    args = []
    for arg in container["args"]:
        if arg.startswith("--host="):
            arg = "--host=127.0.0.1"
        elif arg.startswith("--port="):
            arg = f"--port={port}"
        elif arg.startswith("--workers="):
            arg = "--workers=1"
        args.append(arg.replace("/mlflow/", f"{root}/"))
    (command,) = container["command"]
    return [str(Path(sys.executable).with_name(command)), *args]


def local_env(container: dict[str, Any], root: Path, secret_uri: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"].replace("/tmp", str(root / "tmp"))
        else:  # the database URI Secret
            assert var["valueFrom"]["secretKeyRef"] == {"name": "mlflow-db", "key": "uri"}
            env[var["name"]] = secret_uri
    return env


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


@pytest.fixture
def chart_mlflow(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """(local URI, artifact directory, in-cluster Host header) of a server started as the chart starts it."""
    container = mlflow_container({})
    (tmp_path / "tmp").mkdir()
    (tmp_path / "data").mkdir()
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        local_command(container, tmp_path, port),
        env=local_env(container, tmp_path, f"sqlite:///{tmp_path / 'external.db'}"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(
                f"mlflow server exited with {proc.returncode}: {tail(tmp_path / 'server.log')}"
            )
        try:
            return requests.get(f"{uri}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    artifacts = tmp_path / "data" / "artifacts"
    try:
        wait_until(
            healthy,
            900,
            f"mlflow server started as the chart starts it at {uri}",
            interval=0.2,
            retry_errors=False,
        )
        yield uri, artifacts, "ray-ray-aks-mlflow.ray.svc:5000"
    finally:
        stop_process_group(proc)
        log.close()


@pytest.mark.slow
def test_chart_command_line_serves_tracking_and_artifacts(chart_mlflow: tuple[str, Path, str]) -> None:
    uri, artifacts, cluster_host = chart_mlflow
    create = f"{uri}/api/2.0/mlflow/experiments/create"

    accepted = requests.post(create, json={"name": "from-ray"}, headers={"Host": cluster_host}, timeout=30)
    assert accepted.status_code == 200, accepted.text
    refused = requests.post(
        create, json={"name": "rebinding"}, headers={"Host": "evil.example.com"}, timeout=30
    )
    assert refused.status_code == 403, refused.text

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(accepted.json()["experiment_id"])
    client.log_text(run.info.run_id, "hello from a Ray worker", "notes/hello.txt")
    stored = list(artifacts.rglob("hello.txt"))
    assert [p.read_text() for p in stored] == ["hello from a Ray worker"]


def test_external_database_uri_reaches_mlflow_server_through_its_env_var() -> None:
    from mlflow.cli import server

    container = mlflow_container(EXTERNAL)
    from_secret = [v["name"] for v in container["env"] if "secretKeyRef" in v.get("valueFrom", {})]
    assert from_secret == ["MLFLOW_BACKEND_STORE_URI"]
    assert not [a for a in container["args"] if a.startswith("--backend-store-uri")]
    (option,) = [p for p in server.params if p.name == "backend_store_uri"]
    assert option.envvar == "MLFLOW_BACKEND_STORE_URI"
    assert "--artifacts-destination=/mlflow/blob/artifacts" in container["args"]
