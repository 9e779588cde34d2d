"""Kueue on the e2e cluster, for the queued-jobs scenario only (tests/e2e/test_10_queued_jobs.py).

The manager is the binary `make e2e-tools` builds from the Go module proxy, in a one-binary image like
the KubeRay operator's; its CRDs, RBAC, Deployment and webhooks come from the same module's
config/default (`kubectl kustomize`), changed only where this cluster needs it:

- our image, never pulled, under a restricted-compatible security context (uid 65532);
- only the Ray integrations (the module's default also turns on Job, Pod, Deployment, ...), and
  only the webhooks of Kueue's own kinds and the Ray kinds;
- no visibility API: the e2e API server has no aggregation layer, and an APIService that never
  answers breaks discovery for kubectl and helm. The feature gate stops the manager serving it;
- its webhooks (failurePolicy Fail) only for namespaces labelled OPT_IN_LABEL, so that Kueue never
  stands between another scenario and the API server, and nothing fails once it is gone;
- small requests for a 2-core node.

Kueue's cert-controller writes the webhooks' certificate into its Secret and patches the caBundles
(no cert-manager). `install` waits until the API server reaches the webhooks; `uninstall` removes
the webhook configurations first (also after a failure), then the manager and its RBAC. The CRDs
stay, as helm leaves CRDs: the next install updates them.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from ray_aks.processes import wait_until

from tools.e2e import oci
from tools.e2e.cluster import Cluster

IMAGE = "ray-aks-e2e.local/kueue:{version}"
NAMESPACE = "kueue-system"
DEPLOYMENT = "kueue-controller-manager"
CONFIG_MAP = "kueue-manager-config"
CONFIG_KEY = "controller_manager_config.yaml"
OPT_IN_LABEL = "ray-aks-e2e/kueue"
FRAMEWORKS = ["ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice"]
# The API groups of those kinds and of Kueue's own: the only webhooks installed.
KUEUE_AND_RAY_GROUPS = {"kueue.x-k8s.io", "ray.io"}
FEATURE_GATES = {"VisibilityOnDemand": False}
# Kueue's webhook configurations, by the names its cert-controller patches.
WEBHOOK_CONFIGURATIONS = {
    "MutatingWebhookConfiguration": "kueue-mutating-webhook-configuration",
    "ValidatingWebhookConfiguration": "kueue-validating-webhook-configuration",
}
RESTRICTED_USER = 65532
MANAGER_RESOURCES = {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
# What only the visibility API uses: its APIServices, its Service and its RoleBinding in kube-system.
VISIBILITY_OBJECTS = {
    ("Service", "kueue-visibility-server"),
    ("RoleBinding", "kueue-visibility-server-auth-reader"),
}
# Kueue's API version of the objects the scenario creates (v1beta2: the storage version in 0.17).
API_VERSION = "kueue.x-k8s.io/v1beta2"


def render(kubectl: list[str], module_dir: str) -> str:
    """Kueue's own install, as its module's config/default renders it."""
    command = [*kubectl, "kustomize", f"{module_dir}/config/default"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def manager_config(text: str) -> str:
    """Kueue's Configuration with only the Ray integrations."""
    config = yaml.safe_load(text)
    config.setdefault("integrations", {})["frameworks"] = list(FRAMEWORKS)
    return yaml.safe_dump(config, sort_keys=False)


def serves_an_integration_we_run(webhook: dict) -> bool:
    """Whether the webhook acts on Kueue's own kinds or the Ray kinds. Kueue v0.17.0 serves the
    webhooks of every framework, also of those left out of `integrations.frameworks`, and its Job
    webhook then panics (a nil queue manager): KubeRay's submitter Jobs would be refused."""
    groups = {group for rule in webhook.get("rules") or [] for group in rule.get("apiGroups") or []}
    return groups <= KUEUE_AND_RAY_GROUPS


def opt_in(webhook: dict) -> dict:
    """A webhook that runs only in namespaces labelled OPT_IN_LABEL (its own conditions kept)."""
    selector = webhook.setdefault("namespaceSelector", {})
    selector.setdefault("matchLabels", {})[OPT_IN_LABEL] = "true"
    return webhook


