"""Scenario 7: elastic serving. The Serve scenarios' RayService (Serve autoscaling, the Ray
autoscaler v2 on its worker group; tests/e2e/conftest.py's serve_cluster): a bounded, steady load
through the Serve Service makes Serve add replicas and the Ray autoscaler add a worker pod (placed by
the real scheduler on the node); after the load stops, Serve scales back and the autoscaler removes
the worker after the group's idle timeout. What the chart offers instead of an HPA on a RayCluster
(the Ray CRDs have no scale subresource)."""

from __future__ import annotations

import time

import pytest

from tests.e2e import kube, scenario
from tests.e2e.conftest import SERVE_IDLE_TIMEOUT_S, SERVE_MAX_REPLICAS, SERVE_MIN_REPLICAS, SERVE_MIN_WORKERS

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

# The load runs until Serve has all its replicas and the extra worker pod runs, then HOLD_SECONDS more
# (requests keep flowing over the scaled-up cluster), and at most LOAD_SECONDS: a fixed 90 s load went
# on for 45-50 s after the scale-up had finished (all replicas and the worker up 42-45 s in).
LOAD_SECONDS, LOAD_CONCURRENCY, HOLD_SECONDS = 90, 8, 10


def workers(namespace: str) -> list[dict]:
    return scenario.pods(namespace, "ray.io/node-type=worker")


@pytest.fixture(scope="module")
def scaled(serve_cluster) -> dict:
    """The load, and what the cluster did during it and after it: a timeline, polled every 2 s."""
    namespace = serve_cluster["namespace"]
    with scenario.active_dashboard(namespace, serve_cluster["rayservice"]) as dashboard:
        kube.wait_until(
            lambda: sum(dashboard.serve_replicas().values()) == SERVE_MIN_REPLICAS,
            300,
            "the minimum replicas",
        )
        load = scenario.InClusterLoad(namespace, serve_cluster["client"])
        load.start(serve_cluster["url"], serve_cluster["body"], LOAD_SECONDS, LOAD_CONCURRENCY)
        timeline: list[dict] = []
        load_ended_at = scaled_up_at = None
        stop_sent = False

        def back_to_minimum() -> bool:
            nonlocal load_ended_at, scaled_up_at, stop_sent
            pods = workers(namespace)
            point = {
                "t": round(time.monotonic() - load.started_at, 1),
                "replicas": sum(dashboard.serve_replicas().values()),
                "worker_pods": len(pods),
                "workers_running": sum(1 for p in pods if p["status"].get("phase") == "Running"),
                "workers_on_node": sum(1 for p in pods if p["spec"].get("nodeName") == kube.LAYOUT.node_name),
            }
            timeline.append(point)
            all_up = point["replicas"] == SERVE_MAX_REPLICAS and point["workers_running"] > SERVE_MIN_WORKERS
            if scaled_up_at is None and all_up:
                scaled_up_at = point["t"]
            if scaled_up_at is not None and point["t"] - scaled_up_at >= HOLD_SECONDS and not stop_sent:
                stop_sent = True
                load.stop()
            if load_ended_at is None and not load.running():
                load_ended_at = point["t"]
            at_minimum = point["replicas"] == SERVE_MIN_REPLICAS and point["worker_pods"] == SERVE_MIN_WORKERS
            return load_ended_at is not None and at_minimum

        what = "Serve and the autoscaler to scale up, then back to the minimum"
        kube.wait_until(
            back_to_minimum, LOAD_SECONDS + 600, what, interval=2, detail=lambda: str(timeline[-10:])
        )
        result = load.result()

    def changes() -> list[dict]:
        """The points where replicas or worker pods changed: where the scaling spends its time."""
        counts = [{k: v for k, v in p.items() if k != "t"} for p in timeline]
        return [p for i, p in enumerate(timeline) if i == 0 or counts[i] != counts[i - 1]]

    def first(condition) -> float | None:
        return next((p["t"] for p in timeline if condition(p)), None)

    figures = {
        "load": {"seconds": LOAD_SECONDS, "concurrency": LOAD_CONCURRENCY} | result,
        "first_extra_replica_s": first(lambda p: p["replicas"] > SERVE_MIN_REPLICAS),
        "first_extra_worker_pod_s": first(lambda p: p["worker_pods"] > SERVE_MIN_WORKERS),
        "first_extra_worker_running_s": first(lambda p: p["workers_running"] > SERVE_MIN_WORKERS),
        "peak_replicas": max(p["replicas"] for p in timeline),
        "peak_worker_pods": max(p["worker_pods"] for p in timeline),
        "scaled_up_s": scaled_up_at,
        "changes": changes(),
        "load_ended_s": load_ended_at,
        "back_to_minimum_after_load_s": round(timeline[-1]["t"] - load_ended_at, 1),
    }
    kube.record("elastic_serving", figures)
    return figures | {"timeline": timeline, "namespace": namespace}


def test_serve_adds_replicas_under_load(scaled):
    assert scaled["first_extra_replica_s"] is not None, scaled["timeline"]
    assert scaled["peak_replicas"] > SERVE_MIN_REPLICAS


def test_the_ray_autoscaler_adds_a_worker_pod_that_the_scheduler_places_on_the_node(scaled):
    assert scaled["first_extra_worker_pod_s"] is not None, scaled["timeline"]
    assert any(p["workers_on_node"] > SERVE_MIN_WORKERS for p in scaled["timeline"]), scaled["timeline"]


def test_no_request_fails_while_the_cluster_scales(scaled):
    load = scaled["load"]
    assert load["sent"] > 0 and load["failed"] == 0, load


def test_after_the_load_the_workers_go_back_to_the_minimum_after_the_idle_timeout(scaled):
    # The poll ends only at the minimum; the group's idle timeout bounds how soon that can be.
    assert scaled["back_to_minimum_after_load_s"] >= SERVE_IDLE_TIMEOUT_S, scaled["timeline"]
    assert len(workers(scaled["namespace"])) == SERVE_MIN_WORKERS
