"""The e2e cluster for the session (or the one `make e2e-up` left running), the ray-aks images in its
containerd, and the chart installed as a user installs it: `helm install` into a namespace that
enforces Pod Security "restricted"."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.e2e import kube, rendered, scenario, volumes
from tests.e2e.kube import PULL_SECRET
from tests.e2e.scenario import pods
from tests.support.containers import Registry, docker_engine, local_registry
from tests.support.make import make
from tools.e2e import configs
from tools.e2e.cluster import Cluster
from tools.render_chart import renderable_chart

# The images the scenarios run: what `make test`'s image tests built (same arguments, so cached).
E2E_IMAGE_ARGS = [
    "RAY_BASE=local",
    "MODEL_SOURCE=test",
    "VARIANTS=cpu",
    "IMAGES=training serving redis",
    f"IMAGE_TAG={kube.IMAGE_TAG}",
]
SHARED_VOLUME = "ray-aks-e2e-shared"
SHARED_DIR = kube.LAYOUT.var / "volumes" / "shared"
MLFLOW_DIR = kube.LAYOUT.var / "volumes" / "mlflow"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed scenario leaves its namespaces' pod logs and events under .cache/e2e/failures/."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and scenario.WATCHED:
        folder = scenario.save_failure(item.nodeid)
        report.sections.append(("e2e", f"logs and events of {sorted(scenario.WATCHED)} saved in {folder}"))


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
    return kube.image_args(registry.host)


def _static_volume(name: str, path: Path, access: str, size: str) -> dict:
    """A PersistentVolume on a folder of the node (the node is this machine), made ready for the pods."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 1000, 100)  # the Ray pods' uid and gid (fsGroup does not apply to hostPath volumes)
    path.chmod(0o2775)
    return volumes.host_volume(name, str(path), access, size)


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
                "metadata": {"name": volumes.STORAGE_CLASS},
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "Immediate",
            },
            _static_volume(SHARED_VOLUME, SHARED_DIR, "ReadWriteMany", "5Gi"),
            _static_volume("ray-aks-e2e-mlflow", MLFLOW_DIR, "ReadWriteOnce", "20Gi"),
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
    scenario.WATCHED.add(kube.NAMESPACE)  # the main release's scenarios save it when they fail
    kube.apply([volumes.shared_claim(kube.NAMESPACE, SHARED_VOLUME, "5Gi")])
    return kube.NAMESPACE


@pytest.fixture(scope="session")
def chart() -> Iterator[Path]:
    with renderable_chart() as path:
        yield path


class WorkerLoss(threading.Thread):
    """The worker-loss scenario: once the MNIST RayJob's run has its second checkpoint on the shared
    volume (so the first is registered: a worker reports an epoch only after the previous one's
    checkpoint is), delete a worker pod of the job's Ray cluster, as a node loss or an eviction would.
    Ray Train restarts the worker group from the latest checkpoint on the pod KubeRay makes anew."""

    CHECKPOINT = "checkpoint_epoch_0002"

    def __init__(self, namespace: str, job: str) -> None:
        super().__init__(daemon=True)
        self.namespace, self.job = namespace, job
        self.started = time.monotonic()
        self.deleted: dict | None = None
        self.error: str | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(0.5):
                if list(SHARED_DIR.glob(f"ray-results/*/{self.CHECKPOINT}")):
                    self._delete_a_worker()
                    return
        except Exception as err:  # reported by the scenario's test
            self.error = f"{type(err).__name__}: {err}"

    def _delete_a_worker(self) -> None:
        cluster = kube.kubectl_json("-n", self.namespace, "get", "rayjob", self.job)["status"][
            "rayClusterName"
        ]
        workers = pods(self.namespace, f"ray.io/cluster={cluster},ray.io/node-type=worker")
        victim = workers[0]["metadata"]["name"]
        kube.kubectl("-n", self.namespace, "delete", "pod", victim, "--wait=false")
        self.deleted = {
            "pod": victim,
            "after_checkpoint": self.CHECKPOINT,
            "at_s": round(time.monotonic() - self.started, 1),
        }

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


