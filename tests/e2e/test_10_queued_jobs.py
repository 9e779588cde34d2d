"""Scenario 10, queued jobs: a real Kueue (tools/e2e/kueue.py: the manager built from
its Go module, its own CRDs and webhooks, installed for this scenario and removed after it) with a
ClusterQueue whose CPU quota fits one MNIST RayJob as the chart renders it with the e2e values (the
head without the Ray autoscaler, the worker group, the submitter), a LocalQueue named by
`kueue.queueName` and a WorkloadPriorityClass named by `kueue.priorityClassName`. Two releases of
the chart, one queued RayJob each (those pods, running one Ray task instead of the training:
queued.ENTRYPOINT), are installed back to back: Kueue admits one; the other's
Workload is not admitted, its RayJob stays suspended and none of its pods exist until the first
finishes; then it runs to SUCCEEDED. The admission order is read from the Workloads' conditions."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import kube, queued, scenario
from tests.e2e.conftest import SHARED_DIR
from tools.e2e import kueue
from tools.e2e.cluster import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(3600)]

WORKLOADS = "workloads.kueue.x-k8s.io"


@contextlib.contextmanager
def shared_volume(namespace: str) -> Iterator[None]:
    """The shared volume the jobs' pods mount, for this namespace; the PersistentVolume is removed
    afterwards."""
    kube.kubectl("delete", "pv", queued.SHARED_VOLUME, "--ignore-not-found", "--timeout=60s", timeout=90)
    kube.apply(queued.shared_volume(namespace, str(SHARED_DIR)))
    try:
        yield
    finally:
        kube.kubectl("delete", "pv", queued.SHARED_VOLUME, "--ignore-not-found", "--wait=false", check=False)


@contextlib.contextmanager
def queues(namespace: str, quota: dict[str, str]) -> Iterator[list[dict]]:
    """The ResourceFlavor, ClusterQueue, LocalQueue and WorkloadPriorityClass; deleted afterwards,
    once the namespace's Workloads are gone (Kueue removes their finalizers while it runs)."""
    objects = kueue.queue_objects(queued.QUEUE, namespace, quota, queued.PRIORITY)
    # Kueue's webhooks validate them: they answer by now, the API server may still be catching up.
    kube.wait_until(lambda: kube.apply(objects), 60, "the queues to be created")
    try:
        yield objects
    finally:
        with contextlib.suppress(TimeoutError):  # deleted anyway; Kueue's uninstall comes after
            kube.wait_until(
                lambda: not kube.kubectl_json("-n", namespace, "get", WORKLOADS)["items"], 180,
                "the Workloads to be deleted with their RayJobs",
            )  # fmt: skip
        for obj in reversed(objects):
            ns = ["-n", namespace] if obj["metadata"].get("namespace") else []
            kind, name = obj["kind"].lower(), obj["metadata"]["name"]
            kube.kubectl(*ns, "delete", f"{kind}.kueue.x-k8s.io/{name}", "--ignore-not-found", check=False)


def save_queue_state(folder: Path, namespace: str) -> None:
    """What Kueue decided, beside the namespace's logs and events."""
    folder.mkdir(parents=True, exist_ok=True)
    for what, args in {
        "workloads": ["-n", namespace, "get", WORKLOADS, "-o", "yaml"],
        "queues": ["get", "clusterqueues.kueue.x-k8s.io,localqueues.kueue.x-k8s.io", "-A", "-o", "yaml"],
        "rayjobs": ["-n", namespace, "get", "rayjobs", "-o", "yaml"],
    }.items():
        (folder / f"kueue-{what}.yaml").write_text(kube.kubectl(*args, check=False, timeout=120))


def watch(namespace: str, submitted: float) -> queued.QueueWatch:
    """Poll the RayJobs, their Workloads and the waiting job's pods until both jobs ended."""
    jobs = queued.rayjobs()
    seen = queued.QueueWatch(jobs)

    def poll() -> bool:
        # In this order (QueueWatch.observe): the pods, the Workloads, then the RayJobs.
        pods = {
            job: len(scenario.pods(namespace, f"app.kubernetes.io/instance={release}"))
            for job, release in zip(jobs, queued.RELEASES, strict=True)
        }
        workloads = kube.kubectl_json("-n", namespace, "get", WORKLOADS)["items"]
        rayjobs = kube.kubectl_json("-n", namespace, "get", "rayjobs")["items"]
        seen.observe(time.monotonic() - submitted, rayjobs, workloads, pods)
        return seen.done()

    kube.wait_until(
        poll, 2400, "both queued RayJobs to end", interval=2,
        detail=lambda: f"admitted at {seen.admitted_s}, ended at {seen.ended_s}, {seen.violations}",
    )  # fmt: skip
    return seen


