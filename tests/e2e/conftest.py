"""The e2e cluster for the session (or the one `make e2e-up` left running), the ray-aks images in its
containerd, and the chart installed as a user installs it: `helm install` into a namespace that
enforces Pod Security "restricted"."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.e2e import kube
from tests.images.conftest import make
from tests.images.containers import Registry, docker_engine, local_registry
from tools.e2e import configs
from tools.e2e.cluster import Cluster
from tools.render_chart import renderable_chart

# The images the scenarios run: what `make test`'s image tests built (same arguments, so cached).
E2E_IMAGE_ARGS = [
    "RAY_BASE=local",
    "MODEL_SOURCE=test",
    "VARIANTS=cpu",
    "IMAGES=training serving",
    f"IMAGE_TAG={kube.IMAGE_TAG}",
]
PULL_SECRET = "ray-aks-registry"
SHARED_DIR = kube.LAYOUT.var / "volumes" / "shared"
MLFLOW_DIR = kube.LAYOUT.var / "volumes" / "mlflow"
STORAGE_CLASS = "ray-aks-e2e-local"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The running cluster of `make e2e-up` when there is one (left running), else one for the session."""
    session_started = time.monotonic()
    memory = kube.PeakMemory()
    memory.start()
    cluster = Cluster(kube.LAYOUT)
    reuse = all(cluster.status().values()) and kube.LAYOUT.kubeconfig.exists()
    kube.SUMMARY.unlink(missing_ok=True)
    if not reuse:
        cluster.up()
    timings = json.loads((kube.LAYOUT.state / "up.json").read_text())
    kube.record("cluster_up", {"reused": reuse, "seconds": timings})
    try:
        yield cluster
    finally:
        kube.record("wall_s", round(time.monotonic() - session_started, 1))
        kube.record("machine_peak_memory_mb", memory.stop())
        if not reuse:
            cluster.down()


@pytest.fixture(scope="session")
def registry(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The ray-aks images where the node pulls them, as from ACR: `make push` (the user's command) to
    a registry with TLS and basic auth at the node's address; the node's containerd trusts its CA. Its
    blobs are kept between runs, so a second push of unchanged images uploads nothing."""
    with docker_engine():
        workdir = tmp_path_factory.mktemp("registry")
        layout = kube.LAYOUT
        address, port, storage = layout.registry_address, layout.registry_port, layout.registry_storage
        with local_registry(workdir, address=address, port=port, storage=storage) as running:
            configs.registry_hosts(kube.LAYOUT, running.ca_file)
            env = running.login()
            started = time.monotonic()
            make("push", f"REGISTRY={running.host}", *E2E_IMAGE_ARGS, env=env)
            kube.record("make_push_s", round(time.monotonic() - started, 1))
            yield running


def pull_secret(namespace: str, registry: Registry) -> str:
    """The `kubernetes.io/dockerconfigjson` Secret the chart's `global.imagePullSecrets` names."""
    auth = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    config = {"auths": {registry.host: {"auth": auth}}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": PULL_SECRET, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    kube.apply([secret])
    return PULL_SECRET


def image_values(registry: Registry) -> list[str]:
    """helm arguments that point every ray-aks image at the registry, with its pull secret."""
    values = {
        "global.imageRegistry": registry.host,
        "global.imagePullSecrets[0].name": PULL_SECRET,
        "rayCluster.image.registry": registry.host,
        "mlflow.image.registry": registry.host,
    }
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def _static_volume(name: str, path: Path, access: str, size: str) -> dict:
    """A PersistentVolume on a folder of the node (the node is this machine), bound by class."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 1000, 100)  # the Ray pods' uid and gid (fsGroup does not apply to hostPath volumes)
    path.chmod(0o2775)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"ray-aks-e2e/volume": name}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": [access],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": str(path), "type": "Directory"},
        },
    }


@pytest.fixture(scope="session")
def storage(cluster: Cluster) -> None:
    """What AKS gives through its CSI drivers, made static here: a StorageClass with no provisioner, a
    ReadWriteMany volume for the shared claim (`ray-shared`, every Ray pod mounts it) and a volume for
    MLflow's claim; MNIST-format data on the shared one."""
    for directory in (SHARED_DIR, MLFLOW_DIR):
        shutil.rmtree(directory, ignore_errors=True)
    kube.apply(
        [
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": STORAGE_CLASS},
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "Immediate",
            },
            _static_volume("ray-aks-e2e-shared", SHARED_DIR, "ReadWriteMany", "5Gi"),
            _static_volume("ray-aks-e2e-mlflow", MLFLOW_DIR, "ReadWriteOnce", "1Gi"),
        ]
    )
    data = SHARED_DIR / "datasets" / "mnist"
    subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "ray-aks"), "data", "digits", "--output", str(data)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["chown", "-R", "1000:100", str(SHARED_DIR)], check=True)


