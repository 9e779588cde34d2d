"""The rendered `helm test` pod's command and the NOTES' job submission, against a real Ray head
with token auth.

The head runs as KubeRay runs it (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN from the Secret), started
with `ray start --head --block` in its own process group and stopped as a group: `ray stop` would
stop every Ray on the machine. Only the URL and the token differ from what the pod would get.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import free_port, wait_for
from tools.render_chart import helm_binary, render, renderable_chart

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class RayHead:
    dashboard_url: str
    token: str


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    root = tmp_path_factory.mktemp("ray-head")
    token = secrets.token_hex(16)
    dashboard_port = free_port()
    url = f"http://127.0.0.1:{dashboard_port}"
    # `python` on PATH is the one with Ray, as in the Ray image: job entrypoints run `python`.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    # A loaded 2-core CI machine can take longer than Ray's default 60 s to start the dashboard.
    env["RAY_DASHBOARD_STARTUP_TIMEOUT_S"] = "300"
    log = (root / "ray-start.log").open("wb")
    # Ray's session sockets must fit AF_UNIX's 107 bytes: pytest's tmp paths are too long.
    temp_dir = tempfile.mkdtemp(prefix="rayh-", dir="/tmp")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ray")),
            "start",
            "--head",
            "--block",
            f"--port={free_port()}",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard_port}",
            "--include-dashboard=true",
            "--num-cpus=0",
            f"--temp-dir={temp_dir}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}; see {root / 'ray-start.log'}")
        try:
            return requests.get(f"{url}/api/gcs_healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(healthy, timeout=240, what=f"Ray head dashboard at {url}")
        yield RayHead(url, token)
    finally:
        _stop_group(proc)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def hook_container(**set_values: Any) -> dict[str, Any]:
    """The container of the rendered `helm test` Pod."""
    pods = [o for o in render(set_values=set_values) if o["kind"] == "Pod"]
    assert len(pods) == 1
    assert pods[0]["metadata"]["annotations"]["helm.sh/hook"] == "test"
    return pods[0]["spec"]["containers"][0]


def run_hook(
    container: dict[str, Any], token_dir: Path, token: str | None = None, **overrides: str
) -> subprocess.CompletedProcess[str]:
    """Run the container's command with its env values and the overrides; the token, if any, is
    written where the pod mounts the Secret (the mount path moved under token_dir)."""
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    if token is not None:
        mount = next(m for m in container["volumeMounts"] if m["name"] == "ray-auth-token")
        token_file = token_dir / Path(env["RAY_AUTH_TOKEN_PATH"]).relative_to(mount["mountPath"])
        token_file.write_text(token)
        env["RAY_AUTH_TOKEN_PATH"] = str(token_file)
    env.update(overrides)
    env["PATH"] = os.environ["PATH"]
    command = container["command"]
    assert command[0] == "python"
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_passes_against_a_head_with_token_auth(ray_head: RayHead, tmp_path: Path) -> None:
    result = run_hook(hook_container(), tmp_path, ray_head.token, RAY_DASHBOARD_URL=ray_head.dashboard_url)
    assert result.returncode == 0, result.stderr
    assert "refuses a request without the token (401)" in result.stdout
    assert "answers with the token; Ray 2.60.0" in result.stdout


def test_fails_with_a_wrong_token(ray_head: RayHead, tmp_path: Path) -> None:
    result = run_hook(hook_container(), tmp_path, "0" * 32, RAY_DASHBOARD_URL=ray_head.dashboard_url)
    assert result.returncode == 1
    assert "GET /api/version answered HTTP 403" in result.stderr


def test_fails_when_the_chart_says_auth_is_off_but_the_head_wants_a_token(
    ray_head: RayHead, tmp_path: Path
) -> None:
    container = hook_container(**{"rayCluster.auth.mode": "disabled"})
    result = run_hook(container, tmp_path, RAY_DASHBOARD_URL=ray_head.dashboard_url)
    assert result.returncode == 1
    assert "GET /api/version answered HTTP 401" in result.stderr


def test_fails_with_an_empty_token_file(ray_head: RayHead, tmp_path: Path) -> None:
    result = run_hook(hook_container(), tmp_path, "", RAY_DASHBOARD_URL=ray_head.dashboard_url)
    assert result.returncode == 1
    assert "no token was found" in result.stderr


def test_fails_when_the_head_does_not_answer(tmp_path: Path) -> None:
    container = hook_container(**{"tests.timeoutSeconds": 1})
    result = run_hook(container, tmp_path, "x", RAY_DASHBOARD_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "not healthy after 1s" in result.stderr


def notes() -> str:
    """The NOTES `helm install` prints for the default values."""
    with renderable_chart() as chart:
        result = subprocess.run(
            [helm_binary(), "install", "ray", str(chart), "--namespace", "ml", "--dry-run=client"],
            capture_output=True,
            text=True,
            check=True,
        )
    return result.stdout.split("NOTES:", 1)[1]


def test_the_notes_job_submission_works_with_the_token(ray_head: RayHead) -> None:
    lines = [line.strip() for line in notes().splitlines()]
    mode = next(line for line in lines if line.startswith("export RAY_AUTH_MODE="))
    submit = shlex.split(next(line for line in lines if line.startswith("ray job submit ")))
    assert submit[submit.index("--address") + 1] == "http://localhost:8265"
    submit[submit.index("--address") + 1] = ray_head.dashboard_url
    env = {**os.environ, "RAY_AUTH_MODE": mode.split("=", 1)[1], "RAY_AUTH_TOKEN": ray_head.token}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    result = subprocess.run(
        [ray_cli, *submit[1:]], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout


def test_the_notes_job_submission_is_refused_without_the_token(ray_head: RayHead, tmp_path: Path) -> None:
    submit = shlex.split(
        next(line.strip() for line in notes().splitlines() if line.strip().startswith("ray job submit "))
    )
    submit[submit.index("--address") + 1] = ray_head.dashboard_url
    # No RAY_AUTH_* and a HOME without ~/.ray/auth_token: the CLI has no token to send.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")} | {"HOME": str(tmp_path)}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    result = subprocess.run(
        [ray_cli, *submit[1:]], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode != 0
    assert "Authentication required: Unauthorized: Missing authentication token" in result.stderr