# The main release: installed with the e2e values (fixture `release`), then upgraded to the RayService
# instead of the RayJob (fixture `serving`).
MAIN = rendered.Release(kube.RELEASE, kube.NAMESPACE)
SERVING_VALUES: dict[str, object] = {"rayService.enabled": True, "rayJobs.mnist.enabled": False}
SERVING = rendered.Release(kube.RELEASE, kube.NAMESPACE, SERVING_VALUES)
main_raycluster = MAIN.lookup("raycluster")
mnist_rayjob = MAIN.lookup("rayjob", "mnist")
# MLflow's Service and claim, made by the install (the upgrade keeps them: test_rendered_names checks).
mlflow_service = MAIN.lookup("mlflow_service")
mlflow_claim = MAIN.lookup("mlflow_claim")
serving_rayservice = SERVING.lookup("rayservice")
serving_serve_service = SERVING.lookup("serve_service")
MODEL = "mnist-cnn"


@pytest.fixture(scope="session")
def release(cluster: Cluster, registry: Registry, namespace: str, chart: Path) -> Iterator[dict]:
    """`helm install` with the e2e values: what it printed, and the time to a ready RayCluster. The
    worker-loss scenario starts watching the MNIST RayJob as soon as it is installed."""
    pull_secret(namespace, registry)
    started = time.monotonic()
    cluster_name = main_raycluster()
    worker_loss = WorkerLoss(namespace, mnist_rayjob())
    worker_loss.start()
    # MLflow's server while the RayJob logs and registers and the RayService loads the model: the
    # chart's default memory comes from this peak (test_06 records it before the uninstall).
    mlflow_memory = kube.ContainerPeakMemory("mlflow server")
    mlflow_memory.start()
    installed = kube.helm(
        "install", kube.RELEASE, str(chart), "--namespace", namespace,
        "-f", str(kube.VALUES), *image_values(registry), "--timeout", "10m",
    )  # fmt: skip

    def ready() -> bool:
        state = kube.kubectl_json("-n", namespace, "get", "raycluster", cluster_name).get("status", {})
        return state.get("state") == "ready"

    kube.wait_until(ready, 900, f"RayCluster {cluster_name} to be ready")
    kube.record("install_to_ready_raycluster_s", round(time.monotonic() - started, 1))
    yield {
        "stdout": installed.stdout,
        "stderr": installed.stderr,
        "cluster": cluster_name,
        "worker_loss": worker_loss,
        "mlflow_memory": mlflow_memory,
    }
    worker_loss.stop()
    mlflow_memory.stop()
    kube.helm("uninstall", kube.RELEASE, "--namespace", namespace, "--wait", "--timeout", "5m", check=False)


def pod_summary(namespace: str) -> str:
    return json.dumps(
        {p["metadata"]["name"]: p["status"].get("phase") for p in pods(namespace)}, indent=1, sort_keys=True
    )


