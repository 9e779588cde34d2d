"""The queued-jobs scenario's parts that run without a cluster (run by test-python): how Kueue's own
install is changed for the e2e cluster, what Kueue counts for a RayJob the chart renders, the queues,
and the record of what Kueue did (tools/e2e/kueue.py, tests/e2e/queued.py)."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest
import yaml

from tests.chart.node_fit import quantity
from tests.e2e import queued
from tools.e2e import kueue

# The documents of Kueue's config/default that the e2e install changes or drops, shaped as
# `kubectl kustomize` prints them for v0.17.0 (names, and the fields the changes touch).
RENDERED = """
apiVersion: v1
kind: Namespace
metadata: {name: kueue-system, labels: {control-plane: controller-manager}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: workloads.kueue.x-k8s.io}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kueue-manager-config, namespace: kueue-system}
data:
  controller_manager_config.yaml: |
    apiVersion: config.kueue.x-k8s.io/v1beta2
    kind: Configuration
    webhook:
      port: 9443
    integrations:
      frameworks:
      - "batch/job"
      - "ray.io/rayjob"
      - "pod"
---
apiVersion: v1
kind: Service
metadata: {name: kueue-visibility-server, namespace: kueue-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: kueue-visibility-server-auth-reader, namespace: kube-system}
---
apiVersion: v1
kind: Service
metadata: {name: kueue-webhook-service, namespace: kueue-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kueue-controller-manager, namespace: kueue-system}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: manager
          image: us-central1-docker.pkg.dev/k8s-staging-images/kueue/kueue:main
          imagePullPolicy: Always
          args: [--config=/controller_manager_config.yaml, --zap-log-level=2]
          resources: {requests: {cpu: 500m, memory: 512Mi}, limits: {cpu: "2", memory: 512Mi}}
          securityContext:
            {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta2.visibility.kueue.x-k8s.io}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: kueue-mutating-webhook-configuration}
webhooks:
  - {name: mpod.kb.io, rules: [{apiGroups: [""], resources: [pods]}]}
  - {name: mjob.kb.io, rules: [{apiGroups: [batch], resources: [jobs]}]}
  - name: mrayjob.kb.io
    namespaceSelector:
      matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kueue-system]}
    rules: [{apiGroups: [ray.io], resources: [rayjobs]}]
  - {name: mworkload.kb.io, rules: [{apiGroups: [kueue.x-k8s.io], resources: [workloads]}]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: kueue-validating-webhook-configuration}
