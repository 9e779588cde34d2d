"""Scenario 3: the MNIST RayJob of the chart's values runs to SUCCEEDED in real pods, its cluster
is removed as configured, its run and model are in the chart's MLflow; then the RayService (enabled by
`helm upgrade`) becomes ready with the model the job registered and answers the MNIST root's and
text generation's requests through the Serve Service. The worker-loss scenario runs inside the RayJob:
a worker pod is deleted after the run's second checkpoint (conftest's WorkerLoss), and the job still
succeeds, having resumed from the checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from tests.e2e import kube
from tests.e2e.conftest import MODEL, mlflow

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(3600)]


def test_mnist_rayjob_succeeds(finished_job):
    status = finished_job["status"]
    assert status.get("jobStatus") == "SUCCEEDED", status


def test_the_jobs_ray_cluster_is_removed_after_it_finishes(finished_job, namespace):
    """The job's deletion rules delete its cluster after SUCCEEDED: 5 s after it with the e2e values
    (tests/e2e/overrides.py's TIME; the chart's default waits 60 s, which helm-unittest checks)."""
    cluster = finished_job["status"].get("rayClusterName")
    assert cluster

    def gone() -> bool:
        ns = ["-n", namespace, "get"]
        objects = kube.kubectl(*ns, "raycluster", cluster, "--ignore-not-found", "-o", "name")
        pods = kube.kubectl(*ns, "pods", "-l", f"ray.io/cluster={cluster}", "-o", "name")
        return not objects.strip() and not pods.strip()

    kube.wait_until(gone, 420, f"the job's RayCluster {cluster} and its pods to be deleted")


def test_the_run_and_the_registered_model_are_in_mlflow(finished_job, namespace):
    driver = (kube.LAYOUT.logs / "rayjob-driver.log").read_text()
    assert "MLflow tracking at" not in driver, driver[-3000:]  # the tracker's "unavailable" warning
    model = mlflow(namespace, "/api/2.0/mlflow/registered-models/alias", name=MODEL, alias="champion")
    version = model["model_version"]
    run = mlflow(namespace, "/api/2.0/mlflow/runs/get", run_id=version["run_id"])["run"]
    assert run["info"]["status"] == "FINISHED"
    metrics = {m["key"] for m in run["data"].get("metrics", [])}
    assert metrics, run


def test_the_28x28_json_request_at_the_mnist_prefix_gets_a_prediction(serving, namespace):
    image = np.random.default_rng(0).random((28, 28)).tolist()
    with kube.port_forward(namespace, serving, 8000) as url:
        response = requests.post(f"{url}/mnist", json={"data": image}, timeout=60)
    assert response.status_code == 200, response.text
    assert 0 <= response.json()["prediction"] <= 9


def test_a_text_generation_request_gets_text(serving, namespace):
    with kube.port_forward(namespace, serving, 8000) as url:
        response = requests.post(f"{url}/text/simple-gen", json={"input": "Once upon a time"}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()[0]["generated_text"]


def test_a_worker_pod_was_deleted_after_a_checkpoint(release, finished_job):
    worker_loss = release["worker_loss"]
    assert worker_loss.error is None, worker_loss.error
    assert worker_loss.deleted, "the run's second checkpoint never appeared on the shared volume"


def test_training_resumed_from_the_checkpoint_after_the_worker_was_lost(release, finished_job, namespace):
    """Ray Train restarted the worker group on the pod KubeRay made anew and loaded the latest
    checkpoint: resumed, not started over. The run's tags and metric say from which epoch
    (worker_loop.resume), every epoch was logged once, and the epochs before the checkpoint kept the
    values logged before the loss (the run's history.json, written from the final checkpoint, equals
    MLflow's metric history). Moved here from two local tests (a SIGKILLed train worker, a rank-0
    exit after a checkpoint): a pod lost on a real cluster is the case they stood in for."""
    model = mlflow(namespace, "/api/2.0/mlflow/registered-models/alias", name=MODEL, alias="champion")
    run = mlflow(namespace, "/api/2.0/mlflow/runs/get", run_id=model["model_version"]["run_id"])["run"]
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
    kube.record("worker_loss_resumed", {k: v for k, v in tags.items() if k.startswith("ray_aks.")})
    assert finished_job["status"].get("jobStatus") == "SUCCEEDED"
    assert run["info"]["status"] == "FINISHED"
    assert tags.get("ray_aks.restarts") == "1", tags
    resumed = int(tags["ray_aks.resumed_from_epoch"])
    assert resumed >= 2 and metrics["resumed_from_epoch"] == resumed, (tags, metrics)
    epochs = int({p["key"]: p["value"] for p in run["data"]["params"]}["epochs"])
    history = mlflow(
        namespace,
        "/api/2.0/mlflow/metrics/get-history",
        run_id=run["info"]["run_id"],
        metric_key="test_accuracy",
    )
    logged = {m["step"]: m["value"] for m in history["metrics"]}
    assert sorted(m["step"] for m in history["metrics"]) == list(range(1, epochs + 1))
    experiment, run_id = run["info"]["experiment_id"], run["info"]["run_id"]
    artifact = mlflow(
        namespace, f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run_id}/artifacts/history.json"
    )
    assert artifact["restarts"] == 1
    assert {row["epoch"]: row["test_accuracy"] for row in artifact["history"]} == pytest.approx(logged)
