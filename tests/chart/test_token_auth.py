"""The chart's token auth against one real Ray head, started as KubeRay starts one with the chart's
`authOptions: {mode: token}` (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN from the Secret; only its URL and
the token's file path differ from what a pod would get; tests/chart/ray_head.py):

- CVE-2023-48022 mitigation: the Jobs API runs no code for a caller without the token, and runs it for
  a caller with it. Raw HTTP to the Jobs REST API (what an attacker on the network would send), not
  Ray's client.
- The rendered `helm test` pod's command, and the NOTES' job submission.

One module, so that the head starts once.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.chart.ray_head import RAY_CLI, RayHead, ray_head
from tests.conftest import free_port, wait_until
from tools.render_chart import CHART_DIR, render, render_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    with ray_head(tmp_path_factory.mktemp("ray-head")) as running:
        yield running


# --- the Jobs API ---------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def job_body(marker: str) -> dict[str, str]:
    return {"entrypoint": f"python -c \"print('{marker}')\""}


@pytest.mark.parametrize(
    "headers", [{}, bearer("not-the-token"), {"Authorization": "the-token-without-bearer"}]
)
def test_job_submission_without_the_token_is_refused_and_runs_nothing(head: RayHead, headers) -> None:
    marker = f"ran-{secrets.token_hex(4)}"
    response = requests.post(
        f"{head.dashboard_url}/api/jobs/", json=job_body(marker), headers=headers, timeout=60
    )
    assert response.status_code in (401, 403), (response.status_code, response.text)
    listing = requests.get(f"{head.dashboard_url}/api/jobs/", headers=headers, timeout=60)
    assert listing.status_code in (401, 403)
    jobs = requests.get(f"{head.dashboard_url}/api/jobs/", headers=bearer(head.token), timeout=60).json()
    assert all(marker not in (job.get("entrypoint") or "") for job in jobs), "a refused job was created"


def test_job_submission_with_the_token_runs(head: RayHead) -> None:
    marker = f"ran-{secrets.token_hex(4)}"
    url = f"{head.dashboard_url}/api/jobs/"
    response = requests.post(url, json=job_body(marker), headers=bearer(head.token), timeout=60)
    assert response.status_code == 200, response.text
    job_id = response.json()["submission_id"]

    def finished() -> bool:
        status = requests.get(f"{url}{job_id}", headers=bearer(head.token), timeout=30).json()["status"]
        assert status not in ("FAILED", "STOPPED"), status
        return status == "SUCCEEDED"

    wait_until(finished, 600, f"job {job_id} to succeed", interval=0.2, retry_errors=False)
    logs = requests.get(f"{url}{job_id}/logs", headers=bearer(head.token), timeout=30).json()["logs"]
    assert marker in logs
    # The logs are behind the token too.
    assert requests.get(f"{url}{job_id}/logs", timeout=30).status_code in (401, 403)


# --- the `helm test` hook -------------------------------------------------------------------------


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


def test_passes_against_a_head_with_token_auth(head: RayHead, tmp_path: Path) -> None:
    result = run_hook(hook_container(), tmp_path, head.token, RAY_DASHBOARD_URL=head.dashboard_url)
    assert result.returncode == 0, result.stderr
    assert "refuses a request without the token (401)" in result.stdout
    assert "answers with the token; Ray 2.60.0" in result.stdout


def test_fails_with_a_wrong_token(head: RayHead, tmp_path: Path) -> None:
    result = run_hook(hook_container(), tmp_path, "0" * 32, RAY_DASHBOARD_URL=head.dashboard_url)
    assert result.returncode == 1
    assert "GET /api/version answered HTTP 403" in result.stderr


def test_fails_when_the_chart_says_auth_is_off_but_the_head_wants_a_token(
    head: RayHead, tmp_path: Path
) -> None:
    container = hook_container(**{"rayCluster.auth.mode": "disabled"})
    result = run_hook(container, tmp_path, RAY_DASHBOARD_URL=head.dashboard_url)
    assert result.returncode == 1
    assert "GET /api/version answered HTTP 401" in result.stderr


def test_fails_with_an_empty_token_file(head: RayHead, tmp_path: Path) -> None:
    result = run_hook(hook_container(), tmp_path, "", RAY_DASHBOARD_URL=head.dashboard_url)
    assert result.returncode == 1
    assert "no token was found" in result.stderr


def test_fails_when_the_head_does_not_answer(tmp_path: Path) -> None:
    container = hook_container(**{"tests.timeoutSeconds": 1})
    result = run_hook(container, tmp_path, "x", RAY_DASHBOARD_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "not healthy after 1s" in result.stderr


def notes(tmp_path: Path) -> str:
    """The chart's NOTES.txt rendered by real helm for the default values.

    `helm install --dry-run` renders NOTES but helm 3 wants a cluster for it, and `helm template`
    leaves NOTES out; so a copy of the chart renders the same file through `tpl` into a ConfigMap.
    """
    copy = Path(tempfile.mkdtemp(dir=tmp_path)) / "chart"
    shutil.copytree(CHART_DIR, copy, ignore=shutil.ignore_patterns("charts"))
    shutil.copy(copy / "templates" / "NOTES.txt", copy / "files" / "NOTES.txt")
    (copy / "templates" / "notes-configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        'data:\n  NOTES.txt: {{ tpl (.Files.Get "files/NOTES.txt") . | quote }}\n'
    )
    text = render_text(chart=copy, namespace="ml", show_only=["templates/notes-configmap.yaml"])
    return yaml.safe_load(text)["data"]["NOTES.txt"]


def notes_line(tmp_path: Path, prefix: str) -> str:
    """The first NOTES line (stripped) that starts with `prefix`."""
    return next(line.strip() for line in notes(tmp_path).splitlines() if line.strip().startswith(prefix))


def submit_command(tmp_path: Path, address: str) -> list[str]:
    """The NOTES' `ray job submit` command, aimed at `address` instead of the port-forward."""
    submit = shlex.split(notes_line(tmp_path, "ray job submit "))
    assert submit[submit.index("--address") + 1] == "http://localhost:8265"
    submit[submit.index("--address") + 1] = address
    return [RAY_CLI, *submit[1:]]


def run_notes_submission(tmp_path: Path, address: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the NOTES' `ray job submit` against `address` with `env`."""
    command = submit_command(tmp_path, address)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_the_notes_job_submission_works_with_the_token(head: RayHead, tmp_path: Path) -> None:
    mode = notes_line(tmp_path, "export RAY_AUTH_MODE=").split("=", 1)[1]
    env = {**os.environ, "RAY_AUTH_MODE": mode, "RAY_AUTH_TOKEN": head.token}
    result = run_notes_submission(tmp_path, head.dashboard_url, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout


def test_the_notes_job_submission_is_refused_without_the_token(head: RayHead, tmp_path: Path) -> None:
    # No RAY_AUTH_* and a HOME without ~/.ray/auth_token: the CLI has no token to send.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")} | {"HOME": str(tmp_path)}
    result = run_notes_submission(tmp_path, head.dashboard_url, env)
    assert result.returncode != 0
    assert "Authentication required: Unauthorized: Missing authentication token" in result.stderr
