"""CVE-2023-48022 mitigation, shown against a real Ray head started as KubeRay starts one with the
chart's `authOptions: {mode: token}` (RAY_AUTH_MODE=token, tests/chart/ray_head.py): the Jobs API
runs no code for a caller without the token, and runs it for a caller with it.

Raw HTTP to the Jobs REST API (what an attacker on the network would send), not Ray's client.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.chart.ray_head import RayHead, ray_head
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    with ray_head(tmp_path_factory.mktemp("ray-head")) as running:
        yield running


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


def test_job_submission_with_the_token_runs(head: RayHead, tmp_path: Path) -> None:
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
