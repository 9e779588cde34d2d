"""Scenario 22: a token outside submitters can keep, and Kubernetes-RBAC auth.

Token: a release with the RayService (its textgen app; no MLflow, so no MNIST app) keeps one token in
the Secret the chart made (rayCluster.auth.createSecret, the default). A pod in a namespace the
NetworkPolicies admit to the Jobs API (networkPolicy.jobsApi.namespaces) submits a job through the
RayService's head Service with that token; `helm upgrade` moves the RayService to a new Ray cluster,
and the same token still submits; a wrong token gets 401. `helm uninstall` leaves the Secret, and a
new install takes it over with the same token.

Kubernetes-RBAC auth: a release whose RayCluster checks Kubernetes tokens (rayCluster.auth.
kubernetesRBAC): a pod whose ServiceAccount the values bind to the chart's Role (`ray:write` on the
RayCluster) submits with its own ServiceAccount token; one whose ServiceAccount is not bound is refused.

Each part in namespaces of its own, removed afterwards (also on failure)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e import kube, rendered, scenario
from tests.e2e.conftest import PULL_SECRET, image_values

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

TOKEN_FILE = "/var/run/secrets/ray/token"

# Submits `echo <marker>` to the Jobs API at argv[1] with the token argv[2] (or, when it is "-", the
# one in the file argv[4]), then waits for the job to end: the HTTP status of the submission, and the
# job's status and logs when it was accepted.
SUBMIT = """
import json, sys, time, urllib.error, urllib.request
url, token, marker, token_file = sys.argv[1:5]
if token == "-":
    token = open(token_file).read().strip()
