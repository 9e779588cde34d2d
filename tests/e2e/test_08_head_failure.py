"""Scenario 8: the head of the Serve cluster is deleted under steady load, with GCS fault tolerance
on (the cluster's state in Redis; tests/e2e/conftest.py's serve_cluster). The head comes back and
finds the cluster in Redis, the workers keep running, the RayService stays Ready, and Serve keeps
answering through the Serve Service, which routes to the workers' proxies only."""

from __future__ import annotations

import time

import pytest

from tests.e2e import kube, scenario

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

LOAD_SECONDS, LOAD_CONCURRENCY = 150, 4
# The load runs this long before the head is deleted, and twice as long after it is back, then ends
# (at most LOAD_SECONDS).
STEADY_S = 15


def cluster_pods(namespace: str, cluster: str, node_type: str) -> list[dict]:
    return scenario.pods(namespace, f"ray.io/cluster={cluster},ray.io/node-type={node_type}")


def ready(pod: dict) -> bool:
    conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
    return pod["status"].get("phase") == "Running" and conditions.get("Ready") == "True"


@pytest.fixture(scope="module")
def head_killed(serve_cluster) -> dict:
    namespace, rayservice = serve_cluster["namespace"], serve_cluster["rayservice"]
    kube.wait_until(
        lambda: scenario.rayservice_ready(namespace, rayservice), 600, "the RayService to be ready"
    )
    cluster = scenario.rayservice_status(namespace, rayservice)["activeServiceStatus"]["rayClusterName"]
    (head,) = cluster_pods(namespace, cluster, "head")
    workers_before = sorted(p["metadata"]["uid"] for p in cluster_pods(namespace, cluster, "worker"))
    load = scenario.InClusterLoad(namespace, serve_cluster["client"])
    load.start(serve_cluster["url"], serve_cluster["body"], LOAD_SECONDS, LOAD_CONCURRENCY)
    kube.wait_until(lambda: time.monotonic() - load.started_at >= STEADY_S, STEADY_S + 5, "a steady load")
    killed_at = time.monotonic()
    kube.kubectl("-n", namespace, "delete", "pod", head["metadata"]["name"], "--wait=false")
    rayservice_ready_throughout = True
    old_head_gone_at = None

    def new_head_ready() -> dict | None:
        """The new head once it is ready and the deleted one is gone."""
        nonlocal rayservice_ready_throughout, old_head_gone_at
        rayservice_ready_throughout &= scenario.rayservice_ready(namespace, rayservice)
        pods = cluster_pods(namespace, cluster, "head")
        heads = [p for p in pods if p["metadata"]["uid"] != head["metadata"]["uid"]]
        if old_head_gone_at is None and len(heads) == len(pods):
            old_head_gone_at = time.monotonic()
        new_head = next((p for p in heads if ready(p)), None)
        return new_head if old_head_gone_at is not None else None

    kube.wait_until(new_head_ready, 600, "a new head pod to be ready and the deleted one gone", interval=1)
    head_ready_s = round(time.monotonic() - killed_at, 1)
    head_back_at = time.monotonic()

    def steady_after_the_head() -> bool:
        nonlocal rayservice_ready_throughout
        rayservice_ready_throughout &= scenario.rayservice_ready(namespace, rayservice)
        return time.monotonic() - head_back_at >= 2 * STEADY_S or not load.running()

    kube.wait_until(
        steady_after_the_head, 2 * STEADY_S + 10, "a steady load after the head is back", interval=2
    )
    if load.running():
        load.stop()

    def load_done() -> bool:
        nonlocal rayservice_ready_throughout
        rayservice_ready_throughout &= scenario.rayservice_ready(namespace, rayservice)
        return not load.running()

    kube.wait_until(load_done, LOAD_SECONDS + 120, "the load to end", interval=2)
    result = load.result()
    figures = {
        "load": {"max_seconds": LOAD_SECONDS, "concurrency": LOAD_CONCURRENCY} | result,
        "head_deleted_at_s": round(killed_at - load.started_at, 1),
        "head_ready_again_after_s": head_ready_s,
        "deleted_head_gone_after_s": round(old_head_gone_at - killed_at, 1),
        "grace_period_s": head["spec"].get("terminationGracePeriodSeconds", 30),
        "rayservice_ready_throughout": rayservice_ready_throughout,
    }
    kube.record("head_failure_gcs_ft", figures)
    workers_after = {p["metadata"]["uid"] for p in cluster_pods(namespace, cluster, "worker")}
    # Every worker lives on (the autoscaler of the new head may add one while Serve's controller
    # comes back; that one is not a loss).
    return figures | {"workers_kept": set(workers_before) <= workers_after, "cluster": cluster}


def test_the_head_comes_back(head_killed):
    assert head_killed["head_ready_again_after_s"] > 0


def test_the_deleted_head_stops_on_sigterm_before_its_grace_period_ends(head_killed):
    """It runs the Serve controller: with Ray's default drain on SIGTERM it waited out the whole grace
    period and was killed (the chart turns the head's drain off; templates/_pod.tpl)."""
    assert head_killed["deleted_head_gone_after_s"] < head_killed["grace_period_s"], head_killed


def test_the_workers_survive_the_head(head_killed):
    assert head_killed["workers_kept"]


def test_the_rayservice_stays_ready(head_killed):
    assert head_killed["rayservice_ready_throughout"]


def test_serve_answers_every_request_while_the_head_restarts(head_killed):
    load = head_killed["load"]
    assert load["sent"] > 0 and load["failed"] == 0, load
