"""The chart's NetworkPolicies, rendered by real helm, let through the flows Ray needs and no others.

Pods are built from the rendered objects (the head and worker templates of the RayCluster, the
MLflow Deployment, the `helm test` pod) plus the pods around them (KubeRay operator, Prometheus,
kube-dns, clients); tests/chart/network_policy.py evaluates the policies per Kubernetes' rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chart.network_policy import Endpoint, allowed
from tools.render_chart import CHART_DIR, render, render_text

NS = "ray"  # tools.render_chart's default namespace
Objects = list[dict[str, Any]]
EGRESS_SCENARIO = CHART_DIR / "ci" / "21-networkpolicy-egress-values.yaml"


def _one(objects: Objects, kind: str, name_part: str = "") -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and name_part in o["metadata"]["name"]]
    assert len(found) == 1, f"expected one {kind} named *{name_part}*, got {len(found)}"
    return found[0]


def _pod(name: str, ip: str, template: dict[str, Any]) -> Endpoint:
    ports = {
        p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])
    }
    return Endpoint(name, ip, NS, dict(template["metadata"]["labels"]), ports)


def cluster_endpoints(objects: Objects) -> dict[str, Endpoint]:
    """The release's pods as rendered, and the pods and addresses around them."""
    ray = _one(objects, "RayCluster")["spec"]
    head_template = ray["headGroupSpec"]["template"]
    worker_template = ray["workerGroupSpecs"][0]["template"]
    other_cluster = {**worker_template["metadata"]["labels"], "ray-aks/cluster": "job-mnist"}
    release = {"app.kubernetes.io/name": "ray-aks", "app.kubernetes.io/instance": "ray"}
    endpoints = {
        "head": _pod("head", "10.244.0.10", head_template),
        "worker": _pod("worker", "10.244.0.11", worker_template),
        "other-ray-cluster": Endpoint("other-ray-cluster", "10.244.0.12", NS, other_cluster),
        "helm-test": Endpoint(
            "helm-test", "10.244.0.13", NS, _one(objects, "Pod", "test")["metadata"]["labels"]
        ),
        # The RayJob submitter pods carry the chart's selector labels with this component.
        "submitter": Endpoint(
            "submitter", "10.244.0.14", NS, {**release, "app.kubernetes.io/component": "ray-job-submitter"}
        ),
        "operator": Endpoint(
            "operator",
            "10.244.0.20",
            NS,
            {"app.kubernetes.io/name": "kuberay-operator", "app.kubernetes.io/instance": "ray"},
        ),
        "operator-elsewhere": Endpoint(
            "operator-elsewhere",
            "10.244.0.21",
            "kuberay-system",
            {"app.kubernetes.io/name": "kuberay-operator"},
        ),
        "prometheus": Endpoint(
            "prometheus", "10.244.1.10", "monitoring", {"app.kubernetes.io/name": "prometheus"}
        ),
        "ama-metrics": Endpoint("ama-metrics", "10.244.1.11", "kube-system", {"rsName": "ama-metrics"}),
        "kube-dns": Endpoint("kube-dns", "10.244.1.2", "kube-system", {"k8s-app": "kube-dns"}),
        "client-same-namespace": Endpoint("client-same-namespace", "10.244.2.10", NS, {"app": "client"}),
        "client-other-namespace": Endpoint(
            "client-other-namespace", "10.244.3.10", "other", {"app": "client"}
        ),
        "ingress-controller": Endpoint(
            "ingress-controller", "10.244.4.10", "app-routing-system", {"app": "nginx"}
        ),
        "vnet-client": Endpoint("vnet-client", "10.224.5.6"),
        "internet": Endpoint("internet", "203.0.113.7"),
        "azure-storage": Endpoint("azure-storage", "20.60.1.1"),
        "public-dns": Endpoint("public-dns", "8.8.8.8"),
    }
    if any(o["kind"] == "Deployment" for o in objects):
        endpoints["mlflow"] = _pod(
            "mlflow", "10.244.0.30", _one(objects, "Deployment", "mlflow")["spec"]["template"]
        )
    return endpoints


def flow(objects: Objects, source: str, destination: str, port: int, protocol: str = "TCP") -> bool:
    endpoints = cluster_endpoints(objects)
    return allowed(objects, endpoints[source], endpoints[destination], port, protocol)


# Flows as source->destination:port[/protocol] (TCP unless named): with the default values
FLOW = re.compile(r"(?P<source>[\w-]+)->(?P<destination>[\w-]+):(?P<port>\d+)(?:/(?P<protocol>UDP|TCP))?")
DEFAULT_ALLOWED = [
    "worker->head:6379",  # GCS
    "head->worker:10002",  # worker processes
    "worker->head:52365",  # dashboard agent
    "operator->head:8265",
    "submitter->head:8265",
    "helm-test->head:8265",
    "prometheus->head:8080",
    "prometheus->worker:8080",
    "prometheus->head:44217",
    "prometheus->head:44227",
    "ama-metrics->worker:8080",
    "client-same-namespace->head:8000",
    "worker->mlflow:5000",
    "head->mlflow:5000",
    "head->kube-dns:53/UDP",
    "worker->kube-dns:53/UDP",
    "mlflow->kube-dns:53/UDP",
    "worker->azure-storage:443",  # egress is open by default
]