@pytest.fixture(scope="module")
def queued_jobs(cluster: Cluster, registry, storage, chart) -> Iterator[dict]:
    one_job = queued.job_requests(queued.rendered_rayjob())
    quota = queued.quota(one_job)
    with contextlib.ExitStack() as stack:
        try:
            # Uninstalled last, also on failure; watched first, so a failed install leaves its logs.
            installed = kueue.Kueue(cluster)
            stack.callback(installed.uninstall)
            stack.enter_context(scenario.watched(kueue.NAMESPACE))
            started = time.monotonic()
            installed.install()
            install_s = round(time.monotonic() - started, 1)
            labels = {kueue.OPT_IN_LABEL: "true"}
            namespace = stack.enter_context(scenario.namespace(queued.NAMESPACE, registry, labels))
            stack.enter_context(shared_volume(namespace))
            stack.enter_context(queues(namespace, quota))
            submitted = time.monotonic()
            for release in queued.RELEASES:
                stack.enter_context(scenario.release(release, namespace, chart, registry, queued.VALUES))
            seen = watch(namespace, submitted)
            install = {"kueue_install_s": install_s, "kueue_install_phases_s": installed.install_phases_s}
            figures = seen.figures(quota, one_job) | install
            kube.record("queued_jobs", figures)
        except Exception:
            folder = scenario.save_failure("tests/e2e/test_10_queued_jobs.py::queued_jobs")
            save_queue_state(folder, queued.NAMESPACE)
            raise
        yield {
            "figures": figures,
            "watch": seen,
            "quota": quota,
            "one_job": one_job,
            "webhooks": installed.webhook_configurations(),
        }


def test_kueue_admits_one_job_at_a_time_and_the_other_waits_suspended_without_pods(queued_jobs):
    seen = queued_jobs["watch"]
    assert seen.violations == [], seen.violations
    assert seen.waits_checked > 0, "no poll saw one job running while the other waited"


def test_the_second_workload_is_admitted_only_after_the_first_finished(queued_jobs):
    first, second = queued_jobs["watch"].order()
    assert first.finished_at is not None, first
    assert second.admitted_at >= first.finished_at, (first, second)


def test_the_waiting_job_is_held_back_by_the_cpu_quota(queued_jobs):
    message = queued_jobs["figures"]["second"]["pending_message"]
    assert "cpu" in message, message


def test_both_queued_jobs_succeed(queued_jobs):
    figures = queued_jobs["figures"]
    assert figures["first"]["job_status"] == "SUCCEEDED", figures
    assert figures["second"]["job_status"] == "SUCCEEDED", figures


def test_the_workloads_carry_the_priority_class_of_the_values(queued_jobs):
    for state in queued_jobs["watch"].states.values():
        assert (state.priority_class, state.priority) == queued.PRIORITY, state


def test_kueue_webhooks_act_only_in_namespaces_that_opt_in(queued_jobs):
    for configuration in queued_jobs["webhooks"]:
        for webhook in configuration["webhooks"]:
            labels = webhook["namespaceSelector"]["matchLabels"]
            assert labels.get(kueue.OPT_IN_LABEL) == "true", (configuration["metadata"]["name"], webhook)


def test_no_visibility_apiservice_breaks_discovery(queued_jobs):
    services = kube.kubectl_json("get", "apiservices")["items"]
    # The API server makes a local APIService for each CRD group version (no `spec.service`); an
    # aggregated one (Kueue's visibility API) names a Service that must answer.
    aggregated = [s["metadata"]["name"] for s in services if (s.get("spec") or {}).get("service")]
    assert not [name for name in aggregated if "kueue" in name], aggregated
    kube.kubectl("api-resources", "-o", "name")  # discovery answers