def manifests(rendered: str, image: str) -> list[dict]:
    """The objects to apply: Kueue's rendered install changed as the module docstring says."""
    objects = []
    for obj in yaml.safe_load_all(rendered):
        if not obj:
            continue
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "APIService" or (kind, name) in VISIBILITY_OBJECTS:
            continue
        if kind == "Namespace":
            labels = obj["metadata"].setdefault("labels", {})
            labels["pod-security.kubernetes.io/enforce"] = "restricted"
        elif kind == "ConfigMap" and name == CONFIG_MAP:
            obj["data"][CONFIG_KEY] = manager_config(obj["data"][CONFIG_KEY])
        elif kind == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            pod.setdefault("securityContext", {}).update(runAsNonRoot=True, runAsUser=RESTRICTED_USER)
            (container,) = [c for c in pod["containers"] if c["name"] == "manager"]
            container["image"] = image
            container["imagePullPolicy"] = "Never"
            gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(FEATURE_GATES.items()))
            container["args"] = [a for a in container.get("args", []) if not a.startswith("--feature-gates")]
            container["args"].append(f"--feature-gates={gates}")
            container["resources"] = MANAGER_RESOURCES
            context = container.setdefault("securityContext", {})
            context.update(allowPrivilegeEscalation=False, runAsNonRoot=True, runAsUser=RESTRICTED_USER)
            context["capabilities"] = {"drop": ["ALL"]}
            context.setdefault("seccompProfile", {"type": "RuntimeDefault"})
        elif kind in WEBHOOK_CONFIGURATIONS:
            if name != WEBHOOK_CONFIGURATIONS[kind]:
                raise ValueError(f"Kueue's {kind} is {name}, not {WEBHOOK_CONFIGURATIONS[kind]}")
            obj["webhooks"] = [opt_in(w) for w in obj["webhooks"] if serves_an_integration_we_run(w)]
        objects.append(obj)
    return objects


def webhooks_ready(configurations: list[dict]) -> bool:
    """Every webhook of Kueue's configurations has the CA bundle its cert-controller patches in."""
    return bool(configurations) and all(
        (w.get("clientConfig") or {}).get("caBundle") for c in configurations for w in c.get("webhooks") or []
    )


# --- what Kueue admits -------------------------------------------------------------------------


def pod_sets(rayjob: Mapping[str, Any]) -> list[tuple[str, int, dict]]:
    """A RayJob's pod sets as Kueue 0.17 builds its Workload (rayjob_controller.go PodSets):
    (name, count, pod spec) for the head, each worker group (`replicas`, times `numOfHosts`), and
    the submitter in K8sJobMode."""
    spec = rayjob["spec"]
    cluster = spec["rayClusterSpec"]
    sets = [("head", 1, cluster["headGroupSpec"]["template"]["spec"])]
    for group in cluster.get("workerGroupSpecs") or []:
        count = group.get("replicas", 1) * max(group.get("numOfHosts", 1), 1)
        sets.append((group["groupName"], count, group["template"]["spec"]))
    if spec.get("submissionMode", "K8sJobMode") == "K8sJobMode":
        template = spec.get("submitterPodTemplate")
        if template is None:
            raise ValueError("a K8sJobMode RayJob without a submitterPodTemplate (Kueue counts KubeRay's)")
        sets.append(("submitter", 1, template["spec"]))
    return sets


