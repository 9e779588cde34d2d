"""Where the e2e cluster keeps things and which addresses it uses: one place for every path and range.

The cluster's own state (certificates, etcd, logs, the kubeconfig) lives under `.cache/e2e` in the
checkout; what containerd and the kubelet mount lives under /var/lib/ray-aks-e2e and
/run/ray-aks-e2e, outside the checkout, so that a left-over mount never sits inside the repository.
Pods and Services use private ranges on a bridge of this machine: no traffic leaves it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

REPO_ROOT = Path(__file__).resolve().parents[2]


class _Under:
    """A fixed path below one of the layout's roots, read as an attribute: `layout.pki` is
    `layout.state / "pki"`, so it follows a layout made with another state folder."""

    def __init__(self, root: str, name: str) -> None:
        self.root, self.name = root, name

    @overload
    def __get__(self, layout: None, owner: type) -> _Under: ...
    @overload
    def __get__(self, layout: Layout, owner: type | None = None) -> Path: ...
    def __get__(self, layout: Layout | None, owner: type | None = None) -> Path | _Under:
        if layout is None:  # read on the class (introspection): the descriptor itself
            return self
        return getattr(layout, self.root) / self.name


@dataclass(frozen=True)
class Layout:
    state: Path = field(default_factory=lambda: Path(os.environ.get("E2E_DIR", REPO_ROOT / ".cache" / "e2e")))
    var: Path = Path("/var/lib/ray-aks-e2e")
    run: Path = Path("/run/ray-aks-e2e")
    bin: Path = field(default_factory=lambda: Path(os.environ.get("E2E_BIN", REPO_ROOT / "bin" / "e2e")))

    # The node's address: on the loopback device, so that pods (through the bridge's gateway) and the
    # host reach the API server and the kubelet at the same address without any real interface.
    node_ip: str = "10.250.0.1"
    node_name: str = "ray-aks-e2e"
    pod_cidr: str = "10.244.0.0/24"
    pod_gateway: str = "10.244.0.1"
    service_cidr: str = "10.96.0.0/16"
    api_service_ip: str = "10.96.0.1"
    dns_service_ip: str = "10.96.0.10"
    bridge: str = "rayaks-cni0"
    apiserver_port: int = 6443
    etcd_port: int = 12379
    etcd_peer_port: int = 12380
    # The local registry the node pulls the ray-aks images from (TLS and basic auth, as ACR). On
    # loopback: containerd pulls in the host's network. The image tests push to the same address and
    # storage, so docker knows the layers are there and e2e's push uploads no gigabytes again.
    registry_address: str = "127.0.0.1"
    registry_port: int = 5443

    pki = _Under("state", "pki")
    logs = _Under("state", "logs")
    # The admin kubeconfig `make e2e-up` leaves for the user and the tests.
    kubeconfig = _Under("state", "kubeconfig")
    pids = _Under("state", "pids")
    containerd_socket = _Under("run", "containerd.sock")
    # The registry's blobs, kept between runs (removed by `make e2e-prune`).
    registry_storage = _Under("var", "registry")

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.node_ip}:{self.apiserver_port}"

    @property
    def registry_host(self) -> str:
        return f"{self.registry_address}:{self.registry_port}"

    def binary(self, name: str) -> Path:
        """A binary `make e2e-tools` built into bin/e2e (one folder of links to the pinned builds)."""
        path = self.bin / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make e2e-tools` (make e2e-up does)")
        return path
