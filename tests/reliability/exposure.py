"""Where a render exposes Ray's dashboard/Jobs API (8265) or client port (10001) beyond the cluster.

Checked generically over every object: Services of type LoadBalancer or NodePort, Ingresses and
Gateway API routes (by backend port, port name, or a backend Service that itself targets those
ports), and the Services KubeRay creates from a RayCluster/RayJob/RayCronJob/RayService head group
(`serviceType`, which exposes every head port, and `enableIngress`, the dashboard Ingress).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.ray_kinds import ray_cluster_spec

RAY_PRIVATE_PORTS = {8265, 10001}
RAY_PRIVATE_PORT_NAMES = {"dashboard", "client"}
EXTERNAL_SERVICE_TYPES = {"LoadBalancer", "NodePort"}
ROUTE_KINDS = {"HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"}


def _private(port: Any) -> bool:
    return port in RAY_PRIVATE_PORTS or port in RAY_PRIVATE_PORT_NAMES or str(port) in {"8265", "10001"}


def _service_private_ports(service: Mapping[str, Any]) -> set[Any]:
    found = set()
    for port in (service.get("spec") or {}).get("ports") or []:
        for field in ("port", "targetPort", "name"):
            if _private(port.get(field)):
                found.add(port.get(field))
    return found


def head_specs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The RayClusterSpec of a RayCluster, RayJob, RayCronJob or RayService (tools.ray_kinds)."""
    spec = ray_cluster_spec(obj)
    return [spec] if spec else []


def exposures(objects: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each way 8265 or 10001 leaves the cluster: {what, where, auth} (auth: the Ray cluster's mode)."""
    services = {(o.get("metadata") or {}).get("name"): o for o in objects if o.get("kind") == "Service"}
    found = []
    for obj in objects:
        kind = obj.get("kind")
        name = (obj.get("metadata") or {}).get("name")
        spec = obj.get("spec") or {}
        if kind == "Service" and spec.get("type") in EXTERNAL_SERVICE_TYPES:
            ports = _service_private_ports(obj)
            if ports:
                found.append(
                    {
                        "what": f"Service type {spec['type']} ports {sorted(map(str, ports))}",
                        "where": f"Service/{name}",
                    }
                )
        if kind == "Ingress":
            backends = [spec.get("defaultBackend") or {}]
            for rule in spec.get("rules") or []:
                backends += [p.get("backend") or {} for p in (rule.get("http") or {}).get("paths") or []]
            for backend in backends:
                svc = backend.get("service") or {}
                port = svc.get("port") or {}
                target = services.get(svc.get("name"))
                if (
                    _private(port.get("number"))
                    or _private(port.get("name"))
                    or (str(svc.get("name", "")).endswith("head-svc") and port.get("number") != 8000)
                    or (target is not None and _service_private_ports(target))
                ):
                    found.append({"what": f"Ingress backend {svc}", "where": f"Ingress/{name}"})
        if kind in ROUTE_KINDS:
            for rule in spec.get("rules") or []:
                for ref in rule.get("backendRefs") or []:
                    target = services.get(ref.get("name"))
                    if _private(ref.get("port")) or (target is not None and _service_private_ports(target)):
                        found.append({"what": f"{kind} backend {ref}", "where": f"{kind}/{name}"})
        for cluster in head_specs(obj):
            head = cluster.get("headGroupSpec") or {}
            auth = (cluster.get("authOptions") or {}).get("mode", "disabled")
            if head.get("serviceType") in EXTERNAL_SERVICE_TYPES:
                found.append(
                    {
                        "what": f"head Service type {head['serviceType']} (every head port)",
                        "where": f"{kind}/{name}",
                        "auth": auth,
                    }
                )
            if head.get("enableIngress"):
                found.append(
                    {
                        "what": "head enableIngress (dashboard Ingress)",
                        "where": f"{kind}/{name}",
                        "auth": auth,
                    }
                )
    return found