webhooks: [{name: vrayjob.kb.io, rules: [{apiGroups: [ray.io], resources: [rayjobs]}]}]
"""
IMAGE = "ray-aks-e2e.local/kueue:v0.17.0"


def by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for obj in objects:
        found.setdefault(obj["kind"], []).append(obj)
    return found


def test_the_install_leaves_out_the_visibility_api():
    objects = kueue.manifests(RENDERED, IMAGE)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert "APIService" not in by_kind(objects)
    assert ("Service", "kueue-visibility-server") not in names
    assert ("RoleBinding", "kueue-visibility-server-auth-reader") not in names
    assert ("Service", "kueue-webhook-service") in names
    (deployment,) = by_kind(objects)["Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--feature-gates=VisibilityOnDemand=false" in args
    assert "--config=/controller_manager_config.yaml" in args


def test_the_manager_runs_our_image_restricted_and_small():
    (deployment,) = by_kind(kueue.manifests(RENDERED, IMAGE))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (manager,) = pod["containers"]
    assert (manager["image"], manager["imagePullPolicy"]) == (IMAGE, "Never")
    assert pod["securityContext"]["runAsUser"] == manager["securityContext"]["runAsUser"] == 65532
    context = manager["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"} and context["runAsNonRoot"] is True
    assert "cpu" not in manager["resources"]["limits"]
    assert quantity(manager["resources"]["requests"]["cpu"]) < quantity("500m")
    (namespace,) = by_kind(kueue.manifests(RENDERED, IMAGE))["Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_manager_integrates_the_ray_kinds_only():
    (config_map,) = by_kind(kueue.manifests(RENDERED, IMAGE))["ConfigMap"]
    config = yaml.safe_load(config_map["data"][kueue.CONFIG_KEY])
    assert config["integrations"]["frameworks"] == ["ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice"]
    assert config["webhook"] == {"port": 9443}  # the rest of Kueue's configuration is kept


def test_every_webhook_acts_only_in_namespaces_that_opt_in():
    objects = by_kind(kueue.manifests(RENDERED, IMAGE))
    webhooks = [w for kind in kueue.WEBHOOK_CONFIGURATIONS for c in objects[kind] for w in c["webhooks"]]
    assert len(webhooks) == 3
    for webhook in webhooks:
        assert webhook["namespaceSelector"]["matchLabels"] == {kueue.OPT_IN_LABEL: "true"}, webhook
    (rayjob_webhook,) = [w for w in webhooks if w["name"] == "mrayjob.kb.io"]
    assert rayjob_webhook["namespaceSelector"]["matchExpressions"][0]["operator"] == "NotIn"


def test_only_the_webhooks_of_kueues_kinds_and_the_ray_kinds_are_installed():
    """Kueue v0.17.0's Job webhook panics when the Job integration is off (KubeRay's submitter Job)."""
    objects = by_kind(kueue.manifests(RENDERED, IMAGE))
    names = {w["name"] for kind in kueue.WEBHOOK_CONFIGURATIONS for c in objects[kind] for w in c["webhooks"]}
    assert names == {"mrayjob.kb.io", "mworkload.kb.io", "vrayjob.kb.io"}


def test_a_renamed_webhook_configuration_is_refused():
    renamed = RENDERED.replace("kueue-validating-webhook-configuration", "kueue-validating-hooks")
    with pytest.raises(
        ValueError, match="kueue-validating-hooks, not kueue-validating-webhook-configuration"
    ):
        kueue.manifests(renamed, IMAGE)


def test_the_webhooks_are_ready_once_every_one_has_a_ca_bundle():
    ready = {"webhooks": [{"clientConfig": {"caBundle": "Zm9v"}}, {"clientConfig": {"caBundle": "YmFy"}}]}
    half = {"webhooks": [{"clientConfig": {"caBundle": "Zm9v"}}, {"clientConfig": {}}]}
    assert kueue.webhooks_ready([ready, ready])
    assert not kueue.webhooks_ready([ready, half])
    assert not kueue.webhooks_ready([])


# --- what Kueue counts for the chart's queued RayJob -------------------------------------------


@pytest.fixture(scope="module")
def queued_job() -> dict:
    """The scenario's RayJob, rendered by the chart with the e2e values and the scenario's."""
    return queued.rendered_rayjob()


def test_the_scenarios_rayjob_is_queued_without_the_autoscaler(queued_job):
    assert queued_job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == queued.QUEUE
    assert queued_job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == queued.PRIORITY[0]
    assert queued_job["spec"]["suspend"] is True
    assert queued_job["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] is False


def test_kueue_counts_the_head_each_worker_at_its_replicas_and_the_submitter(queued_job):
    sets = [(name, count) for name, count, _spec in kueue.pod_sets(queued_job)]
    workers = queued_job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert sets == [("head", 1), *((g["groupName"], g["replicas"]) for g in workers), ("submitter", 1)]


def test_one_job_requests_every_container_of_every_pod_it_makes(queued_job):
    """The head, each worker and the submitter, every container and sidecar of each (the rendered
    job has no plain init container, which would count by the max rule instead)."""
    cluster = queued_job["spec"]["rayClusterSpec"]
    pods = [
        (1, cluster["headGroupSpec"]["template"]["spec"]),
        (1, queued_job["spec"]["submitterPodTemplate"]["spec"]),
    ]
    pods += [(group["replicas"], group["template"]["spec"]) for group in cluster["workerGroupSpecs"]]
    expected = Fraction(0)
    for count, spec in pods:
        containers = spec["containers"] + spec.get("initContainers", [])
        assert all(c in spec["containers"] or c.get("restartPolicy") == "Always" for c in containers)
        expected += count * sum(quantity(c["resources"]["requests"]["cpu"]) for c in containers)
    assert queued.job_requests(queued_job).cpu == expected


def test_pod_sets_follow_the_submission_mode_and_hosts(queued_job):
    job = copy.deepcopy(queued_job)
    job["spec"]["submissionMode"] = "HTTPMode"
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0] |= {"replicas": 2, "numOfHosts": 3}
    assert [(n, c) for n, c, _ in kueue.pod_sets(job)] == [("head", 1), ("cpu", 6)]
    job["spec"]["submissionMode"] = "K8sJobMode"
    del job["spec"]["submitterPodTemplate"]
    with pytest.raises(ValueError, match="submitterPodTemplate"):
        kueue.pod_sets(job)


def test_a_resource_the_quota_does_not_cover_is_refused_by_name(queued_job):
    job = copy.deepcopy(queued_job)
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][-1]
    head["resources"]["requests"]["ephemeral-storage"] = "1Gi"
    with pytest.raises(
        ValueError, match=r"pod set head, container ray-head asks for \['ephemeral-storage'\]"
    ):
        queued.job_requests(job)


def test_the_quota_fits_one_jobs_cpu_and_two_jobs_memory():
    one = queued.Resources(cpu=Fraction(251, 1000), memory=Fraction(3 * 2**30))
    assert queued.quota(one) == {"cpu": "251m", "memory": str(6 * 2**30)}
    assert queued.quota(queued.Resources(cpu=Fraction(1, 3)))["cpu"] == "334m"  # rounded up
    assert queued.quota(queued.Resources(cpu=Fraction(1), gpu=Fraction(2)))["nvidia.com/gpu"] == "2"


def test_the_queues_cover_the_quota_for_every_namespace():
    flavor, cluster_queue, local_queue, priority = kueue.queue_objects(
        "ray-jobs", "team-a", {"memory": "4Gi", "cpu": "250m"}, ("batch", 100)
    )
    assert flavor["kind"] == "ResourceFlavor"
    spec = cluster_queue["spec"]
    assert spec["namespaceSelector"] == {}
    (group,) = spec["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory"]
    assert group["flavors"] == [
        {
            "name": flavor["metadata"]["name"],
            "resources": [{"name": "cpu", "nominalQuota": "250m"}, {"name": "memory", "nominalQuota": "4Gi"}],
        }
    ]
    assert (local_queue["metadata"]["namespace"], local_queue["spec"]["clusterQueue"]) == (
        "team-a",
        "ray-jobs",
    )
    assert (priority["kind"], priority["metadata"]["name"], priority["value"]) == (
        "WorkloadPriorityClass",
        "batch",
        100,
    )


# --- the record of what Kueue did ----------------------------------------------------------------


def workload(job: str, admitted: str | None = None, finished: str | None = None, pending: str = "") -> dict:
    """A RayJob's Workload as Kueue 0.17 writes it (v1beta2)."""
    conditions = []
    if admitted:
        conditions += [
            {"type": "QuotaReserved", "status": "True", "lastTransitionTime": admitted, "message": "ok"},
            {"type": "Admitted", "status": "True", "lastTransitionTime": admitted},
        ]
    elif pending:
        conditions.append(
            {"type": "QuotaReserved", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z",
             "reason": "Pending", "message": pending}
        )  # fmt: skip
    if finished:
        conditions.append({"type": "Finished", "status": "True", "lastTransitionTime": finished})
    return {
        "metadata": {
            "name": f"rayjob-{job}-1a2b3",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": "RayJob", "name": job}],
        },
        "spec": {
            "priorityClassRef": {"group": "kueue.x-k8s.io", "kind": "WorkloadPriorityClass", "name": "batch"},
            "priority": 100,
        },
        "status": {"conditions": conditions},
    }