def mlflow(namespace: str, path: str, **params) -> dict:
    """GET `path` of the chart's MLflow server, through a port-forward to its Service."""
    with kube.port_forward(namespace, f"svc/{mlflow_service()}", 5000) as url:
        response = requests.get(f"{url}{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="session")
def finished_job(release, namespace) -> dict:
    started = time.monotonic()
    name = mnist_rayjob()

    def done() -> dict | None:
        job = kube.kubectl_json("-n", namespace, "get", "rayjob", name)
        status = job.get("status", {})
        return job if status.get("jobDeploymentStatus") in ("Complete", "Failed") else None

    job = kube.wait_until(
        done, 900, f"RayJob {name} to finish", interval=5, detail=lambda: f"pods: {pod_summary(namespace)}"
    )
    kube.record(
        "rayjob", {"wall_s": round(time.monotonic() - started, 1), "status": job["status"].get("jobStatus")}
    )
    kube.record("worker_loss", release["worker_loss"].deleted or {"error": release["worker_loss"].error})
    # The driver's output (ray job logs, through the submitter) is gone with the RayJob: keep it.
    # KubeRay names the submitter Job after its RayJob.
    logs = kube.kubectl("-n", namespace, "logs", f"job/{name}", "--tail=-1", check=False, timeout=120)
    (kube.LAYOUT.logs / "rayjob-driver.log").write_text(logs)
    return job


@pytest.fixture(scope="session")
def serving(finished_job, registry, chart, namespace) -> str:
    """The RayService, switched on with `helm upgrade` (scenario 6's upgrade too), ready; the name of
    its Serve Service as `kubectl port-forward` takes it."""
    started = time.monotonic()
    kube.helm(
        "upgrade", kube.RELEASE, str(chart), "--namespace", namespace, "-f", str(kube.VALUES),
        *image_values(registry), *scenario.set_args(SERVING_VALUES),
        "--timeout", "10m", "--force-conflicts",  # as docs/upgrade.md and `make install` upgrade
    )  # fmt: skip
    rayservice = serving_rayservice()
    kube.wait_until(
        lambda: scenario.rayservice_ready(namespace, rayservice), 900, f"RayService {rayservice} to be ready",
        interval=5, detail=lambda: f"pods: {pod_summary(namespace)}",
    )  # fmt: skip
    kube.record("install_to_ready_rayservice_s", round(time.monotonic() - started, 1))
    return f"svc/{serving_serve_service()}"


# --- the Serve cluster of the elastic-serving, head-failure and upgrade scenarios -----------------
SERVE_NAMESPACE = "serve-ha"
SERVE_RELEASE = "serve"
REDIS = "redis"
SERVE_APP = "textgen"
SERVE_MIN_WORKERS, SERVE_MAX_WORKERS = 1, 2
SERVE_MIN_REPLICAS, SERVE_MAX_REPLICAS = 1, 4
SERVE_IDLE_TIMEOUT_S = 20
# One app (text generation on the image's test weights: no registry or model hub needed) scaling to
# four half-CPU replicas on workers of one Ray CPU each (the fourth needs a second worker), with GCS
# fault tolerance on the Redis beside it (so the Serve Service leaves the head out, by default).
SERVE_VALUES: dict[str, object] = {
    "mlflow.enabled": False,
    "rayCluster.sharedStorage.enabled": False,  # no data to read: the claim is the main namespace's
    "rayJobs.mnist.enabled": False,
    "rayCluster.enabled": False,
    "tests.enabled": False,
    "rayService.enabled": True,
    "rayService.applications.mnist.enabled": False,
    # The upgrade scenario waits for the old cluster's deletion (KubeRay's default: 60 s after the switch).
    "rayService.rayClusterDeletionDelaySeconds": 15,
    # Serve decides on the mean load of the last look_back_period_s (30 s by default): 5 s makes it
    # follow the elastic-serving scenario's load within seconds, both ways.
    f"rayService.applications.{SERVE_APP}.autoscalingConfig": {
        "min_replicas": SERVE_MIN_REPLICAS,
        "max_replicas": SERVE_MAX_REPLICAS,
        "target_ongoing_requests": 1,
        "upscale_delay_s": 2,
        "downscale_delay_s": 10,
        "look_back_period_s": 5,
    },
    # A replica that Serve stops keeps answering this long (30 s by default, for load balancers to
    # stop sending to it; here the HAProxy on its node is the only one), and so does the proxy of a
    # worker left without replicas; the worker's idle timeout begins only after both.
    "rayService.env": [
        {"name": "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "value": "5"},
        {"name": "RAY_SERVE_PROXY_MIN_DRAINING_PERIOD_S", "value": "5"},
    ],
    "rayService.rayCluster": {
        "autoscaler": {"idleTimeoutSeconds": SERVE_IDLE_TIMEOUT_S},
        "gcsFaultTolerance": {
            "enabled": True,
            "redisAddress": f"{REDIS}.{SERVE_NAMESPACE}.svc.cluster.local:6379",
        },
        "workerGroups": {
            "cpu": {
                "minReplicas": SERVE_MIN_WORKERS,
                "replicas": SERVE_MIN_WORKERS,
                "maxReplicas": SERVE_MAX_WORKERS,
                "resources": {
                    "requests": {"cpu": "100m", "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": "3Gi"},
                },
            }
        },
    },
}
SERVE = rendered.Release(SERVE_RELEASE, SERVE_NAMESPACE, SERVE_VALUES)
serve_cluster_rayservice = SERVE.lookup("rayservice")
serve_cluster_serve_service = SERVE.lookup("serve_service")


def redis(namespace: str, registry: Registry) -> list[dict]:
    """Redis (the image `make image IMAGES=redis` builds) and its Service: the Ray head's external
    GCS store, as Azure Cache for Redis is on AKS."""
    labels = {"app.kubernetes.io/name": REDIS}
    container = {
        "name": REDIS,
        "image": f"{registry.host}/ray-aks-redis:{kube.IMAGE_TAG}",
        "ports": [{"name": "redis", "containerPort": 6379}],
        "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 2},
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod_spec = {
        "imagePullSecrets": [{"name": PULL_SECRET}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": REDIS, "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": REDIS, "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"name": "redis", "port": 6379, "targetPort": 6379}]},
        },
    ]


