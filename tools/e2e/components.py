"""The e2e cluster's daemons as data: for each, its binary and flags (from the Layout), what it needs
written first, how the runner knows it is ready and how long that may take. tools/e2e/cluster.py
starts them in this order, waits for each, and stops them in reverse; everything here is pure but
the config files a command names (written under the layout's state), so it is unit tested without
root (tests/e2e/test_cluster_tools.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.e2e import configs
from tools.e2e.layout import Layout


@dataclass(frozen=True)
class Component:
    name: str
    # Its flags, from the layout (a function may write the config file a flag names).
    flags: Callable[[Layout], list[str]]
    # Ready when this answers 200 ...
    health_url: Callable[[Layout], str] | None = None
    # ... or when the cluster check of this name holds (tools/e2e/cluster.py's READY_CHECKS).
    ready_check: str | None = None
    timeout_s: float = 60
    # What it needs before it starts, done by the cluster runner (tools/e2e/cluster.py's PREPARE).
    prepare: str | None = None
    # The host's own binary, found on PATH; else the pinned build of this name in bin/e2e.
    host_binary: bool = False

    def command(self, layout: Layout) -> list[str]:
        binary = self.name if self.host_binary else str(layout.binary(self.name))
        return [binary, *self.flags(layout)]


def _kubeconfig(layout: Layout, name: str) -> Path:
    """The kubeconfig (under the layout's state) a daemon talks to the API server with."""
    return layout.state / f"{name}.kubeconfig"


def _controller(layout: Layout, name: str, *flags: str) -> list[str]:
    """Flags of a control-plane controller (the controller manager, the scheduler): its kubeconfig
    for the API server and for checking callers, its own flags, then one instance (no leader
    election) serving health on loopback only, without profiling."""
    config = _kubeconfig(layout, name)
    return [
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        *flags,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--profiling=false",
    ]


def etcd(layout: Layout) -> list[str]:
    url, peer = f"http://127.0.0.1:{layout.etcd_port}", f"http://127.0.0.1:{layout.etcd_peer_port}"
    return [
        "--name=e2e",
        f"--data-dir={layout.state / 'etcd'}",
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=e2e={peer}",
        "--listen-metrics-urls=",
        # A throwaway cluster: no fsync, so etcd does not wait on the shared disk.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def kube_apiserver(layout: Layout) -> list[str]:
    p = layout.pki
    return [
        f"--etcd-servers=http://127.0.0.1:{layout.etcd_port}",
        f"--bind-address={layout.node_ip}",
        f"--advertise-address={layout.node_ip}",
        f"--secure-port={layout.apiserver_port}",
        f"--service-cluster-ip-range={layout.service_cidr}",
        "--authorization-mode=Node,RBAC",
        # PodSecurity is on by default; NodeRestriction keeps the kubelet to its own node.
        "--enable-admission-plugins=NodeRestriction",
        f"--client-ca-file={p / 'ca.crt'}",
        f"--tls-cert-file={p / 'apiserver.crt'}",
        f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={p / 'ca.crt'}",
        # Reach the kubelet (exec, logs, port-forward) at the node's address: no DNS knows its name.
        "--kubelet-preferred-address-types=InternalIP",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={p / 'sa.pub'}",
        f"--service-account-signing-key-file={p / 'sa.key'}",
        "--profiling=false",
        "--v=0",
    ]


def kube_controller_manager(layout: Layout) -> list[str]:
    p = layout.pki
    return _controller(
        layout,
        "kube-controller-manager",
        f"--service-account-private-key-file={p / 'sa.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
        "--use-service-account-credentials=true",
    )


def kube_scheduler(layout: Layout) -> list[str]:
    return _controller(layout, "kube-scheduler")


def containerd(layout: Layout) -> list[str]:
    return [f"--config={layout.state / 'containerd.toml'}"]


# Shaped like an AKS system pool's node (the CPU pods have no node selector).
NODE_LABELS = (
    "kubernetes.azure.com/agentpool=system",
    "agentpool=system",
    "kubernetes.azure.com/mode=system",
)


def kubelet(layout: Layout) -> list[str]:
    return [
        f"--config={configs.kubelet(layout)}",
        f"--kubeconfig={_kubeconfig(layout, 'kubelet')}",
        f"--hostname-override={layout.node_name}",
        f"--node-ip={layout.node_ip}",
        f"--root-dir={layout.var / 'kubelet'}",
        f"--cert-dir={layout.state / 'kubelet-pki'}",
        f"--node-labels={','.join(NODE_LABELS)}",
        "--v=1",
    ]


def kube_proxy(layout: Layout) -> list[str]:
    return [f"--config={configs.kube_proxy(layout)}"]


def kube_router(layout: Layout) -> list[str]:
    return [
        f"--kubeconfig={_kubeconfig(layout, 'kube-router')}",
        f"--hostname-override={layout.node_name}",
        # Only the NetworkPolicy firewall: routes come from the bridge, Services from kube-proxy.
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        "--health-port=20244",
        "--metrics-port=0",
        "-v=1",
    ]


def kwok(layout: Layout) -> list[str]:
    return [
        f"--kubeconfig={_kubeconfig(layout, 'kwok')}",
        f"--config={layout.state / 'kwok-stages.yaml'}",
        # Only nodes marked as kwok's: the real node and its pods are the kubelet's.
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--server-address=127.0.0.1:10247",
        # Simulated pods get addresses apart from the real node's pod range.
        "--cidr=10.245.0.0/24",
    ]


# Control plane first, node next, then what runs beside it; `down` stops them in reverse.
COMPONENTS: tuple[Component, ...] = (
    Component("etcd", etcd, health_url=lambda layout: f"http://127.0.0.1:{layout.etcd_port}/health"),
    Component("kube-apiserver", kube_apiserver, ready_check="apiserver-ready", timeout_s=180),
    # Ready once its token controllers made the default ServiceAccount.
    Component(
        "kube-controller-manager",
        kube_controller_manager,
        ready_check="default-serviceaccount",
        timeout_s=120,
    ),
    Component("kube-scheduler", kube_scheduler),
    Component(
        "containerd",
        containerd,
        ready_check="containerd-cri",
        prepare="containerd-config",
        host_binary=True,
    ),
    Component("kubelet", kubelet, ready_check="node-ready", timeout_s=180, prepare="kubelet"),
    Component("kube-proxy", kube_proxy, health_url=lambda layout: "http://127.0.0.1:10256/healthz"),
    Component("kube-router", kube_router, health_url=lambda layout: "http://127.0.0.1:20244/healthz"),
    Component(
        "kwok", kwok, health_url=lambda layout: "http://127.0.0.1:10247/healthz", prepare="kwok-stages"
    ),
)
ORDER = [component.name for component in COMPONENTS]