DEFAULT_DENIED = [
    "client-other-namespace->head:8265",
    "client-same-namespace->head:8265",
    "internet->head:8265",
    "internet->head:10001",
    "vnet-client->head:10001",
    "client-other-namespace->head:10001",
    "client-same-namespace->head:10001",
    "submitter->head:10001",
    "other-ray-cluster->head:6379",
    "other-ray-cluster->head:10001",
    "operator->head:6379",
    "prometheus->head:8265",
    "client-other-namespace->head:8000",
    "internet->head:8000",
    "client-other-namespace->mlflow:5000",
    "client-same-namespace->mlflow:5000",
    "client-other-namespace->head:8080",
]


# The egress scenario (ci/21): operator in kuberay-system, Prometheus pods in `monitoring` only,
# Serve open to app-routing-system and 10.224.0.0/16, egress restricted.
EGRESS_ALLOWED = [
    "worker->head:6379",
    "head->worker:10002",
    "worker->mlflow:5000",
    "head->kube-dns:53/UDP",
    "worker->kube-dns:53/TCP",
    "mlflow->kube-dns:53/UDP",
    "worker->azure-storage:443",
    "submitter->head:8265",
    "helm-test->head:8265",
    "operator-elsewhere->head:8265",
    "prometheus->worker:8080",
    "ingress-controller->head:8000",
    "vnet-client->head:8000",
]

EGRESS_DENIED = [
    "worker->public-dns:443",
    "worker->azure-storage:80",
    "worker->internet:443",
    "head->client-other-namespace:80",
    "mlflow->head:8265",
    "worker->kube-dns:5353/UDP",
    "operator->head:8265",  # the operator moved to kuberay-system
    "ama-metrics->worker:8080",  # Prometheus pods are those labelled prometheus in `monitoring`
    "ingress-controller->head:10001",
    "vnet-client->head:8265",
]


WORKLOAD_SCENARIOS = [
    CHART_DIR / "ci" / "10-rayjobs-values.yaml",
    CHART_DIR / "ci" / "12-rayservice-values.yaml",
]


def workload_endpoints(objects: Objects) -> dict[str, Endpoint]:
    """The pods of the MNIST RayJob's cluster and its submitter, and of the RayService's cluster."""
    job = _one(objects, "RayJob", "mnist")["spec"]
    service = _one(objects, "RayService")["spec"]["rayClusterConfig"]
    return {
        **cluster_endpoints(objects),
        "job-head": _pod("job-head", "10.244.5.10", job["rayClusterSpec"]["headGroupSpec"]["template"]),
        "job-worker": _pod(
            "job-worker", "10.244.5.11", job["rayClusterSpec"]["workerGroupSpecs"][0]["template"]
        ),
        "job-submitter": _pod("job-submitter", "10.244.5.12", job["submitterPodTemplate"]),
        "serve-head": _pod("serve-head", "10.244.6.10", service["headGroupSpec"]["template"]),
        "serve-worker": _pod("serve-worker", "10.244.6.11", service["workerGroupSpecs"][0]["template"]),
    }


# With the four RayJobs and the RayService (Ingress on) rendered: each Ray cluster talks within
# itself only; the rendered submitter reaches its head's dashboard; the Ingress controller reaches Serve.
WORKLOAD_ALLOWED = [
    "job-worker->job-head:6379",
    "job-head->job-worker:10002",
    "job-submitter->job-head:8265",
    "job-head->mlflow:5000",
    "serve-worker->serve-head:6379",
    "serve-worker->mlflow:5000",
    "ingress-controller->serve-head:8000",  # added by itself while the Ingress is on
    "ingress-controller->serve-worker:8000",
    "operator->job-head:8265",
    "prometheus->serve-worker:8080",
]

WORKLOAD_DENIED = [
    "job-worker->head:6379",  # a job's cluster and the chart's RayCluster are separate
    "worker->job-head:6379",
    "serve-worker->job-head:6379",
    "job-worker->serve-head:10001",
    "job-submitter->job-head:10001",
    "ingress-controller->serve-head:8265",
    "ingress-controller->serve-head:10001",
    "client-other-namespace->serve-head:8000",
    "internet->job-head:8265",
]


@dataclass(frozen=True)
class Scenario:
    """A render of the chart, the pods its flows name, and the flows its policies let through or not."""

    values_files: list[Path]
    endpoints: Callable[[Objects], dict[str, Endpoint]]
    allowed: list[str]
    denied: list[str]


