"""Scenario 21: Ray's logs outlive their cluster. An in-cluster OpenTelemetry Collector (the log
collector image itself: OTLP in, a file out, tools/otelcol/otlp-to-file.yaml) runs in the scenario's
namespace; the chart's log sidecars (logging, on by default) send it every line of Ray's log files
(logging.otlp.endpoint). The MNIST RayJob runs, KubeRay deletes its cluster after it succeeds (the
chart's default deletion rules), and the collector's file still holds the job's driver output (the
test table the training prints, tagged with the job's submission id) and its workers' lines.

Its own namespace and release (the MLflow server and the standalone RayCluster left out), and a
ReadWriteMany volume of its own with the digits in MNIST format (a static volume binds one claim)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e import kube, rendered, scenario, volumes
from tests.e2e.conftest import PULL_SECRET, _static_volume
from tests.support.log_records import otlp_json_records

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

NAMESPACE = "ray-logs"
RELEASE = "ray-logs"
COLLECTOR = "ray-aks-logs"
RECEIVED = "/var/lib/ray-aks-logs/logs.jsonl"
VOLUME = "ray-aks-e2e-logs-shared"
VOLUME_DIR = kube.LAYOUT.var / "volumes" / "logs-shared"
LOGS_VALUES: dict[str, object] = {
    **scenario.ONLY_THE_RAYJOB,
    "logging.otlp.endpoint": f"http://{COLLECTOR}.{NAMESPACE}.svc:4317",
    "rayJobs.mnist.args.epochs": 1,
    # The cluster goes 5 s after success (the default waits 60 s): what matters here is that its
    # logs outlive it, not how long it stays.
    "rayJobs.mnist.deletionRules": [
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 5}},
        {"policy": "DeleteCluster", "condition": {"jobStatus": "FAILED", "ttlSeconds": 1800}},
    ],
}
LOGS = rendered.Release(RELEASE, NAMESPACE, LOGS_VALUES)
logs_rayjob = LOGS.lookup("rayjob", "mnist")
# The test table `ray-aks train mnist` prints at the end (ray_aks.training.report.metrics_table).
DRIVER_LINE = "test split of /mnt/cluster_storage/datasets/mnist"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def collector_objects(registry) -> list[dict]:
    """The in-cluster collector: the log collector image with the OTLP-to-file config, a reader
    container (the training image: Python, to read the file back) on the same volume, a Service."""
    labels = {"app.kubernetes.io/name": COLLECTOR}
    config = (REPO_ROOT / "tools" / "otelcol" / "otlp-to-file.yaml").read_text()
    volume_mounts = [{"name": "received", "mountPath": "/var/lib/ray-aks-logs"}]
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": COLLECTOR, "namespace": NAMESPACE},
            "data": {"config.yaml": config},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": COLLECTOR, "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "imagePullSecrets": [{"name": PULL_SECRET}],
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "runAsGroup": 100,
                    "fsGroup": 100,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "collector",
                        "image": f"{registry.host}/ray-aks-log-collector:{kube.IMAGE_TAG}",
                        "args": ["--config=/etc/collector/config.yaml"],
                        "ports": [{"name": "otlp-grpc", "containerPort": 4317}],
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "64Mi"},
                            "limits": {"memory": "256Mi"},
                        },
                        "securityContext": RESTRICTED_CONTAINER,
                        "volumeMounts": [
                            *volume_mounts,
                            {"name": "config", "mountPath": "/etc/collector", "readOnly": True},
                        ],
                    },
                    {
                        "name": "reader",
                        "image": f"{registry.host}/ray-aks-training:{kube.IMAGE_TAG}",
                        "command": ["python", "-c", "import time; time.sleep(86400)"],
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "64Mi"},
                            "limits": {"memory": "256Mi"},
                        },
                        "securityContext": RESTRICTED_CONTAINER,
                        "volumeMounts": volume_mounts,
                    },
                ],
                "volumes": [
                    {"name": "received", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": COLLECTOR}},
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": COLLECTOR, "namespace": NAMESPACE},
            "spec": {"selector": labels, "ports": [{"name": "otlp-grpc", "port": 4317, "targetPort": 4317}]},
        },
    ]


def received_records() -> list[dict]:
    """Every record the in-cluster collector wrote to its file so far."""
    text = kube.kubectl(
        "-n", NAMESPACE, "exec", COLLECTOR, "-c", "reader", "--", "cat", RECEIVED, check=False
    )
    return otlp_json_records(text)


@pytest.fixture(scope="module")
def logs_release(cluster, registry, chart) -> Iterator[dict]:
    """The namespace, its data volume, the collector, and the release whose MNIST RayJob sends it
    its logs; everything removed afterwards, also when a test failed."""
    shutil.rmtree(VOLUME_DIR, ignore_errors=True)
    volume = _static_volume(VOLUME, VOLUME_DIR, "ReadWriteMany", "1Gi")
    kube.apply([volume])
    subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "ray-aks"),
            "data",
            "digits",
            "--output",
            str(VOLUME_DIR / "datasets" / "mnist"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["chown", "-R", "1000:100", str(VOLUME_DIR)], check=True)
    try:
        with scenario.namespace(NAMESPACE, registry):
            kube.apply([volumes.shared_claim(NAMESPACE, VOLUME, "1Gi"), *collector_objects(registry)])
            ready = ["--for=condition=Ready", f"pod/{COLLECTOR}", "--timeout=300s"]
            kube.kubectl("-n", NAMESPACE, "wait", *ready, timeout=330)
            started = time.monotonic()
            with scenario.release(RELEASE, NAMESPACE, chart, registry, LOGS_VALUES):
                yield {"started": started}
    finally:
        kube.kubectl("delete", "pv", VOLUME, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture(scope="module")
def finished_and_deleted(logs_release) -> dict:
    """The RayJob, once SUCCEEDED and once KubeRay has deleted its cluster and every pod of it."""
    name = logs_rayjob()

    def done() -> dict | None:
        job = kube.kubectl_json("-n", NAMESPACE, "get", "rayjob", name)
        return job if job.get("status", {}).get("jobDeploymentStatus") in ("Complete", "Failed") else None

    job = kube.wait_until(
        done, 1200, f"RayJob {name} to finish", interval=5,
        detail=lambda: kube.kubectl("-n", NAMESPACE, "get", "pods", check=False),
    )  # fmt: skip
    status = job["status"]
    assert status.get("jobStatus") == "SUCCEEDED", status
    cluster = status["rayClusterName"]

    def gone() -> bool:
        objects = kube.kubectl(
            "-n", NAMESPACE, "get", "raycluster", cluster, "--ignore-not-found", "-o", "name"
        )
        pods = kube.kubectl("-n", NAMESPACE, "get", "pods", "-l", f"ray.io/cluster={cluster}", "-o", "name")
        return not objects.strip() and not pods.strip()

    kube.wait_until(gone, 420, f"the job's RayCluster {cluster} and its pods to be deleted")
    kube.record("logs_job_wall_s", round(time.monotonic() - logs_release["started"], 1))
    return {"job_id": status["jobId"], "cluster": cluster}


def test_the_driver_output_of_the_deleted_cluster_is_at_the_collector(finished_and_deleted):
    """The training's test table, from the driver's log file (job-driver-<submission id>.log on the
    head), tagged with the job's submission id, the cluster and the head pod."""
    job_id, cluster = finished_and_deleted["job_id"], finished_and_deleted["cluster"]

    def driver_lines() -> list[dict]:
        return [
            r
            for r in received_records()
            if r["attributes"].get("ray.job.submission_id") == job_id and DRIVER_LINE in r["body"]
        ]

    found = kube.wait_until(driver_lines, 120, "the driver's test table at the collector")
    record = found[0]
    kube.record(
        "logs_driver_lines_after_cluster_deleted",
        [{"body": r["body"], "attributes": r["attributes"]} for r in found[:3]],
    )
    assert record["attributes"]["log.file.name"] == f"job-driver-{job_id}.log"
    assert record["attributes"]["ray.cluster.name"] == cluster
    assert record["attributes"]["ray.node.type"] == "head"
    assert record["attributes"]["k8s.namespace.name"] == NAMESPACE
    assert record["attributes"]["k8s.pod.name"].startswith(cluster)


