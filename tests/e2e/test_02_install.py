"""Scenario 2: `helm install` into a namespace enforcing Pod Security "restricted": every pod admitted,
the RayCluster ready with real Ray in its head and worker, token auth on the Jobs API, `helm test`."""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e import kube, scenario
from tests.e2e.conftest import pods

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(3600)]


def test_helm_install_prints_no_pod_security_warning(release):
    assert "Warning" not in release["stderr"], release["stderr"]
    assert "violate PodSecurity" not in release["stdout"] + release["stderr"]


def test_no_pod_was_refused_by_admission(release, namespace):
    events = kube.kubectl_json("-n", namespace, "get", "events")["items"]
    refused = [e["message"] for e in events if e.get("reason") == "FailedCreate"]
    assert not refused, refused


def test_head_and_worker_pods_run(release, namespace):
    selector = f"ray.io/cluster={release['cluster']}"
    by_type = {}
    for pod in pods(namespace, selector):
        by_type.setdefault(pod["metadata"]["labels"]["ray.io/node-type"], []).append(pod["status"]["phase"])
    assert by_type == {"head": ["Running"], "worker": ["Running"]}


def head_pod(namespace: str, cluster: str) -> str:
    return pods(namespace, f"ray.io/cluster={cluster},ray.io/node-type=head")[0]["metadata"]["name"]


def test_real_ray_sees_the_head_and_the_worker(release, namespace):
    script = "import json, ray; ray.init(); print(json.dumps([n['Alive'] for n in ray.nodes()]))"
    out = kube.kubectl(
        "-n",
        namespace,
        "exec",
        head_pod(namespace, release["cluster"]),
        "-c",
        "ray-head",
        "--",
        "python",
        "-c",
        script,
    )
    assert json.loads(out.strip().splitlines()[-1]) == [True, True]


def test_jobs_api_refuses_a_request_without_the_token(release, namespace):
    with kube.port_forward(namespace, f"svc/{scenario.head_service(release['cluster'])}", 8265) as url:
        response = requests.get(f"{url}/api/jobs/", timeout=30)
    assert response.status_code in (401, 403), response.text


def test_jobs_api_answers_a_request_with_the_token(release, namespace):
    headers = {"Authorization": f"Bearer {scenario.auth_token(namespace, release['cluster'])}"}
    with kube.port_forward(namespace, f"svc/{scenario.head_service(release['cluster'])}", 8265) as url:
        response = requests.get(f"{url}/api/jobs/", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_helm_test_passes(release, namespace):
    result = kube.helm("test", kube.RELEASE, "--namespace", namespace, "--timeout", "10m")
    assert "Phase:          Succeeded" in result.stdout or "Succeeded" in result.stdout, result.stdout
