"""The AKS cluster the docs build (docs/deploy-to-aks.md, infra/), as data for the node-fit test.

What a pod can ask of one node: the VM sizes of the CPU and GPU pools, what AKS reserves on every
node (kube-reserved, the eviction threshold), and the requests of the DaemonSets AKS runs on every
node of that cluster (Azure CNI Overlay with the Cilium dataplane, the Blob CSI driver on, Azure
Monitor off). Every number carries the public source it was read from; a number no public source
gives is marked `estimate`, with the reasoning behind the conservative value used. Only numbers and
their sources are taken from those projects.

Units: CPU in millicores, memory in MiB (AKS's "MB" read as MiB, the larger unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

AKS_RESERVATIONS = "https://learn.microsoft.com/azure/aks/node-resource-reservations"
DEPLOY_DOC = (
    "docs/deploy-to-aks.md (az aks nodepool add), "
    "infra/variables.tf (node_pools.cpu, node_pools.gpu, max_pods)"
)


@dataclass(frozen=True)
class VmSize:
    """An Azure VM size as Azure lists it."""

    name: str
    vcpus: int
    memory_mib: int
    gpus: int
    source: str


@dataclass(frozen=True)
class NodePool:
    """A node pool of the docs' cluster: its size, how many nodes it starts with and may reach."""

    name: str
    vm: VmSize
    node_count: int
    max_count: int
    max_pods: int
    source: str = DEPLOY_DOC


@dataclass(frozen=True)
class DaemonSet:
    """A DaemonSet on every node of the pools named: its pod's summed CPU and memory requests."""

    name: str
    cpu_m: int
    memory_mib: int
    pools: frozenset[str]
    containers: str
    source: str
    # Empty when the numbers are read from `source`; else why the stated value is a safe guess.
    estimate: str = ""


# Microsoft's own list of AKS node sizes (the Aspire AKS integration), as aspire.dev publishes it.
_ASPIRE_SIZES = (
    "https://github.com/microsoft/aspire/blob/5bd693ae1897dee5e2ce71c2cc08879c1c7eff51/"
    "src/Aspire.Hosting.Azure.Kubernetes/AksNodeVmSizes.cs"
)


def _aspire_size(name: str, page: str, vcpus: int, memory_gb: int, gpus: int = 0) -> VmSize:
    """A size as Microsoft's list gives it (memory in GB, read as GiB), with the aspire.dev page of
    its family that shows it."""
    gpu_text = f", {gpus} GPU" if gpus else ""
    return VmSize(
        name=name,
        vcpus=vcpus,
        memory_mib=memory_gb * 1024,
        gpus=gpus,
        source=f"https://aspire.dev/reference/api/csharp/aspire.hosting.azure.kubernetes/{page}/ "
        f"({name}: {vcpus} vCPUs, {memory_gb} GB RAM{gpu_text}), from {_ASPIRE_SIZES}",
    )


# The docs create the CPU pool with Standard_D8ds_v5: the Dsv5 size with a local disk (Ephemeral OS
# disks need one), same vCPUs and memory as Standard_D8s_v5.
STANDARD_D8DS_V5 = _aspire_size("Standard_D8ds_v5", "standardddsv5", vcpus=8, memory_gb=32)
STANDARD_NC4AS_T4_V3 = _aspire_size("Standard_NC4as_T4_v3", "standardncasv3t4", vcpus=4, memory_gb=28, gpus=1)

# --max-pods 110 on every pool (Azure CNI Overlay's own default would be 250:
# https://docs.azure.cn/en-us/aks/node-autoprovision-aksnodeclass). 110 also sets kube-reserved memory.
CPU_POOL = NodePool(name="cpu", vm=STANDARD_D8DS_V5, node_count=1, max_count=3, max_pods=110)
GPU_POOL = NodePool(name="gpu", vm=STANDARD_NC4AS_T4_V3, node_count=0, max_count=2, max_pods=110)
POOLS = {pool.name: pool for pool in (CPU_POOL, GPU_POOL)}

# Kube-reserved CPU by the host's core count (AKS_RESERVATIONS, "CPU reservations").
KUBE_RESERVED_CPU_M = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
# AKS 1.29 and later (every AKS version supported today): kubelet evicts below memory.available 100Mi
# and kube-reserved memory is min(20 MB x max pods + 50 MB, 25% of the memory) (AKS_RESERVATIONS).
EVICTION_HARD_MIB = 100
KUBE_RESERVED_MIB_PER_POD = 20
KUBE_RESERVED_MIB_BASE = 50
KUBE_RESERVED_MAX_FRACTION = Fraction(1, 4)