def test_a_workers_log_lines_of_the_deleted_cluster_are_at_the_collector(finished_and_deleted):
    cluster = finished_and_deleted["cluster"]
    records = received_records()
    workers = [
        r
        for r in records
        if r["attributes"].get("ray.cluster.name") == cluster
        and r["attributes"].get("ray.node.type") == "worker"
    ]
    files = sorted({r["attributes"].get("log.file.name") for r in workers})
    kube.record(
        "logs_worker_lines_after_cluster_deleted",
        {
            "records": len(workers),
            "pods": sorted({r["attributes"].get("k8s.pod.name") for r in workers}),
            "files": files[:20],
            "sample": [r["body"] for r in workers if r["body"].strip()][:5],
        },
    )
    assert workers, f"no worker line of {cluster} among {len(records)} records"
    assert {r["attributes"].get("ray.node.group") for r in workers} == {"cpu"}
    # The Ray Train workers' own output (worker-*.out), not only the raylet's.
    assert any(name.startswith("worker-") for name in files), files


def test_each_driver_line_arrived_once(finished_and_deleted):
    """A sidecar that restarted (or read a renamed file anew) would send a file's lines again."""
    job_id = finished_and_deleted["job_id"]
    driver = [
        r for r in received_records() if r["attributes"].get("log.file.name") == f"job-driver-{job_id}.log"
    ]
    tables = [r["body"] for r in driver if DRIVER_LINE in r["body"]]
    assert len(tables) == 1, tables
