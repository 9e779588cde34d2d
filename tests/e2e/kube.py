"""What the e2e scenarios do to the cluster: kubectl and helm against its kubeconfig, the ray-aks
images moved from the Docker engine into the node's containerd, and the figures of summary.json."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from ray_aks.processes import wait_until as wait_until  # the scenarios' poller: kube.wait_until

from tests.conftest import REPO_ROOT, free_port
from tools.e2e.cluster import Cluster
from tools.e2e.layout import Layout

LAYOUT = Layout()
SUMMARY = LAYOUT.state / "summary.json"
VALUES = REPO_ROOT / "tests" / "e2e" / "values-e2e.yaml"
GPU_VALUES = REPO_ROOT / "charts" / "ray-aks-gpu-values.yaml"
RELEASE = "ray"
NAMESPACE = "ray"
# The tag of the ray-aks images the pods run (the one the image tests build).
IMAGE_TAG = "test"
# The `kubernetes.io/dockerconfigjson` Secret the chart's `global.imagePullSecrets` names.
PULL_SECRET = "ray-aks-registry"


def image_args(registry_host: str) -> list[str]:
    """helm arguments that point every ray-aks image at the registry, with its pull secret."""
    values = {
        "global.imageRegistry": registry_host,
        "global.imagePullSecrets[0].name": PULL_SECRET,
        "rayCluster.image.registry": registry_host,
        "mlflow.image.registry": registry_host,
    }
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


# One kubectl runner and one waiter for the cluster's own start-up and the scenarios.
CLUSTER = Cluster(LAYOUT)
kubectl = CLUSTER.kubectl


def kubectl_json(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json"))


def apply(objects: list[dict], namespace: str | None = None) -> str:
    """Server-side apply (as helm 4 does), so a later server-side dry run sees one field manager."""
    ns = ["-n", namespace] if namespace else []
    return kubectl(*ns, "apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(objects))


def helm(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"KUBECONFIG": str(LAYOUT.kubeconfig)}
    result = subprocess.run(
        [os.environ["HELM"], *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if check:
        assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def restricted_namespace(name: str, labels: dict[str, str] | None = None) -> None:
    """A namespace that enforces (and warns and audits) Pod Security "restricted"."""
    level = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": level | (labels or {})},
            }
        ]
    )


def record(key: str, value: object) -> None:
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    summary[key] = value
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2, sort_keys=True))


def machine_memory_used_mb() -> int:
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(fields["MemTotal"].split()[0]) - int(fields["MemAvailable"].split()[0])) // 1024


class PeakMemory(threading.Thread):
    """The machine's peak memory in use (MemTotal - MemAvailable) while the scenarios run, sampled
    every 2 s: the cluster, its pods, the registry and the test process together."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = machine_memory_used_mb()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(2):
            self.peak_mb = max(self.peak_mb, machine_memory_used_mb())

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_mb


def _memory_cgroup(pid: int) -> Path | None:
    """The cgroup (v1 memory controller, or the v2 unified tree) that holds process `pid`."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        if hierarchy == "0" and Path("/sys/fs/cgroup/memory.current").exists():
            return Path("/sys/fs/cgroup") / path.lstrip("/")
    return None


def container_memory_mib(cgroup: Path) -> dict[str, float]:
    """A container's memory now, as the kubelet counts it: the working set (usage less inactive file
    cache, what the limit and evictions act on) and the resident memory of its processes."""
    v1 = (cgroup / "memory.usage_in_bytes").exists()
    usage = int((cgroup / ("memory.usage_in_bytes" if v1 else "memory.current")).read_text())
    stat = dict(line.split() for line in (cgroup / "memory.stat").read_text().splitlines())
    inactive = int(stat.get("total_inactive_file" if v1 else "inactive_file", 0))
    rss = int(stat.get("total_rss" if v1 else "anon", 0))
    return {"working_set_mib": round((usage - inactive) / 2**20, 1), "rss_mib": round(rss / 2**20, 1)}


class ContainerPeakMemory(threading.Thread):
    """The peak memory of the containers whose main process's command line contains `needle` (for
    example MLflow's server), sampled every second from their cgroups while the scenarios run."""

    def __init__(self, needle: str) -> None:
        super().__init__(daemon=True)
        self.needle = needle.encode()
        self.peak: dict[str, float] = {"working_set_mib": 0.0, "rss_mib": 0.0}
        self.samples = 0
        self._stop_event = threading.Event()

    def _cgroups(self) -> set[Path]:
        found = set()
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if self.needle in (proc / "cmdline").read_bytes().replace(b"\0", b" "):
                    cgroup = _memory_cgroup(int(proc.name))
                    if cgroup is not None and "kubepods" in str(cgroup):
                        found.add(cgroup)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        return found

    def run(self) -> None:
        while not self._stop_event.wait(1):
            for cgroup in self._cgroups():
                try:
                    now = container_memory_mib(cgroup)
                except (FileNotFoundError, OSError):
                    continue  # the container ended between the scan and the read
                self.samples += 1
                self.peak = {key: max(self.peak[key], now[key]) for key in self.peak}

    def stop(self) -> dict:
        self._stop_event.set()
        self.join()
        return self.peak | {"samples": self.samples}


@contextmanager
def port_forward(namespace: str, target: str, port: int) -> Iterator[str]:
    """`kubectl port-forward` to `target` (e.g. svc/name): the URL on loopback, as a user reaches the
    dashboard or MLflow. Traffic enters the pod's own network namespace, as the user's would."""
    local = free_port()
    command = [str(LAYOUT.binary("kubectl")), f"--kubeconfig={LAYOUT.kubeconfig}", "-n", namespace]
    command += ["port-forward", target, f"{local}:{port}", "--address=127.0.0.1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Forwarding from"), (
            f"kubectl port-forward {target}: {line}{proc.stdout.read()}"
        )
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def fake_aks_node(
    name: str,
    pool: str,
    instance_type: str,
    capacity: dict[str, str],
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict:
    """A kwok node (no kubelet: kwok marks it Ready and fakes its pods) labelled like a node of the AKS
    user pool `pool` of VM size `instance_type`, with `capacity` allocatable and extra labels/taints."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.azure.com/agentpool": pool,
                "agentpool": pool,
                "kubernetes.azure.com/mode": "user",
                "node.kubernetes.io/instance-type": instance_type,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            }
            | (labels or {}),
        },
        "spec": {"taints": taints or []},
        "status": {"allocatable": capacity, "capacity": capacity},
    }