# The kernel keeps part of the VM's memory from the kubelet: a node's memory capacity is below the
# size's nominal memory. No public source gives it per size; estimate 4%, the share seen on a 4 GiB
# AKS node (capacity 4025836Ki, https://github.com/Azure/AKS/issues/3525); the share falls as
# memory grows. (Karpenter for AKS plans with 7.5%: vm-memory-overhead-percent in
# https://github.com/Azure/karpenter-provider-azure/blob/352646f599290c3a6d2f9710fb535a7b288f88ed/pkg/operator/options/options.go)
KERNEL_MEMORY_FRACTION = Fraction(4, 100)
KERNEL_MEMORY_SOURCE = "estimate: 4% of the VM's memory, the share seen on a 4 GiB AKS node (Azure/AKS#3525)"

_ACN = "https://github.com/Azure/azure-container-networking/blob/cbd7560cfc18572a7182d30a68e882b6107c004c"
_BOTH = frozenset({"cpu", "gpu"})

DAEMONSETS = (
    DaemonSet(
        name="cilium",
        cpu_m=100,
        memory_mib=100,
        pools=_BOTH,
        containers="cilium-agent sets no requests; its init container clean-cilium-state asks 100m/100Mi, "
        "so the pod's effective request is that init container's",
        source="https://github.com/Azure/AKS/issues/5244 (AKS-managed Cilium: agent pods request 100Mi "
        f"from clean-cilium-state); {_ACN}/test/integration/manifests/cilium/v1.18/cilium-agent/templates/"
        "daemonset.yaml",
    ),
    DaemonSet(
        name="azure-cns",
        cpu_m=100,
        memory_mib=250,
        pools=_BOTH,
        containers="cns-container",
        source=f"{_ACN}/cns/azure-cns.yaml (the public manifest sets no requests); "
        "https://github.com/Azure/AKS/issues/3525; https://github.com/Azure/AKS/issues/2033",
        estimate="no public source gives the requests of the AKS-managed azure-cns. Azure/AKS#3525 reports "
        "about 550 MB requested by azure-cns and azure-npm together, and azure-npm requests 300Mi "
        "(Azure/AKS#2033): 250Mi for azure-cns; CPU 100m, as much as the other networking agents ask",
    ),
    DaemonSet(
        name="azure-ip-masq-agent",
        cpu_m=100,
        memory_mib=50,
        pools=_BOTH,
        containers="azure-ip-masq-agent (ip-masq-agent-v2)",
        source=f"{_ACN}/test/integration/manifests/ip-masq-agent/ip-masq-agent.yaml",
    ),
    DaemonSet(
        name="cloud-node-manager",
        cpu_m=50,
        memory_mib=50,
        pools=_BOTH,
        containers="cloud-node-manager",
        source="https://github.com/kubernetes-sigs/cloud-provider-azure/blob/"
        "7b31c76ce2ff602cc2dfec988744d8d0534b448c/examples/out-of-tree/cloud-node-manager.yaml; "
        "the same 50m/50Mi on an AKS node in https://github.com/Azure/AKS/issues/5251",
    ),
    DaemonSet(
        name="csi-azuredisk-node",
        cpu_m=30,
        memory_mib=60,
        pools=_BOTH,
        containers="liveness-probe, node-driver-registrar, azuredisk: 10m/20Mi each",
        source="https://github.com/kubernetes-sigs/azuredisk-csi-driver/blob/"
        "d983d613b6dd04af5bcc886d309b8de6ea5637b6/deploy/csi-azuredisk-node.yaml; "
        "azuredisk's 10m/20Mi on AKS in https://github.com/Azure/AKS/issues/5251",
    ),
    DaemonSet(
        name="csi-azurefile-node",
        cpu_m=40,
        memory_mib=80,
        pools=_BOTH,
        containers="liveness-probe, node-driver-registrar, azurefile, azfilesrefresh: 10m/20Mi each "
        "(init container install-azurefile-proxy: none)",
        source="https://github.com/kubernetes-sigs/azurefile-csi-driver/blob/"
        "7b5ae18e74f0c885791f67404286882a049761f8/deploy/csi-azurefile-node.yaml",
    ),
    DaemonSet(
        name="csi-blob-node",
        cpu_m=40,
        memory_mib=80,
        pools=_BOTH,
        containers="liveness-probe, node-driver-registrar, blob, aznfswatchdog: 10m/20Mi each "
        "(init container install-blobfuse-proxy: none); on because the cluster runs --enable-blob-driver",
        source="https://github.com/kubernetes-sigs/blob-csi-driver/blob/"
        "0744a60b3930b2c37d42f07170d99f5b36ac97fc/deploy/csi-blob-node.yaml",
    ),
    DaemonSet(
        name="nvidia-device-plugin-daemonset",
        cpu_m=0,
        memory_mib=0,
        pools=frozenset({"gpu"}),
        containers="nvidia-device-plugin-ctr sets no requests",
        source="https://github.com/NVIDIA/k8s-device-plugin/blob/1c3a10be34f89d726eae027162b5a93417ae6851/"
        "deployments/static/nvidia-device-plugin.yml (the manifest the AKS GPU docs deploy)",
    ),
)