def rayjob(name: str, suspend: bool, deployment: str = "Running", job_status: str = "RUNNING") -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"suspend": suspend},
        "status": {"jobDeploymentStatus": deployment, "jobStatus": job_status},
    }


def test_a_workloads_state_comes_from_its_conditions():
    state = kueue.workload_state(
        workload("a", admitted="2026-01-01T00:00:05Z", finished="2026-01-01T00:02:00Z")
    )
    assert state.job == "a"
    assert (state.finished_at - state.admitted_at).total_seconds() == 115
    assert (state.priority_class, state.priority, state.pending_message) == ("batch", 100, "")
    waiting = kueue.workload_state(workload("b", pending="insufficient unused quota for cpu"))
    assert waiting.admitted_at is None and waiting.pending_message == "insufficient unused quota for cpu"
    orphan = workload("c")
    orphan["metadata"]["ownerReferences"] = []
    with pytest.raises(ValueError, match="belongs to no RayJob"):
        kueue.workload_state(orphan)


PENDING = "couldn't assign flavors to pod set head: insufficient unused quota for cpu in flavor f"


def test_the_watch_records_a_queue_that_keeps_its_promise():
    seen = queued.QueueWatch(("a", "b"))
    seen.observe(
        2, [rayjob("a", False), rayjob("b", True, "Suspended", "")],
        [workload("a", admitted="2026-01-01T00:00:01Z"), workload("b", pending=PENDING)], {"a": 3, "b": 0},
    )  # fmt: skip
    seen.observe(
        60, [rayjob("a", False, "Complete", "SUCCEEDED"), rayjob("b", True, "Suspended", "")],
        [workload("a", admitted="2026-01-01T00:00:01Z", finished="2026-01-01T00:01:00Z"),
         workload("b", pending=PENDING)], {"a": 0, "b": 0},
    )  # fmt: skip
    assert not seen.done()
    seen.observe(
        120, [rayjob("a", False, "Complete", "SUCCEEDED"), rayjob("b", False, "Complete", "SUCCEEDED")],
        [workload("a", admitted="2026-01-01T00:00:01Z", finished="2026-01-01T00:01:00Z"),
         workload("b", admitted="2026-01-01T00:01:01Z", finished="2026-01-01T00:01:58Z")], {"a": 0, "b": 0},
    )  # fmt: skip
    assert seen.done() and seen.violations == [] and seen.waits_checked == 1
    figures = seen.figures({"cpu": "250m"}, queued.Resources(cpu=Fraction(1, 4), memory=Fraction(2**30)))
    assert figures["first"] == {"rayjob": "a", "admitted_after_s": 2, "wall_s": 60, "job_status": "SUCCEEDED"}
    assert (figures["second"]["rayjob"], figures["second"]["waited_s"], figures["second"]["wall_s"]) == (
        "b",
        120,
        120,
    )
    assert figures["second"]["pending_message"] == PENDING
    assert figures["second_admitted_after_first_finished_s"] == 1
    assert figures["one_job_requests"] == {"cpu": 0.25, "memory_mib": 1024.0}


