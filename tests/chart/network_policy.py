"""A small evaluator of Kubernetes NetworkPolicies (networking.k8s.io/v1), for rendered charts.

It answers "may this source open a connection to this destination port?" with the semantics of
the Kubernetes docs (https://kubernetes.io/docs/concepts/services-networking/network-policies/):

- A pod is isolated for ingress (egress) when a policy in its namespace selects it and has
  Ingress (Egress) in its policyTypes; policyTypes defaults to Ingress, plus Egress when the
  policy has egress rules. A pod no policy isolates accepts (sends) everything.
- Policies add up: a connection is allowed when any selecting policy has a rule that matches both
  the peer and the port. A rule without `from`/`to` matches every peer, one without `ports` every port.
- A peer with podSelector alone means pods of the policy's namespace; namespaceSelector alone
  means every pod of the matching namespaces; both means matching pods in matching namespaces;
  ipBlock matches by IP (minus `except`). Endpoints outside the cluster match only ipBlock.
- A port is a number or a named container port of the destination pod; protocol defaults to TCP;
  endPort makes a range.
- A connection needs the source's egress and the destination's ingress to allow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Policy = Mapping[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    named_ports: Mapping[str, int] = field(default_factory=dict)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def namespace_labels(namespace: str) -> dict[str, str]:
    """The label every namespace carries (Kubernetes >= 1.22)."""
    return {"kubernetes.io/metadata.name": namespace}


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against labels; an empty selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op!r}")
    return True


def peer_matches(peer: Mapping[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        namespace_ok = selector_matches(peer["namespaceSelector"], namespace_labels(other.namespace))
    else:
        namespace_ok = other.namespace == policy_namespace
    return namespace_ok and selector_matches(peer.get("podSelector"), other.labels)


def port_matches(
    rule_ports: Iterable[Mapping[str, Any]] | None, destination: Endpoint, port: int, protocol: str
) -> bool:
    rule_ports = list(rule_ports or [])
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        if "port" not in entry:
            return True
        first = entry["port"]
        if isinstance(first, str):
            first = destination.named_ports.get(first)
            if first is None:
                continue
        if first <= port <= entry.get("endPort", first):
            return True
    return False


def policy_types(policy: Policy) -> list[str]:
    spec = policy["spec"]
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", *(["Egress"] if "egress" in spec else [])]


def _selecting(policies: Iterable[Policy], pod: Endpoint, direction: str) -> list[Policy]:
    return [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and direction in policy_types(p)
        and selector_matches(p["spec"].get("podSelector"), pod.labels)
    ]


def _direction_allows(
    policies: Iterable[Policy],
    pod: Endpoint,
    other: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str,
    direction: str,
) -> bool:
    selecting = _selecting(policies, pod, direction)
    if not selecting:
        return True
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers
            )
            if peer_ok and port_matches(rule.get("ports"), destination, port, protocol):
                return True
    return False


def allowed(
    policies: Iterable[Policy], source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP"
) -> bool:
    """Whether `source` may connect to `destination` on `port`/`protocol` under `policies`."""
    policies = [p for p in policies if p.get("kind") == "NetworkPolicy"]
    if source.is_pod and not _direction_allows(
        policies, source, destination, destination, port, protocol, "Egress"
    ):
        return False
    return not destination.is_pod or _direction_allows(
        policies, destination, source, destination, port, protocol, "Ingress"
    )
