"""The queued-jobs scenario's parts (tests/e2e/test_10_queued_jobs.py): the chart's values for a
queued RayJob (the MNIST RayJob's pods, running one Ray task), the quota that fits one of them, the
data volume of its namespace, and the record of what Kueue did, polled from the RayJobs, their
Workloads and their pods.

The bookkeeping (`QueueWatch.observe`, `figures`) takes plain objects as kubectl prints them, so
tests/e2e/test_kueue_tools.py checks it without a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.chart.node_fit import Resources, pod_requests
from tests.e2e import rendered, scenario, volumes
from tools.e2e import kueue

NAMESPACE = "queued-jobs"
QUEUE = "ray-jobs"
PRIORITY = ("e2e-batch", 1000)
RELEASES = ("queued-a", "queued-b")
SHARED_VOLUME = "ray-aks-e2e-shared-queued"
# What each queued job runs: one Ray task, on the worker group (the head offers no CPU). What is
# measured is the queue, not the training (test_03 and test_21 run `ray-aks train mnist`): the MNIST
# RayJob's pods as the chart renders them, with this entrypoint, take about 48 s a job, where one
# epoch of training took 74-85 s.
TASK = "ray.get(ray.remote(lambda: 'a queued job ran a task').remote())"
ENTRYPOINT = f'python -c "import ray; ray.init(); print({TASK})"'
# The chart's e2e values plus these: one queued RayJob per release, nothing else (no MLflow).
VALUES: dict[str, object] = {
    **scenario.ONLY_THE_RAYJOB,
    "kueue.queueName": QUEUE,
    "kueue.priorityClassName": PRIORITY[0],
    "rayJobs.mnist.shutdownAfterJobFinishes": True,
    "rayJobs.mnist.deletionRules": [],
    "rayJobs.mnist.entrypointOverride": ENTRYPOINT,
}
TERMINAL = ("Complete", "Failed")
INSTALLS = tuple(rendered.Release(release, NAMESPACE, VALUES) for release in RELEASES)
RAYJOBS = tuple(install.lookup("rayjob", "mnist") for install in INSTALLS)


def rayjobs() -> tuple[str, ...]:
    """Each release's queued RayJob, in RELEASES' order."""
    return tuple(rayjob() for rayjob in RAYJOBS)


def rendered_rayjob() -> dict:
    """The queued RayJob as the first release installs it (the second's differs only in its names)."""
    return INSTALLS[0].find("RayJob", {rendered.JOB_KEY: "mnist"})


COUNTED = {"cpu", "memory", "nvidia.com/gpu"}


def job_requests(rayjob: Mapping[str, Any]) -> Resources:
    """What Kueue reserves for a RayJob: every pod of each of its pod sets, as Kubernetes counts a
    pod's requests (a missing request taken from its limit, init containers by the max rule). A
    resource the quota would not cover (Kueue never admits such a job) is refused by name."""
    total = Resources()
    for name, count, spec in kueue.pod_sets(rayjob):
        containers = [*spec.get("initContainers", []), *spec["containers"]]
        for container in containers:
            resources = container.get("resources") or {}
            asked = {*(resources.get("requests") or {}), *(resources.get("limits") or {})}
            if asked - COUNTED:
                raise ValueError(
                    f"pod set {name}, container {container['name']} asks for {sorted(asked - COUNTED)}"
                )
        for _ in range(count):
            total = total + pod_requests(spec)
    return total


def quota(one_job: Resources) -> dict[str, str]:
    """A ClusterQueue quota that fits one such job: its CPU exactly (so CPU is what holds a second
    job back), memory for two (so memory never does); GPUs only when the job asks for them."""
    result = {
        "cpu": f"{math.ceil(one_job.cpu * 1000)}m",
        "memory": str(math.ceil(2 * one_job.memory)),
    }
    if one_job.gpu:
        result["nvidia.com/gpu"] = str(math.ceil(one_job.gpu))
    return result


def shared_volume(namespace: str, path: str) -> list[dict]:
    """A second static volume on the host folder of the main namespace's shared volume (the MNIST
    files conftest's storage fixture wrote), and the shared claim of `namespace` on it."""
    return [
        volumes.host_volume(SHARED_VOLUME, path, "ReadWriteMany", "5Gi"),
        volumes.shared_claim(namespace, SHARED_VOLUME, "5Gi"),
    ]


@dataclass
class QueueWatch:
    """What the scenario saw, poll by poll: when each RayJob's Workload was admitted and when the job
    ended (seconds after the releases were installed), and, while exactly one job ran, whether each
    other job waited as Kueue promises (Workload not admitted, RayJob suspended, no pods)."""

    jobs: tuple[str, ...]
    admitted_s: dict[str, float] = field(default_factory=dict)
    ended_s: dict[str, float] = field(default_factory=dict)
    waits_checked: int = 0
    violations: list[str] = field(default_factory=list)
    pending_messages: dict[str, str] = field(default_factory=dict)
    states: dict[str, kueue.WorkloadState] = field(default_factory=dict)
    rayjobs: dict[str, dict] = field(default_factory=dict)

    def observe(
        self, t: float, rayjobs: list[dict], workloads: list[dict], pods_of: Mapping[str, int]
    ) -> None:
        """One poll at `t` s: each job's pod count, the namespace's Workloads and its RayJobs, read
        in that order. Kueue admits the next job only after the last one's RayJob ended, so a later
        read never shows a job admitted (or its pods) while an earlier one shows another running."""
        self.rayjobs = {j["metadata"]["name"]: j for j in rayjobs}
        self.states = {s.job: s for s in map(kueue.workload_state, workloads)}
        for job in self.jobs:
            state = self.states.get(job)
            if state and state.admitted_at and job not in self.admitted_s:
                self.admitted_s[job] = t
            status = (self.rayjobs.get(job) or {}).get("status") or {}
            ended = status.get("jobDeploymentStatus") in TERMINAL or (state and state.finished_at)
            if ended and job not in self.ended_s:
                self.ended_s[job] = t
            if state and state.pending_message:
                self.pending_messages[job] = state.pending_message
        running = [j for j in self.jobs if j in self.admitted_s and j not in self.ended_s]
        if len(running) > 1:
            self.violations.append(f"t={t:.0f} s: {running} admitted at once")
        if len(running) != 1:
            return
        for job in self.jobs:
            if job in running or job in self.ended_s or job in self.admitted_s:
                continue
            self.waits_checked += 1
            suspended = ((self.rayjobs.get(job) or {}).get("spec") or {}).get("suspend") is True
            if not suspended:
                self.violations.append(f"t={t:.0f} s: {job} is not suspended while {running[0]} runs")
            if pods_of.get(job, 0):
                self.violations.append(f"t={t:.0f} s: {job} has {pods_of[job]} pods while {running[0]} runs")

    def done(self) -> bool:
        return all(job in self.ended_s for job in self.jobs)

    def order(self) -> list[kueue.WorkloadState]:
        """The jobs' Workloads by admission: the status timestamps first (whole seconds), then the
        poll that first saw them admitted."""
        states = [self.states[job] for job in self.jobs]
        if any(s.admitted_at is None for s in states):
            raise AssertionError(f"a Workload was never admitted: {states}")
        return sorted(states, key=lambda s: (s.admitted_at, self.admitted_s.get(s.job, math.inf)))

    def figures(self, quota: Mapping[str, str], one_job: Resources) -> dict:
        first, second = self.order()

        def job_status(job: str) -> str | None:
            return ((self.rayjobs.get(job) or {}).get("status") or {}).get("jobStatus")

        gap = second.admitted_at - first.finished_at if first.finished_at else None
        return {
            "quota": dict(quota),
            "one_job_requests": {"cpu": float(one_job.cpu), "memory_mib": float(one_job.memory / 2**20)},
            "first": {
                "rayjob": first.job,
                "admitted_after_s": self.admitted_s.get(first.job),
                "wall_s": self.ended_s.get(first.job),
                "job_status": job_status(first.job),
            },
            "second": {
                "rayjob": second.job,
                "waited_s": self.admitted_s.get(second.job),
                "wall_s": self.ended_s.get(second.job),
                "job_status": job_status(second.job),
                "pending_message": self.pending_messages.get(second.job, ""),
            },
            "second_admitted_after_first_finished_s": gap.total_seconds() if gap is not None else None,
            "waits_checked": self.waits_checked,
        }