def queue_objects(
    name: str, namespace: str, quota: Mapping[str, str], priority: tuple[str, int]
) -> list[dict]:
    """A ResourceFlavor, a ClusterQueue with `quota` of it (every resource named, for every
    namespace), a LocalQueue `name` in `namespace` and a WorkloadPriorityClass (name, value)."""
    flavor = f"{name}-flavor"
    return [
        {"apiVersion": API_VERSION, "kind": "ResourceFlavor", "metadata": {"name": flavor}},
        {
            "apiVersion": API_VERSION,
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": sorted(quota),
                        "flavors": [
                            {
                                "name": flavor,
                                "resources": [{"name": r, "nominalQuota": quota[r]} for r in sorted(quota)],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": API_VERSION,
            "kind": "LocalQueue",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterQueue": name},
        },
        {
            "apiVersion": API_VERSION,
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": priority[0]},
            "value": priority[1],
            "description": "the e2e queued-jobs scenario",
        },
    ]


@dataclass(frozen=True)
class WorkloadState:
    """What a Workload's status says about its job: admitted when, finished when, why it waits."""

    job: str
    created_at: datetime
    admitted_at: datetime | None
    finished_at: datetime | None
    pending_message: str
    priority_class: str
    priority: int | None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def workload_state(workload: Mapping[str, Any]) -> WorkloadState:
    """The state of a Workload of a RayJob (its owner), from its conditions."""
    meta = workload["metadata"]
    owners = [o["name"] for o in meta.get("ownerReferences") or [] if o.get("kind") == "RayJob"]
    if not owners:
        raise ValueError(f"Workload {meta['name']} belongs to no RayJob")
    conditions = {c["type"]: c for c in (workload.get("status") or {}).get("conditions") or []}

    def since(kind: str) -> datetime | None:
        condition = conditions.get(kind)
        return _time(condition["lastTransitionTime"]) if condition and condition["status"] == "True" else None

    reserved = conditions.get("QuotaReserved") or {}
    spec = workload.get("spec") or {}
    priority_class = spec.get("priorityClassRef") or {}
    workload_priority = priority_class.get("kind") == "WorkloadPriorityClass"
    return WorkloadState(
        job=owners[0],
        created_at=_time(meta["creationTimestamp"]),
        admitted_at=since("Admitted"),
        finished_at=since("Finished"),
        pending_message=reserved.get("message", "") if reserved.get("status") != "True" else "",
        priority_class=priority_class.get("name", "") if workload_priority else "",
        priority=spec.get("priority"),
    )


# --- install and uninstall -----------------------------------------------------------------------


class Phases:
    """Seconds of each step, each from the end of the one before."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def end(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 1)
        self._last = now


class Kueue:
    """Kueue on a running e2e cluster (`make e2e-tools` built its binary and wrote versions.json).
    `uninstall` is safe to call whatever `install` got to: register it before installing."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        layout = cluster.layout
        versions = json.loads((layout.bin / "versions.json").read_text())
        self.version = versions["kueue"]
        self.module_dir = versions["kueue-module-dir"]
        self.image = IMAGE.format(version=self.version)
        self.objects: list[dict] = []
        self.install_phases_s: dict[str, float] = {}  # each step of install(), for the e2e summary

    def install(self) -> None:
        layout = self.cluster.layout
        phases = Phases()
        archive = oci.write_archive(
            layout.state / "images" / "kueue.tar", self.image, layout.binary("kueue"), ["/manager"]
        )
        self.cluster.ctr("images", "import", "-", input_file=archive)
        phases.end("image_import")
        kubectl = [str(layout.binary("kubectl"))]
        self.objects = manifests(render(kubectl, self.module_dir), self.image)
        # Server-side: Kueue's Workload CRD is larger than client-side apply's annotation limit.
        self.cluster.apply(self.objects, server_side=True)
        phases.end("apply")
        self.cluster.kubectl(
            "-n", NAMESPACE, "rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=300s", timeout=330
        )
        phases.end("rollout")
        wait_until(lambda: webhooks_ready(self.webhook_configurations()), 120, "Kueue's webhook CA bundles")
        phases.end("ca_bundles")
        # The API server calls the ResourceFlavor webhooks (cluster-scoped: no namespace selector):
        # a server-side dry run answers once it reaches them through the Service.
        probe = yaml.safe_dump(
            {"apiVersion": API_VERSION, "kind": "ResourceFlavor", "metadata": {"name": "webhook-probe"}}
        )
        wait_until(
            lambda: self.cluster.kubectl("create", "--dry-run=server", "-f", "-", input=probe),
            120,
            "Kueue's webhooks to answer the API server",
        )
        phases.end("webhooks_answer")
        self.install_phases_s = phases.seconds

    def webhook_configurations(self) -> list[dict]:
        names = [f"{kind.lower()}/{name}" for kind, name in WEBHOOK_CONFIGURATIONS.items()]
        return json.loads(self.cluster.kubectl("get", *names, "-o", "json"))["items"]

    def uninstall(self) -> None:
        """The webhook configurations first, by name (also when the install stopped half-way: nothing
        may call a webhook that is going away), then the rest but the CRDs (the namespace takes its
        objects along); waits for the namespace to go, so a next install starts clean."""
        webhooks = [f"{kind.lower()}/{name}" for kind, name in WEBHOOK_CONFIGURATIONS.items()]
        self.cluster.kubectl("delete", *webhooks, "--ignore-not-found")
        rest = [
            f"{o['kind'].lower()}/{o['metadata']['name']}"
            for o in self.objects
            if o["kind"] not in WEBHOOK_CONFIGURATIONS
            and o["kind"] != "CustomResourceDefinition"
            and not o["metadata"].get("namespace")
        ]
        if rest:
            self.cluster.kubectl("delete", *rest, "--ignore-not-found", "--wait=false", check=False)
        self.cluster.kubectl(
            "wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=180s", check=False, timeout=200
        )