# The Serve scenarios' release: closed after the last test that uses it (below), or with the session.
_serve_release = contextlib.ExitStack()


@pytest.fixture(scope="session")
def serve_cluster(cluster: Cluster, registry: Registry, chart: Path) -> Iterator[dict]:
    """The release of the Serve scenarios, ready, in a namespace of its own: Redis, the RayService, a
    client pod (the release namespace may reach Serve) and the dashboard of the active cluster."""
    with _serve_release as stack:
        namespace = stack.enter_context(scenario.namespace(SERVE_NAMESPACE, registry))
        kube.apply(redis(namespace, registry))
        kube.kubectl(
            "-n", namespace, "rollout", "status", f"deployment/{REDIS}", "--timeout=300s", timeout=330
        )
        started = time.monotonic()
        rayservice = serve_cluster_rayservice()
        stack.enter_context(scenario.release(SERVE_RELEASE, namespace, chart, registry, SERVE_VALUES))
        kube.wait_until(
            lambda: scenario.rayservice_ready(namespace, rayservice), 900,
            f"RayService {rayservice} to be ready", interval=5,
            detail=lambda: str([p["metadata"]["name"] for p in scenario.pods(namespace)]),
        )  # fmt: skip
        kube.record("serve_cluster_install_to_ready_s", round(time.monotonic() - started, 1))
        client = scenario.client_pod(namespace, registry)
        yield {
            "namespace": namespace,
            "rayservice": rayservice,
            "client": client,
            "url": f"http://{serve_cluster_serve_service()}.{namespace}.svc.cluster.local:8000/text/simple-gen",
            "body": {"input": "Once upon a time", "max_new_tokens": 8},
        }


@pytest.hookimpl(trylast=True)  # after the test's own fixtures are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """The Serve scenarios' release goes once no test left in the session uses it, not at the end of
    the session: its Ray cluster and Redis would take CPU from the scenarios after them."""
    if "serve_cluster" not in getattr(item, "fixturenames", ()):
        return
    later = item.session.items[item.session.items.index(item) + 1 :]
    if not any("serve_cluster" in getattr(test, "fixturenames", ()) for test in later):
        _serve_release.close()  # closing it again at the end of the session does nothing
