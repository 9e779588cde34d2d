"""What runs in the e2e cluster before the chart: CoreDNS (Ray workers find the head by its Service
name) and the real KubeRay operator, each from a binary built here in a one-binary image, and the
operator's own CRDs and RBAC from its Go module's config/ (the managed add-on mode of the chart)."""

from __future__ import annotations

import subprocess

import yaml

from tools.e2e.layout import Layout

COREDNS_IMAGE = "ray-aks-e2e.local/coredns:{version}"
OPERATOR_IMAGE = "ray-aks-e2e.local/kuberay-operator:{version}"
OPERATOR_NAMESPACE = "kuberay-system"

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def coredns(layout: Layout, image: str) -> list[dict]:
    """CoreDNS answering for cluster.local only (no upstream: nothing outside this machine answers),
    on an unprivileged port behind the kube-dns Service at the kubelet's clusterDNS address."""
    labels = {"k8s-app": "kube-dns"}
    corefile = """.:1053 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loop
    reload
}
"""
    ns = "kube-system"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": ns}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "ray-aks-e2e:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "ray-aks-e2e:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "ray-aks-e2e:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": ns},
            "data": {"Corefile": corefile},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "dnsPolicy": "Default",
                        "priorityClassName": "system-cluster-critical",
                        "containers": [
                            {
                                "name": "coredns",
                                "image": image,
                                "imagePullPolicy": "Never",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"},
                                ],
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8181},
                                    "periodSeconds": 2,
                                },
                                "resources": {
                                    "requests": {"cpu": "10m", "memory": "32Mi"},
                                    "limits": {"memory": "128Mi"},
                                },
                                "securityContext": RESTRICTED_CONTAINER,
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": ns, "labels": labels},
            "spec": {
                "clusterIP": layout.dns_service_ip,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
                ],
            },
        },
    ]


def kuberay_operator(
    kubectl: list[str], module_dir: str, image: str, feature_gates: dict[str, bool]
) -> list[dict]:
    """The operator's own install (config/default of the ray-operator module: CRDs, RBAC, Deployment),
    with our image and namespace, and its feature gates."""
    rendered = subprocess.run(
        [*kubectl, "kustomize", f"{module_dir}/config/default"], check=True, capture_output=True, text=True
    ).stdout
    objects = []
    for obj in yaml.safe_load_all(rendered):
        if not obj:
            continue
        if obj.get("metadata", {}).get("namespace"):
            obj["metadata"]["namespace"] = OPERATOR_NAMESPACE
        for subject in obj.get("subjects") or []:
            if subject.get("namespace"):
                subject["namespace"] = OPERATOR_NAMESPACE
        if obj["kind"] == "Deployment":
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container["image"] = image
            container["imagePullPolicy"] = "Never"
            gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(feature_gates.items()))
            container["args"] = [a for a in container.get("args", []) if not a.startswith("--feature-gates")]
            container["args"].append(f"--feature-gates={gates}")
            container["securityContext"]["runAsNonRoot"] = True
            container["securityContext"]["runAsUser"] = 65532
        objects.append(obj)
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": OPERATOR_NAMESPACE,
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    return [namespace, *objects]
