"""What the e2e scenarios share beyond kubectl and helm: a namespace of their own (saved to disk when a
test fails: every pod's logs and the namespace's events), a release of the chart installed into it,
a client pod inside the cluster that sends load through a Service, and reads of Serve's state.

A scenario registers the namespaces it makes with `watched`; tests/e2e/conftest.py saves them when
one of its tests fails (as KubeRay's e2e support does), under .cache/e2e/failures/<test>/. The names
of the chart's objects come from tests/e2e/rendered.py (the render of the release), not from here.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.e2e import kube

# Namespaces whose logs and events a failing test saves.
WATCHED: set[str] = set()
FAILURES = kube.LAYOUT.state / "failures"


@contextmanager
def watched(namespace: str) -> Iterator[str]:
    WATCHED.add(namespace)
    try:
        yield namespace
    finally:
        WATCHED.discard(namespace)


def save_namespace(namespace: str, directory: Path) -> None:
    """Every pod's description and logs (and the previous container's, after a restart) and the
    namespace's events, into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    run = {"check": False, "timeout": 120}
    (directory / "events.txt").write_text(
        kube.kubectl("-n", namespace, "get", "events", "--sort-by=.lastTimestamp", **run)
    )
    (directory / "objects.txt").write_text(
        kube.kubectl("-n", namespace, "get", "all,rayclusters,rayjobs,rayservices", "-o", "wide", **run)
    )
    pods = json.loads(kube.kubectl("-n", namespace, "get", "pods", "-o", "json", **run) or '{"items": []}')
    for pod in pods["items"]:
        name = pod["metadata"]["name"]
        (directory / f"{name}.describe.txt").write_text(
            kube.kubectl("-n", namespace, "describe", "pod", name, **run)
        )
        containers = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
        for container in (c["name"] for c in containers):
            for previous in (False, True):
                args = ["-n", namespace, "logs", name, "-c", container] + (["--previous"] if previous else [])
                text = kube.kubectl(*args, **run)
                if text:
                    suffix = ".previous" if previous else ""
                    (directory / f"{name}.{container}{suffix}.log").write_text(text)


def save_failure(test_name: str) -> Path:
    """The watched namespaces' state after `test_name` failed; the folder it went to."""
    folder = FAILURES / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:150]
    for namespace in sorted(WATCHED):
        save_namespace(namespace, folder / namespace)
    return folder


@contextmanager
def namespace(name: str, registry, labels: dict[str, str] | None = None) -> Iterator[str]:
    """A namespace enforcing Pod Security "restricted", with the registry's pull secret, watched for
    failures and deleted afterwards (also on failure)."""
    from tests.e2e.conftest import pull_secret

    kube.restricted_namespace(name, labels)
    pull_secret(name, registry)
    try:
        with watched(name):
            yield name
    finally:
        kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


# The values of a release of only its RayJob: no standalone RayCluster, no MLflow (the run is tracked
# locally), no `helm test` pod.
ONLY_THE_RAYJOB: dict[str, object] = {
    "rayCluster.enabled": False,
    "mlflow.enabled": False,
    "tests.enabled": False,
}


def set_args(values: dict[str, object]) -> list[str]:
    """helm --set arguments; lists and numbers as --set-json keeps their type."""
    args = []
    for key, value in values.items():
        if isinstance(value, str):
            args += ["--set", f"{key}={value}"]
        else:
            args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


@contextmanager
def release(
    name: str, namespace: str, chart: Path, registry, values: dict[str, object], timeout: str = "10m"
) -> Iterator[None]:
    """`helm install` of the chart with the e2e values, `values` on top; uninstalled afterwards."""
    from tests.e2e.conftest import image_values

    kube.helm(
        "install", name, str(chart), "--namespace", namespace, "-f", str(kube.VALUES),
        *image_values(registry), *set_args(values), "--timeout", timeout,
    )  # fmt: skip
    try:
        yield
    finally:
        kube.helm("uninstall", name, "--namespace", namespace, "--wait", "--timeout", "5m", check=False)


def pods(namespace: str, selector: str = "") -> list[dict]:
    args = ["-n", namespace, "get", "pods"] + (["-l", selector] if selector else [])
    return kube.kubectl_json(*args)["items"]


def head_service(cluster: str) -> str:
    """The head Service of a RayCluster: KubeRay makes it, named after the cluster."""
    return f"{cluster}-head-svc"


def rayservice_status(namespace: str, name: str) -> dict:
    return kube.kubectl_json("-n", namespace, "get", "rayservice", name).get("status", {})


def rayservice_ready(namespace: str, name: str) -> bool:
    conditions = {c["type"]: c["status"] for c in rayservice_status(namespace, name).get("conditions", [])}
    return conditions.get("Ready") == "True"


def auth_token(namespace: str, cluster: str) -> str:
    """The Ray token of a cluster: the Secret its `authOptions.secretName` names (the chart's kept
    token, by default), else the one KubeRay made for it (named after the cluster)."""
    import base64

    spec = kube.kubectl_json("-n", namespace, "get", "raycluster", cluster)["spec"]
    name = (spec.get("authOptions") or {}).get("secretName") or cluster
    secret = kube.kubectl_json("-n", namespace, "get", "secret", name)
    return base64.b64decode(secret["data"]["auth_token"]).decode()


