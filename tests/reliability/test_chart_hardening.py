"""Hardening of the rendered chart, checked on every object without knowing the kinds:

- every pod spec (Pods, Deployments, Ray head/worker/submitter templates, the autoscaler sidecar's
  securityContext) of the default CPU and GPU renders and every ct scenario meets Pod Security
  Standards "restricted";
- no values combination the schema accepts exposes Ray's 8265 or 10001 through a LoadBalancer,
  NodePort, Ingress or route (generated values, a property test);
- secrets reach pods only through Secret references, never as literal values.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.chart.pod_specs import pod_specs
from tests.reliability import sizes
from tests.reliability.chart_tools import render_many, walk_objects
from tests.reliability.exposure import exposures, head_specs
from tests.reliability.pod_security import restricted_violations
from tests.reliability.schema_values import accepted_values
from tools.render_chart import CHART_DIR, GPU_VALUES, REPO_ROOT, render

SCENARIOS = {
    "defaults": [],
    "gpu": [GPU_VALUES],
    **{p.name.removesuffix("-values.yaml"): [p] for p in sorted((CHART_DIR / "ci").glob("*-values.yaml"))},
}
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|API_?KEY|ACCESS_?KEY|CONNECTION_?STRING|PRIVATE", re.I
)
# Names of where a secret is, not the secret: a mounted file's path, a Secret's name, an auth mode.
SECRET_POINTER = re.compile(r"_(PATH|FILE|DIR|NAME|MODE)$", re.I)


@pytest.fixture(scope="module")
def scenario_renders() -> dict[str, list[dict[str, Any]]]:
    return {name: render(files) for name, files in SCENARIOS.items()}


def pss_violations(objects: list[dict[str, Any]]) -> list[str]:
    found = []
    for pod in pod_specs(objects):
        annotations = {}
        if pod.path.endswith(".spec"):
            parent: Any = next(
                o
                for o in objects
                if (o.get("metadata") or {}).get("name") == pod.name and o.get("kind") == pod.kind
            )
            for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", pod.path[: -len(".spec")]):
                parent = parent[part[0]] if part[0] else parent[int(part[1])]
            annotations = ((parent or {}).get("metadata") or {}).get("annotations") or {}
        found += [f"{pod.where}: {v}" for v in restricted_violations(pod.spec, annotations)]
    for obj in objects:  # the autoscaler sidecar KubeRay adds to the head pod
        for cluster in head_specs(obj):
            options = cluster.get("autoscalerOptions")
            if cluster.get("enableInTreeAutoscaling") and options is not None:
                sidecar = [("autoscaler sidecar", {"securityContext": options.get("securityContext") or {}})]
                head_pod = ((cluster.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}
                only_sidecar = {**head_pod, "containers": [], "initContainers": []}
                found += [
                    f"{obj['kind']}/{obj['metadata']['name']}: {v}"
                    for v in restricted_violations(only_sidecar, extra_containers=sidecar)
                ]
    return found


def test_pss_checker_flags_each_restricted_rule() -> None:
    """The checker itself: a compliant pod passes; each broken rule is reported."""
    good_container = {
        "name": "c",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    good = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [good_container],
        "volumes": [{"name": "v", "emptyDir": {}}],
    }
    assert restricted_violations(good) == []
    container_sc = good_container["securityContext"]

    def with_container(**fields: Any) -> dict[str, Any]:
        return {**good, "containers": [{**good_container, **fields}]}

    def with_pod_sc(**fields: Any) -> dict[str, Any]:
        return {**good, "securityContext": {**good["securityContext"], **fields}}

    breaks = {
        "hostNetwork": {**good, "hostNetwork": True},
        "hostPath": {**good, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
        "privileged": with_container(securityContext={**container_sc, "privileged": True}),
        "allowPrivilegeEscalation": with_container(securityContext={"capabilities": {"drop": ["ALL"]}}),
        "drop lacks ALL": with_container(securityContext={"allowPrivilegeEscalation": False}),
        "capabilities.add": with_container(
            securityContext={**container_sc, "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}
        ),
        "runAsNonRoot": {**good, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
        "runAsUser is 0": with_pod_sc(runAsUser=0),
        "seccompProfile": {**good, "securityContext": {"runAsNonRoot": True}},
        "hostPort": with_container(ports=[{"containerPort": 80, "hostPort": 80}]),
        "sysctl": with_pod_sc(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
    }
    for rule, spec in breaks.items():
        violations = restricted_violations(spec)
        assert any(rule.split()[0] in v for v in violations), f"{rule} not flagged: {violations}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_template_meets_pss_restricted(scenario: str, scenario_renders) -> None:
    objects = scenario_renders[scenario]
    pods = pod_specs(objects)
    kinds = Counter(p.kind for p in pods)
    print(f"{scenario}: {len(pods)} pod specs checked against PSS restricted ({dict(kinds)})")
    assert kinds["RayCluster"] >= 2 or scenario != "defaults", "the RayCluster's templates were not found"
    assert pss_violations(objects) == []


def secret_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Literal secrets: a secret-named env var with a `value`, or a password/token field that is a string."""
    found = []
    for obj in objects:
        where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        if obj.get("kind") in ("Secret", "ConfigMap"):
            for key in {**(obj.get("data") or {}), **(obj.get("stringData") or {})}:
                if SECRET_NAME.search(key) and obj.get("kind") == "ConfigMap":
                    found.append(f"{where}: ConfigMap key {key} looks like a secret")
            has_data = obj.get("data") or obj.get("stringData")
            if obj.get("kind") == "Secret" and has_data and not _kept_token(obj):
                found.append(f"{where}: the chart renders a Secret with data (from values?)")
        for path, node in walk_objects(obj):
            if (
                (
                    isinstance(node, dict)
                    and isinstance(node.get("name"), str)
                    and ("value" in node or "valueFrom" in node)
                )
                and (path.split(".")[-1].startswith("env[") or re.search(r"\.env\[\d+\]$", path))
                and (
                    SECRET_NAME.search(node["name"])
                    and not SECRET_POINTER.search(node["name"])
                    and not _secret_ref(node)
                )
            ):
                found.append(f"{where} {path}: env {node['name']} is not from a Secret")
            key = path.rsplit(".", 1)[-1]
            # A password/token field holding a literal string (a dict is a reference: valueFrom,
            # secretKeyRef, a secret volume).
            if (
                re.fullmatch(r"(?i)(redis)?password|token|secret|api_?key", key)
                and isinstance(node, str | int)
                and node != ""
            ):
                found.append(f"{where} {path}: {key} is a literal value, not a Secret reference")
    return found