def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
status, body = call("POST", "/api/jobs/", {"entrypoint": "echo " + marker})
out = {"submit_status": status}
if status == 200:
    job = json.loads(body)["submission_id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = json.loads(call("GET", "/api/jobs/" + job)[1])["status"]
        if state in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        time.sleep(2)
    logs = json.loads(call("GET", "/api/jobs/" + job + "/logs")[1])["logs"]
    out.update(job=job, status=state, logs=logs)
else:
    out["body"] = body[:300]
print(json.dumps(out))
"""


def submitter_pod(namespace: str, registry, name: str, service_account: str = "default") -> dict:
    """A restricted pod of the training image (Python) that runs SUBMIT; with a projected token of
    its ServiceAccount at TOKEN_FILE (what Kubernetes-RBAC auth checks)."""
    image = f"{registry.host}/ray-aks-training:{kube.IMAGE_TAG}"
    requests = {"cpu": "10m", "memory": "64Mi"}
    pod = scenario.idle_pod(namespace, name, image, PULL_SECRET, requests, "256Mi", "submitter")
    spec = pod["spec"]
    spec.update(serviceAccountName=service_account, automountServiceAccountToken=False)
    spec["containers"][0]["volumeMounts"] = [
        {"name": "token", "mountPath": "/var/run/secrets/ray", "readOnly": True}
    ]
    spec["volumes"] = [
        {
            "name": "token",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]},
        }
    ]
    return pod


def start_pods(namespace: str, pods: list[dict]) -> None:
    kube.apply(pods)
    for pod in pods:
        name = pod["metadata"]["name"]
        kube.kubectl(
            "-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=300s", timeout=330
        )


def submit(namespace: str, pod: str, url: str, token: str) -> dict:
    """SUBMIT from `pod`; token "-": the pod's own ServiceAccount token."""
    marker = f"submitted-{uuid.uuid4().hex[:8]}"
    command = ["python", "-c", SUBMIT, url, token, marker, TOKEN_FILE]
    out = kube.kubectl("-n", namespace, "exec", pod, "--", *command, timeout=400)
    result = json.loads(out.strip().splitlines()[-1])
    result["printed"] = marker in result.pop("logs", "")
    return result


# --- the kept token ---------------------------------------------------------------------------------

TOKEN_NAMESPACE = "ray-token"
TOKEN_RELEASE = "ray-token"
SUBMITTERS = "ray-token-submitters"

# The submitted jobs (`echo`) run their driver on the head: no worker needed.
NO_WORKERS = {"rayCluster.workerGroups.cpu.replicas": 0, "rayCluster.workerGroups.cpu.minReplicas": 0}
TOKEN_VALUES: dict[str, object] = {
    "rayCluster.enabled": False,
    "rayJobs.mnist.enabled": False,
    "mlflow.enabled": False,
    "tests.enabled": False,
    "rayService.enabled": True,
    "rayCluster.sharedStorage.enabled": False,  # the shared claim is the main namespace's
    # The MNIST app loads its model from MLflow, left out here; one app (textgen) is enough to make
    # the RayService Ready, so the embeddings app is left out too (a model load fewer per cluster).
    "rayService.applications.mnist.enabled": False,
    "rayService.applications.embeddings.enabled": False,
    "networkPolicy.jobsApi.namespaces": [SUBMITTERS],
}
TOKEN = rendered.Release(TOKEN_RELEASE, TOKEN_NAMESPACE, TOKEN_VALUES)
token_rayservice = TOKEN.lookup("rayservice")
# The kept token's Secret, made by the first install (the later install takes it over).
token_secret = TOKEN.lookup("token_secret")


def kept_token(namespace: str) -> str:
    secret = kube.kubectl_json("-n", namespace, "get", "secret", token_secret())
    return base64.b64decode(secret["data"]["auth_token"]).decode()


def active_cluster(namespace: str) -> str:
    return (
        scenario.rayservice_status(namespace, token_rayservice())
        .get("activeServiceStatus", {})
        .get("rayClusterName", "")
    )


@pytest.fixture(scope="module")
def token_release(cluster, registry, chart) -> Iterator[dict]:
    with (
        scenario.namespace(TOKEN_NAMESPACE, registry),
        scenario.namespace(SUBMITTERS, registry),
        scenario.release(TOKEN_RELEASE, TOKEN_NAMESPACE, chart, registry, TOKEN_VALUES),
    ):
        rayservice = token_rayservice()
        kube.wait_until(
            lambda: scenario.rayservice_ready(TOKEN_NAMESPACE, rayservice),
            900,
            f"RayService {rayservice} to be ready",
            interval=5,
            detail=lambda: kube.kubectl("-n", TOKEN_NAMESPACE, "get", "pods", check=False),
        )
        start_pods(SUBMITTERS, [submitter_pod(SUBMITTERS, registry, "submitter")])
        # The active cluster's head Service (KubeRay's `<rayservice>-head-svc` selects
        # `app.kubernetes.io/name: kuberay`, which the chart's pods do not carry: it has no endpoints).
        cluster = active_cluster(TOKEN_NAMESPACE)
        yield {"url": head_url(cluster), "token": kept_token(TOKEN_NAMESPACE), "cluster": cluster}


def head_url(cluster: str) -> str:
    return f"http://{scenario.head_service(cluster)}.{TOKEN_NAMESPACE}.svc.cluster.local:8265"


@pytest.fixture(scope="module")
def upgraded(token_release, chart, registry) -> dict:
    """`helm upgrade` with a changed head template: KubeRay rolls the RayService onto a new cluster."""
    before = token_release["cluster"]
    kube.helm(
        "upgrade", TOKEN_RELEASE, str(chart), "--namespace", TOKEN_NAMESPACE, "-f", str(kube.VALUES),
        *image_values(registry), *scenario.set_args(TOKEN_VALUES),
        "--set", "rayService.rayCluster.head.labels.ray-aks-e2e/generation=second", "--timeout", "10m",
        "--force-conflicts",  # the upgrade command docs/upgrade.md gives (KubeRay writes to the RayService)
    )  # fmt: skip

    def moved() -> str:
        now = active_cluster(TOKEN_NAMESPACE)
        ready = scenario.rayservice_ready(TOKEN_NAMESPACE, token_rayservice())
        return now if now and now != before and ready else ""

    after = kube.wait_until(moved, 900, "the RayService to move to a new Ray cluster", interval=5)
    return {"before": before, "after": after}


def test_an_allowed_namespace_submits_with_the_kept_token(token_release):
    result = submit(SUBMITTERS, "submitter", token_release["url"], token_release["token"])
    kube.record("token_submit_before_upgrade", result | {"cluster": token_release["cluster"]})
    assert result["submit_status"] == 200, result
    assert result["status"] == "SUCCEEDED" and result["printed"], result


def test_a_wrong_token_is_refused_with_403(token_release):
    """Ray answers a missing token with 401 and a wrong one with 403 "Invalid authentication token"."""
    result = submit(SUBMITTERS, "submitter", token_release["url"], "not-the-token")
    kube.record("token_submit_wrong_token", result)
    assert result["submit_status"] == 403 and "Invalid authentication token" in result["body"], result


def test_the_same_token_submits_after_the_rayservice_moved_to_a_new_cluster(token_release, upgraded):
    assert kept_token(TOKEN_NAMESPACE) == token_release["token"], "the upgrade changed the kept token"
    result = submit(SUBMITTERS, "submitter", head_url(upgraded["after"]), token_release["token"])
    kube.record("token_submit_after_upgrade", result | upgraded)
    assert result["submit_status"] == 200, result
    assert result["status"] == "SUCCEEDED" and result["printed"], result


def test_uninstall_keeps_the_token_and_a_new_install_takes_it_over(token_release, upgraded, chart, registry):
    """helm.sh/resource-policy keep; the next install of the release reads it back (lookup)."""
    token = token_release["token"]
    kube.helm("uninstall", TOKEN_RELEASE, "--namespace", TOKEN_NAMESPACE, "--wait", "--timeout", "5m")
    assert kept_token(TOKEN_NAMESPACE) == token
    # Installed again (the fixture's release context uninstalls it at the end).
    values = TOKEN_VALUES | {"rayService.enabled": False, "rayCluster.enabled": True, **NO_WORKERS}
    kube.helm(
        "install", TOKEN_RELEASE, str(chart), "--namespace", TOKEN_NAMESPACE, "-f", str(kube.VALUES),
        *image_values(registry), *scenario.set_args(values), "--timeout", "10m",
    )  # fmt: skip
    secret = kube.kubectl_json("-n", TOKEN_NAMESPACE, "get", "secret", token_secret())
    kube.record("token_kept_across_uninstall", {"same_token": kept_token(TOKEN_NAMESPACE) == token})
    assert kept_token(TOKEN_NAMESPACE) == token
    assert secret["metadata"]["annotations"]["meta.helm.sh/release-name"] == TOKEN_RELEASE


# --- Kubernetes-RBAC auth ---------------------------------------------------------------------------

RBAC_NAMESPACE = "ray-rbac"
RBAC_RELEASE = "ray-rbac"
RBAC_SUBMITTERS = "ray-rbac-submitters"
BOUND, UNBOUND = "ray-submitter", "stranger"

RBAC_VALUES: dict[str, object] = {
    "rayJobs.mnist.enabled": False,
    "mlflow.enabled": False,
    "tests.enabled": False,
    "rayCluster.sharedStorage.enabled": False,  # the shared claim is the main namespace's
    "rayCluster.auth.kubernetesRBAC.enabled": True,
    "rayCluster.auth.kubernetesRBAC.subjects": [
        {"kind": "ServiceAccount", "name": BOUND, "namespace": RBAC_SUBMITTERS}
    ],
    "networkPolicy.jobsApi.namespaces": [RBAC_SUBMITTERS],
    **NO_WORKERS,
}
RBAC = rendered.Release(RBAC_RELEASE, RBAC_NAMESPACE, RBAC_VALUES)
rbac_raycluster = RBAC.lookup("raycluster")


@pytest.fixture(scope="module")
def rbac_release(cluster, registry, chart) -> Iterator[dict]:
    cluster_name = rbac_raycluster()
    with scenario.namespace(RBAC_NAMESPACE, registry), scenario.namespace(RBAC_SUBMITTERS, registry):
        accounts = [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": RBAC_SUBMITTERS},
            }
            for name in (BOUND, UNBOUND)
        ]
        kube.apply(accounts)
        with scenario.release(RBAC_RELEASE, RBAC_NAMESPACE, chart, registry, RBAC_VALUES):

            def ready() -> bool:
                status = kube.kubectl_json("-n", RBAC_NAMESPACE, "get", "raycluster", cluster_name).get(
                    "status", {}
                )
                return status.get("state") == "ready"

            kube.wait_until(ready, 900, f"RayCluster {cluster_name} to be ready", interval=5)
            start_pods(
                RBAC_SUBMITTERS,
                [
                    submitter_pod(RBAC_SUBMITTERS, registry, "bound", BOUND),
                    submitter_pod(RBAC_SUBMITTERS, registry, "unbound", UNBOUND),
                ],
            )
            url = f"http://{scenario.head_service(cluster_name)}.{RBAC_NAMESPACE}.svc.cluster.local:8265"
            yield {"url": url, "cluster": cluster_name}


def test_kubernetes_rbac_the_bound_service_account_submits(rbac_release):
    result = submit(RBAC_SUBMITTERS, "bound", rbac_release["url"], "-")
    kube.record("rbac_submit_bound_service_account", result)
    assert result["submit_status"] == 200, result
    assert result["status"] == "SUCCEEDED" and result["printed"], result


def test_kubernetes_rbac_an_unbound_service_account_is_refused(rbac_release):
    result = submit(RBAC_SUBMITTERS, "unbound", rbac_release["url"], "-")
    kube.record("rbac_submit_unbound_service_account", result)
    assert result["submit_status"] in (401, 403), result


def test_kubernetes_rbac_the_cluster_has_no_token_secret(rbac_release):
    """KubeRay makes no per-cluster Secret with Kubernetes-RBAC auth, and the chart none for it."""
    found = kube.kubectl("-n", RBAC_NAMESPACE, "get", "secret", rbac_release["cluster"], "--ignore-not-found")
    assert not found.strip()
    spec = kube.kubectl_json("-n", RBAC_NAMESPACE, "get", "raycluster", rbac_release["cluster"])["spec"]
    assert spec["authOptions"] == {"mode": "token", "enableK8sTokenAuth": True}