class Dashboard:
    """The Ray dashboard's REST API of a cluster, through one `kubectl port-forward` kept open."""

    def __init__(self, namespace: str, service: str, token: str) -> None:
        self._forward = kube.port_forward(namespace, f"svc/{service}", 8265)
        self._headers = {"Authorization": f"Bearer {token}"}
        self.url = ""

    def __enter__(self) -> Dashboard:
        self.url = self._forward.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._forward.__exit__(*exc)

    def get(self, path: str) -> dict:
        response = requests.get(f"{self.url}{path}", headers=self._headers, timeout=30)
        response.raise_for_status()
        return response.json()

    def serve_replicas(self) -> dict[str, int]:
        """RUNNING replicas of each Serve deployment, as `app/deployment` -> count."""
        details = self.get("/api/serve/applications/")
        counts = {}
        for app_name, app in (details.get("applications") or {}).items():
            for dep_name, deployment in (app.get("deployments") or {}).items():
                running = [r for r in deployment.get("replicas", []) if r.get("state") == "RUNNING"]
                counts[f"{app_name}/{dep_name}"] = len(running)
        return counts


@contextmanager
def active_dashboard(namespace: str, rayservice: str) -> Iterator[Dashboard]:
    """The dashboard of a RayService's active cluster, through that cluster's head Service, with its
    token. (Not `<rayservice>-head-svc`: KubeRay selects `app.kubernetes.io/name: kuberay` there,
    and the chart's pods carry the chart's name.)"""
    cluster = rayservice_status(namespace, rayservice)["activeServiceStatus"]["rayClusterName"]
    with Dashboard(namespace, head_service(cluster), auth_token(namespace, cluster)) as dashboard:
        yield dashboard


class InClusterLoad:
    """A load from a client pod inside the cluster (the serving image runs ray_aks.serving.load)
    through a Service, as in-cluster clients reach Serve; bounded in time, or ended early by `stop`
    (once what it measures is over). `start` returns at once; `result` waits for the summary.

    The load also writes its summary to a file in the pod: one `kubectl exec` stream stayed open for
    7 minutes after its load had ended (8 Dec), so once the load may have ended, the file in the pod
    says whether it has, and holds the summary."""

    def __init__(self, namespace: str, pod: str) -> None:
        self.namespace, self.pod = namespace, pod
        self._process: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self._ends_by = float("inf")  # when the load ends by itself, at the latest
        self._stopped = False
        stamp = time.time_ns()
        self.stop_file = f"/tmp/ray-aks-load-stop-{stamp}"
        self.summary_file = f"/tmp/ray-aks-load-summary-{stamp}.json"

    def start(self, url: str, body: dict, seconds: float, concurrency: int) -> InClusterLoad:
        request_timeout_s = 60
        command = [
            str(kube.LAYOUT.binary("kubectl")), f"--kubeconfig={kube.LAYOUT.kubeconfig}",
            "-n", self.namespace, "exec", self.pod, "--",
            "python", "-m", "ray_aks.serving.load", url, "--json", json.dumps(body),
            "--seconds", str(seconds), "--concurrency", str(concurrency), "--timeout", str(request_timeout_s),
            "--stop-file", self.stop_file, "--output", self.summary_file,
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started_at = time.monotonic()
        self._ends_by = self.started_at + seconds + request_timeout_s
        return self

    def running(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            return False
        if not self._stopped and time.monotonic() < self._ends_by:
            return True
        return not self._summary_in_pod()

    def stop(self) -> None:
        """End the load now: its clients send nothing more, and the summary follows."""
        self._exec("touch", self.stop_file)
        self._stopped = True

    def result(self, timeout: float = 900) -> dict:
        assert self._process is not None, "the load was never started"
        if self._process.poll() is None and self._summary_in_pod():
            self._process.kill()  # the load ended; its exec stream did not
            self._process.communicate()
            return json.loads(self._exec("cat", self.summary_file))
        out, err = self._process.communicate(timeout=timeout)
        assert self._process.returncode == 0, f"the load generator failed: {err[-3000:]}"
        return json.loads(out.strip().splitlines()[-1])

    def _summary_in_pod(self) -> bool:
        return (
            self._exec("sh", "-c", f"test -s {self.summary_file} && echo yes", check=False).strip() == "yes"
        )

    def _exec(self, *command: str, check: bool = True) -> str:
        return kube.kubectl("-n", self.namespace, "exec", self.pod, "--", *command, check=check, timeout=60)


def idle_pod(
    namespace: str,
    name: str,
    image: str,
    pull_secret: str,
    requests: dict[str, str],
    memory_limit: str,
    container: str = "client",
) -> dict:
    """A Pod that passes Pod Security "restricted" and only sleeps: tests exec into it. `image` is a
    full reference; the pull secret is named by the pod itself (the kubelet checks it per pod)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "imagePullSecrets": [{"name": pull_secret}],
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": container,
                    "image": image,
                    "command": ["python", "-c", "import time; time.sleep(86400)"],
                    "resources": {"requests": requests, "limits": {"memory": memory_limit}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }


def client_pod(namespace: str, registry, name: str = "load") -> str:
    """A restricted pod from the serving image (ray_aks.serving.load inside), Running; its name."""
    from tests.e2e.conftest import PULL_SECRET

    image = f"{registry.host}/ray-aks-serving:{kube.IMAGE_TAG}"
    pod = idle_pod(namespace, name, image, PULL_SECRET, {"cpu": "50m", "memory": "128Mi"}, "512Mi")
    kube.apply([pod])
    kube.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=300s", timeout=330
    )
    return name