@pytest.fixture(scope="session")
def namespace(cluster: Cluster, storage: None) -> str:
    kube.restricted_namespace(kube.NAMESPACE)
    kube.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "ray-shared", "namespace": kube.NAMESPACE},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": STORAGE_CLASS,
                    "resources": {"requests": {"storage": "5Gi"}},
                    "selector": {"matchLabels": {"ray-aks-e2e/volume": "ray-aks-e2e-shared"}},
                },
            }
        ]
    )
    return kube.NAMESPACE


@pytest.fixture(scope="session")
def chart() -> Iterator[Path]:
    with renderable_chart() as path:
        yield path


@pytest.fixture(scope="session")
def release(cluster: Cluster, registry: Registry, namespace: str, chart: Path) -> Iterator[dict]:
    """`helm install` with the e2e values: what it printed, and the time to a ready RayCluster."""
    pull_secret(namespace, registry)
    started = time.monotonic()
    installed = kube.helm(
        "install", kube.RELEASE, str(chart), "--namespace", namespace,
        "-f", str(kube.VALUES), *image_values(registry), "--timeout", "10m",
    )  # fmt: skip
    cluster_name = f"{kube.RELEASE}-ray-aks"

    def ready() -> bool:
        state = kube.kubectl_json("-n", namespace, "get", "raycluster", cluster_name).get("status", {})
        return state.get("state") == "ready"

    kube.wait_until(ready, 900, f"RayCluster {cluster_name} to be ready")
    kube.record("install_to_ready_raycluster_s", round(time.monotonic() - started, 1))
    yield {"stdout": installed.stdout, "stderr": installed.stderr, "cluster": cluster_name}
    kube.helm("uninstall", kube.RELEASE, "--namespace", namespace, "--wait", "--timeout", "5m", check=False)


def pods(namespace: str, selector: str = "") -> list[dict]:
    args = ["-n", namespace, "get", "pods"] + (["-l", selector] if selector else [])
    return kube.kubectl_json(*args)["items"]


def pod_summary(namespace: str) -> str:
    return json.dumps(
        {p["metadata"]["name"]: p["status"].get("phase") for p in pods(namespace)}, indent=1, sort_keys=True
    )


JOB = f"{kube.RELEASE}-ray-aks-mnist"
SERVICE = f"{kube.RELEASE}-ray-aks-serving"
MODEL = "mnist-cnn"


def mlflow(namespace: str, path: str, **params) -> dict:
    """GET `path` of the chart's MLflow server, through a port-forward to its Service."""
    name = f"{kube.RELEASE}-ray-aks-mlflow"
    with kube.port_forward(namespace, f"svc/{name}", 5000) as url:
        response = requests.get(f"{url}{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="session")
def finished_job(release, namespace) -> dict:
    started = time.monotonic()

    def done() -> dict | None:
        job = kube.kubectl_json("-n", namespace, "get", "rayjob", JOB)
        status = job.get("status", {})
        return job if status.get("jobDeploymentStatus") in ("Complete", "Failed") else None

    job = kube.wait_until(
        done, 900, f"RayJob {JOB} to finish", interval=5, detail=lambda: f"pods: {pod_summary(namespace)}"
    )
    kube.record(
        "rayjob", {"wall_s": round(time.monotonic() - started, 1), "status": job["status"].get("jobStatus")}
    )
    # The driver's output (ray job logs, through the submitter) is gone with the RayJob: keep it.
    logs = kube.kubectl("-n", namespace, "logs", f"job/{JOB}", "--tail=-1", check=False, timeout=120)
    (kube.LAYOUT.logs / "rayjob-driver.log").write_text(logs)
    return job


@pytest.fixture(scope="session")
def serving(finished_job, registry, chart, namespace) -> str:
    """The RayService, switched on with `helm upgrade` (scenario 6's upgrade too), ready; the name of
    its Serve Service as `kubectl port-forward` takes it."""
    started = time.monotonic()
    kube.helm(
        "upgrade", kube.RELEASE, str(chart), "--namespace", namespace, "-f", str(kube.VALUES),
        *image_values(registry), "--set", "rayService.enabled=true", "--set", "rayJobs.mnist.enabled=false",
        "--timeout", "10m",
    )  # fmt: skip

    def ready() -> bool:
        status = kube.kubectl_json("-n", namespace, "get", "rayservice", SERVICE).get("status", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        return conditions.get("Ready") == "True"

    what = f"RayService {SERVICE} to be ready"
    kube.wait_until(ready, 900, what, interval=5, detail=lambda: f"pods: {pod_summary(namespace)}")
    kube.record("install_to_ready_rayservice_s", round(time.monotonic() - started, 1))
    return f"svc/{SERVICE}-serve-svc"