# DaemonSets an AKS node runs in other configurations, and why the docs' cluster has none of them.
ABSENT_DAEMONSETS = {
    "kube-proxy": "the Cilium dataplane serves Services itself (https://learn.microsoft.com/azure/aks/"
    "azure-cni-powered-by-cilium)",
    "azure-npm": "the network policy engine is Cilium (--network-policy cilium), not Azure NPM",
    "ama-logs": "Container Insights is off by default (infra: container_insights_enabled = false)",
    "ama-metrics-node": "Managed Prometheus is off by default (infra: managed_prometheus_enabled = false)",
    "retina-agent": "Advanced Container Networking Services are not enabled",
    "aks-secrets-store-csi-driver": "the Key Vault secrets provider add-on is not enabled",
}

# The upstream kuberay-operator chart 1.7.0 sets limits only, so Kubernetes makes the requests equal
# to them; this chart's values set no `kuberay-operator.resources` of their own.
KUBERAY_OPERATOR_RESOURCES: dict[str, Any] = {"limits": {"cpu": "100m", "memory": "512Mi"}}
KUBERAY_OPERATOR_SOURCE = (
    "https://github.com/ray-project/kuberay/blob/v1.7.0/helm-chart/kuberay-operator/values.yaml (resources)"
)


@dataclass(frozen=True)
class NodeBudget:
    """What one node of a pool offers pods, step by step from the VM size."""

    pool: NodePool
    capacity_cpu_m: int
    capacity_memory_mib: Fraction
    kube_reserved_cpu_m: int
    kube_reserved_memory_mib: Fraction
    eviction_memory_mib: int
    daemonsets: tuple[DaemonSet, ...] = field(default_factory=tuple)

    @property
    def allocatable_cpu_m(self) -> int:
        return self.capacity_cpu_m - self.kube_reserved_cpu_m

    @property
    def allocatable_memory_mib(self) -> Fraction:
        return self.capacity_memory_mib - self.kube_reserved_memory_mib - self.eviction_memory_mib

    @property
    def daemonset_cpu_m(self) -> int:
        return sum(d.cpu_m for d in self.daemonsets)

    @property
    def daemonset_memory_mib(self) -> int:
        return sum(d.memory_mib for d in self.daemonsets)

    @property
    def left_cpu_m(self) -> int:
        return self.allocatable_cpu_m - self.daemonset_cpu_m

    @property
    def left_memory_mib(self) -> Fraction:
        return self.allocatable_memory_mib - self.daemonset_memory_mib

    @property
    def gpus(self) -> int:
        return self.pool.vm.gpus


def kube_reserved_cpu_m(vcpus: int) -> int:
    """AKS's kube-reserved CPU for a host of `vcpus` cores (only the documented core counts)."""
    if vcpus not in KUBE_RESERVED_CPU_M:
        raise ValueError(
            f"AKS documents kube-reserved CPU for {sorted(KUBE_RESERVED_CPU_M)} cores, not {vcpus}"
        )
    return KUBE_RESERVED_CPU_M[vcpus]


def kube_reserved_memory_mib(memory_mib: int, max_pods: int) -> Fraction:
    """AKS >= 1.29: min(20 MB x max pods + 50 MB, 25% of the memory)."""
    per_pods = KUBE_RESERVED_MIB_PER_POD * max_pods + KUBE_RESERVED_MIB_BASE
    return min(Fraction(per_pods), KUBE_RESERVED_MAX_FRACTION * memory_mib)


def node_budget(pool: NodePool) -> NodeBudget:
    """One node of `pool`: capacity, AKS's reservations and the DaemonSets that run on it."""
    vm = pool.vm
    capacity_memory = vm.memory_mib * (1 - KERNEL_MEMORY_FRACTION)
    return NodeBudget(
        pool=pool,
        capacity_cpu_m=vm.vcpus * 1000,
        capacity_memory_mib=capacity_memory,
        kube_reserved_cpu_m=kube_reserved_cpu_m(vm.vcpus),
        kube_reserved_memory_mib=kube_reserved_memory_mib(vm.memory_mib, pool.max_pods),
        eviction_memory_mib=EVICTION_HARD_MIB,
        daemonsets=tuple(d for d in DAEMONSETS if pool.name in d.pools),
    )