def test_the_watch_reports_a_waiting_job_that_runs_or_was_never_suspended():
    seen = queued.QueueWatch(("a", "b"))
    seen.observe(
        4, [rayjob("a", False), rayjob("b", False)],
        [workload("a", admitted="2026-01-01T00:00:01Z"), workload("b", pending=PENDING)], {"a": 3, "b": 2},
    )  # fmt: skip
    assert seen.violations == ["t=4 s: b is not suspended while a runs", "t=4 s: b has 2 pods while a runs"]
    seen.observe(
        6, [rayjob("a", False), rayjob("b", False)],
        [workload("a", admitted="2026-01-01T00:00:01Z"), workload("b", admitted="2026-01-01T00:00:05Z")],
        {"a": 3, "b": 3},
    )  # fmt: skip
    assert seen.violations[-1] == "t=6 s: ['a', 'b'] admitted at once"


def test_the_order_needs_both_workloads_admitted():
    seen = queued.QueueWatch(("a", "b"))
    seen.observe(
        2, [rayjob("a", False), rayjob("b", True)],
        [workload("a", admitted="2026-01-01T00:00:01Z"), workload("b", pending=PENDING)], {},
    )  # fmt: skip
    with pytest.raises(AssertionError, match="never admitted"):
        seen.order()


def test_a_job_whose_workload_finished_has_ended_before_its_rayjob_says_so():
    """Kueue admits the next job once the Workload finished; the RayJob's status may lag a poll."""
    seen = queued.QueueWatch(("a", "b"))
    seen.observe(
        10, [rayjob("a", False), rayjob("b", False)],
        [workload("a", admitted="2026-01-01T00:00:01Z", finished="2026-01-01T00:00:09Z"),
         workload("b", admitted="2026-01-01T00:00:09Z")], {"a": 3, "b": 1},
    )  # fmt: skip
    assert seen.violations == [] and seen.ended_s == {"a": 10}