def _kept_token(obj: dict[str, Any]) -> bool:
    """The release's Ray token (templates/auth/secret.yaml): random letters the chart makes on install
    and reads back on upgrade, never a value from the values file."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    return labels.get("app.kubernetes.io/component") == "ray-auth" and keys == {"auth_token"}


def _secret_ref(node: dict[str, Any]) -> bool:
    value_from = node.get("valueFrom") or {}
    return "value" not in node and "secretKeyRef" in value_from


def test_secret_checker_flags_literals() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "env": [
        {"name": "REDIS_PASSWORD", "value": "hunter2"},
        {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "API_KEY", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
    ]}]}}  # fmt: skip
    problems = secret_problems([pod])
    assert len(problems) == 2 and "REDIS_PASSWORD" in problems[0] and "API_KEY" in problems[1], problems


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_only_through_secret_references(scenario: str, scenario_renders) -> None:
    assert secret_problems(scenario_renders[scenario]) == []


def test_no_accepted_values_expose_the_jobs_api_or_client_port(tmp_path: Path) -> None:
    """Property: for values the schema accepts (generated from it) that render, 8265 and 10001 never
    leave the cluster through a chart Service, Ingress or route (the head Service is ClusterIP only;
    Serve's own Service and Ingress carry port 8000 alone)."""
    generated = accepted_values(sizes.EXPOSURE_EXAMPLES)
    assert len(generated) >= sizes.EXPOSURE_EXAMPLES * 0.9, "the generator should find accepted values"
    renders = render_many(generated, tmp_path)
    outcomes: Counter[str] = Counter()
    problems = []
    for n, result in enumerate(renders):
        if not result.ok:
            outcomes["refused by a template check"] += 1
            continue
        outcomes["rendered"] += 1
        problems += [f"values #{n}: {found}" for found in exposures(result.objects)]
        problems += [f"values #{n}: {p}" for p in secret_problems(result.objects)]
    print(f"exposure property: {len(generated)} accepted values files: {dict(outcomes)}")
    assert outcomes["rendered"] >= len(generated) // 2
    assert problems == []


def test_exposure_finder_sees_each_way_out() -> None:
    svc = {
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "dashboard", "port": 443, "targetPort": 8265}]},
    }
    serve_lb = {
        "kind": "Service",
        "metadata": {"name": "serve"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "serve", "port": 80, "targetPort": 8000}]},
    }
    ingress = {
        "kind": "Ingress",
        "metadata": {"name": "i"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {"backend": {"service": {"name": "ray-head-svc", "port": {"number": 10001}}}}
                        ]
                    }
                }
            ]
        },
    }
    ray = {
        "kind": "RayCluster",
        "metadata": {"name": "r"},
        "spec": {
            "authOptions": {"mode": "disabled"},
            "headGroupSpec": {"serviceType": "NodePort", "enableIngress": True},
        },
    }
    cron = {
        "kind": "RayCronJob",
        "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"rayClusterSpec": {"headGroupSpec": {"serviceType": "LoadBalancer"}}}},
    }
    assert len(exposures([svc, serve_lb, ingress, ray])) == 4
    assert exposures([serve_lb]) == []
    assert [e["where"] for e in exposures([cron])] == ["RayCronJob/nightly"]
    assert REPO_ROOT.is_dir()