SCENARIOS = {
    "default": Scenario([], cluster_endpoints, DEFAULT_ALLOWED, DEFAULT_DENIED),
    "egress": Scenario([EGRESS_SCENARIO], cluster_endpoints, EGRESS_ALLOWED, EGRESS_DENIED),
    "workload": Scenario(WORKLOAD_SCENARIOS, workload_endpoints, WORKLOAD_ALLOWED, WORKLOAD_DENIED),
}


@pytest.fixture(scope="module")
def rendered() -> Callable[[str], Objects]:
    """The scenario's render, made once per module."""
    return functools.cache(lambda name: render(values_files=SCENARIOS[name].values_files))


@pytest.mark.parametrize(
    ("name", "flow", "expected"),
    [
        pytest.param(name, flow, expected, id=f"{name}-{'allows' if expected else 'denies'}-{flow}")
        for name, scenario in SCENARIOS.items()
        for expected, flows in ((True, scenario.allowed), (False, scenario.denied))
        for flow in flows
    ],
)
def test_policies_let_through_the_flows_ray_needs_and_no_others(
    rendered: Callable[[str], Objects], name: str, flow: str, expected: bool
) -> None:
    objects = rendered(name)
    endpoints = SCENARIOS[name].endpoints(objects)
    parts = FLOW.fullmatch(flow)
    assert parts, f"{flow} is not source->destination:port[/protocol]"
    source, destination = endpoints[parts["source"]], endpoints[parts["destination"]]
    assert allowed(objects, source, destination, int(parts["port"]), parts["protocol"] or "TCP") == expected


def test_without_network_policies_everything_flows() -> None:
    objects = render(set_values={"networkPolicy.enabled": False})
    assert not [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert flow(objects, "internet", "head", 10001)


PORT_LINE = re.compile(r"^(?P<indent>\s*)- port: ")
RULE_LINE = re.compile(r"^\s*- (from|to):")


def uncommented_ports(manifest: str) -> list[str]:
    """`- port:` lines of NetworkPolicies with no comment above them or above their rule."""
    missing = []
    for doc in manifest.split("\n---"):
        if "kind: NetworkPolicy" not in doc:
            continue
        lines = doc.splitlines()
        for number, line in enumerate(lines):
            if not PORT_LINE.match(line):
                continue
            if lines[number - 1].strip().startswith("#"):
                continue
            above = number - 1
            while above > 0 and not RULE_LINE.match(lines[above]):
                above -= 1
            rule_commented = lines[above - 1].strip().startswith("#")
            if not rule_commented and not lines[number - 2].strip().startswith("- port: 53"):
                missing.append(line.strip())
    return missing


@pytest.mark.parametrize("values", [[], [EGRESS_SCENARIO]], ids=["default", "egress"])
def test_every_allowed_port_carries_a_comment(values: list[Any]) -> None:
    manifest = render_text(values)
    assert "- port: 8265" in manifest
    assert uncommented_ports(manifest) == []


# --- the evaluator itself, on hand-written policies -------------------------------------------------


def _policy(spec: dict[str, Any], namespace: str = "a") -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


POD_A = Endpoint("a", "10.0.0.1", "a", {"app": "a"}, {"web": 8080})
POD_B = Endpoint("b", "10.0.0.2", "b", {"app": "b"})


def test_evaluator_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    policy = _policy(
        {
            "podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "x"}}}]}],
        }
    )
    assert not allowed([policy], POD_B, POD_A, 80)


def test_evaluator_separate_peers_are_ored() -> None:
    policy = _policy(
        {
            "podSelector": {},
            "ingress": [
                {"from": [{"namespaceSelector": {}}, {"podSelector": {"matchLabels": {"app": "x"}}}]}
            ],
        }
    )
    assert allowed([policy], POD_B, POD_A, 80)


def test_evaluator_pod_selector_alone_means_the_policy_namespace() -> None:
    policy = _policy({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
    assert not allowed([policy], POD_B, POD_A, 80)


def test_evaluator_resolves_named_ports_on_the_destination() -> None:
    policy = _policy({"podSelector": {}, "ingress": [{"ports": [{"port": "web"}]}]})
    assert allowed([policy], POD_B, POD_A, 8080)
    assert not allowed([policy], POD_B, POD_A, 8081)


def test_evaluator_ip_block_except() -> None:
    policy = _policy(
        {
            "podSelector": {},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}]}],
        }
    )
    assert allowed([policy], Endpoint("x", "10.1.0.1"), POD_A, 80)
    assert not allowed([policy], Endpoint("y", "10.9.0.1"), POD_A, 80)


def test_evaluator_egress_only_policy_leaves_ingress_open() -> None:
    policy = _policy({"podSelector": {}, "policyTypes": ["Egress"]})
    assert allowed([policy], POD_B, POD_A, 80)
    assert not allowed([policy], POD_A, POD_B, 80)


def test_evaluator_end_port_and_protocol() -> None:
    policy = _policy({"podSelector": {}, "ingress": [{"ports": [{"port": 10002, "endPort": 19999}]}]})
    assert allowed([policy], POD_B, POD_A, 15000)
    assert not allowed([policy], POD_B, POD_A, 15000, "UDP")
