"""Scenario 4: the chart's NetworkPolicies, enforced by a real dataplane (kube-router): from a pod in
another namespace the head's 8265 and 6379 and MLflow's 5000 are closed; from the namespace the values
allow, Serve's 8000 answers. Scenarios 2 and 3 ran with these policies on: Ray's own traffic passes."""

from __future__ import annotations

import json

import pytest

from tests.e2e import kube, scenario
from tests.e2e.conftest import mlflow_service, pull_secret, serving_serve_service

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

PROBE = """
import json, socket, sys, urllib.request
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    if path:
        status = urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5).status
        print(json.dumps({"open": True, "status": status}))
    else:
        socket.create_connection((host, port), timeout=5).close()
        print(json.dumps({"open": True}))
except Exception as err:
    print(json.dumps({"open": False, "error": type(err).__name__}))
"""


def probe_pod(namespace: str, registry) -> str:
    """A pod (restricted, uid 1000) in `namespace` that runs the probes; its name once it runs."""
    kube.restricted_namespace(namespace)
    # Named by the pod even though the node already has the image: the kubelet (1.35) checks that a
    # pod may use an image that was pulled with credentials.
    secret = pull_secret(namespace, registry)
    image = f"{registry.host}/ray-aks-training:{kube.IMAGE_TAG}"
    pod = scenario.idle_pod(
        namespace, "probe", image, secret, {"cpu": "10m", "memory": "64Mi"}, "256Mi", "probe"
    )
    kube.apply([pod])
    kube.kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/probe", "--timeout=300s", timeout=330)
    return "probe"


def reach(namespace: str, host: str, port: int, path: str = "") -> dict:
    out = kube.kubectl(
        "-n", namespace, "exec", "probe", "--", "python", "-c", PROBE, host, str(port), path, timeout=60
    )
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def targets(release, serving, namespace) -> dict[str, tuple[str, int]]:
    suffix = f"{namespace}.svc.cluster.local"
    head = f"{scenario.head_service(release['cluster'])}.{suffix}"
    return {
        "dashboard": (head, 8265),
        "gcs": (head, 6379),
        "mlflow": (f"{mlflow_service()}.{suffix}", 5000),
        "serve": (f"{serving_serve_service()}.{suffix}", 8000),
    }


@pytest.fixture(scope="module")
def outsider(cluster, registry) -> str:
    yield probe_pod("outsider", registry)
    kube.kubectl("delete", "namespace", "outsider", "--wait=false", check=False)


@pytest.fixture(scope="module")
def serve_client(cluster, registry) -> str:
    yield probe_pod("serve-clients", registry)
    kube.kubectl("delete", "namespace", "serve-clients", "--wait=false", check=False)


@pytest.mark.parametrize("target", ["dashboard", "gcs", "mlflow", "serve"])
def test_a_pod_of_another_namespace_cannot_reach(target, targets, outsider):
    result = reach("outsider", *targets[target])
    kube.record(f"policy_probe_outsider_{target}", result)
    assert result["open"] is False, result


def test_the_allowed_namespace_reaches_serve(targets, serve_client):
    result = reach("serve-clients", *targets["serve"], "/-/routes")
    kube.record("policy_probe_serve_clients_serve", result)
    assert result == {"open": True, "status": 200}


@pytest.mark.parametrize("target", ["dashboard", "gcs", "mlflow"])
def test_the_allowed_namespace_reaches_nothing_else(target, targets, serve_client):
    result = reach("serve-clients", *targets[target])
    kube.record(f"policy_probe_serve_clients_{target}", result)
    assert result["open"] is False, result
