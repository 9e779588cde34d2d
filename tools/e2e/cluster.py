"""A real single-node Kubernetes on this machine for `make e2e`, from binaries built here.

    python -m tools.e2e.cluster up      # start (after cleaning up whatever a previous run left)
    python -m tools.e2e.cluster down    # stop every process, unmount, remove the network it made
    python -m tools.e2e.cluster status

`up` makes the certificates and the node's address, then starts the daemons of
tools/e2e/components.py in their order, each waited for as its entry says (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler; containerd with the CNI bridge; the kubelet and kube-proxy;
kube-router as the NetworkPolicy dataplane; kwok for simulated AKS GPU nodes), then CoreDNS and the
KubeRay operator as pods. It writes the admin kubeconfig to .cache/e2e/kubeconfig. Everything needs
root (mounts, iptables, cgroups).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from ray_aks.processes import wait_until

from tools.e2e import addons, configs, oci, pki, processes
from tools.e2e.components import COMPONENTS, ORDER, Component
from tools.e2e.layout import Layout


def cri_answers(socket: Path) -> bool:
    """Whether containerd's CRI answers the call the kubelet makes first (RuntimeService/Version).
    containerd answers `ctr version` before its CRI plugin has recovered its state (images kept from
    earlier runs: 0.4 s on 7 Dec), and a kubelet started in between exits with "server is not
    initialized yet". The request is an empty VersionRequest, so no generated stubs are needed."""
    import grpc  # Ray's dependency, in the venv that runs these tools

    with grpc.insecure_channel(f"unix://{socket}") as channel:
        try:
            channel.unary_unary("/runtime.v1.RuntimeService/Version")(b"", timeout=5)
        except grpc.RpcError:
            return False
    return True


class ClusterError(RuntimeError):
    pass


class Cluster:
    def __init__(self, layout: Layout | None = None) -> None:
        self.layout = layout or Layout()
        self.timings: dict[str, float] = {}

    # --- helpers -------------------------------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> str:
        command = [str(self.layout.binary("kubectl")), f"--kubeconfig={self.layout.kubeconfig}", *args]
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr.strip()}")
        return result.stdout

    def apply(self, objects: list[dict], server_side: bool = False) -> None:
        text = yaml.safe_dump_all(objects, sort_keys=False)
        extra = ["--server-side", "--force-conflicts"] if server_side else []
        self.kubectl("apply", *extra, "-f", "-", input=text)

    def ctr(self, *args: str, input_file: Path | None = None, check: bool = True) -> str:
        command = ["ctr", "--address", str(self.layout.containerd_socket), "--namespace", "k8s.io", *args]
        stdin = input_file.open("rb") if input_file else subprocess.DEVNULL
        try:
            result = subprocess.run(command, stdin=stdin, capture_output=True, text=True, timeout=1800)
        finally:
            if input_file:
                stdin.close()
        if check and result.returncode != 0:
            raise ClusterError(f"ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def _wait(self, condition: Callable[[], object], timeout: float, what: str, process: str) -> None:
        """Wait for `condition`; fail at once if `process` exits, and show its log either way."""
        layout = self.layout

        def alive() -> None:
            if not processes.running(layout, process):
                tail = processes.log_tail(layout, process)
                raise ClusterError(f"{process} exited while waiting for {what}:\n{tail}")

        try:
            wait_until(condition, timeout, what, alive=alive)
        except TimeoutError as err:
            raise ClusterError(f"{err}\n{process}'s log:\n{processes.log_tail(layout, process)}") from None

    def _ready_checks(self) -> dict[str, Callable[[], object]]:
        """The readiness checks components name (tools/e2e/components.py's ready_check)."""
        return {
            "apiserver-ready": lambda: self.kubectl("get", "--raw=/readyz", timeout=10).strip() == "ok",
            "default-serviceaccount": lambda: bool(
                self.kubectl("get", "serviceaccount", "default", "-o", "name", check=False)
            ),
            "containerd-cri": lambda: cri_answers(self.layout.containerd_socket),
            "node-ready": self._node_ready,
        }

    def _preparations(self) -> dict[str, Callable[[], None]]:
        """What components need before they start (tools/e2e/components.py's prepare)."""
        return {
            "containerd-config": self._containerd_config,
            "kubelet": self._kubelet_prerequisites,
            "kwok-stages": self._kwok_stages,
        }

    def _start(self, component: Component) -> None:
        """Prepare, start and wait for one component, as its entry says."""
        if component.prepare:
            self._preparations()[component.prepare]()
        processes.start(self.layout, component.name, component.command(self.layout))
        if component.health_url is not None:
            url = component.health_url(self.layout)
            self._wait(
                lambda: _http_ok(url), component.timeout_s, f"{component.name}'s {url}", component.name
            )
        elif component.ready_check is not None:
            check = self._ready_checks()[component.ready_check]
            what = f"{component.name} ({component.ready_check})"
            self._wait(check, component.timeout_s, what, component.name)

    def _step(self, name: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        print(f"e2e: {name} ...", flush=True)
        action()
        self.timings[name] = round(time.monotonic() - started, 1)
        print(f"e2e: {name} done in {self.timings[name]} s", flush=True)

    # --- up ------------------------------------------------------------------------------------
    def up(self) -> None:
        """Start the cluster; if a step fails, stop what the earlier ones started, then raise."""
        self.down(quiet=True)
        started = time.monotonic()
        layout = self.layout
        for directory in (layout.state, layout.var, layout.run):
            directory.mkdir(parents=True, exist_ok=True)
        try:
            self._step("certificates", self._certificates)
            self._step("network", self._network)
            for component in COMPONENTS:
                self._step(component.name, lambda component=component: self._start(component))
            self._step("addons", self._addons)
        except BaseException:
            self.down(quiet=True)
            raise
        self.timings["up"] = round(time.monotonic() - started, 1)
        (layout.state / "up.json").write_text(json.dumps(self.timings, indent=2))
        print(f"e2e: cluster up in {self.timings['up']} s; KUBECONFIG={layout.kubeconfig}", flush=True)

    def _certificates(self) -> None:
        layout = self.layout
        shutil.rmtree(layout.pki, ignore_errors=True)
        ca = pki.Authority(layout.pki)
        api_hosts = (
            layout.node_ip,
            layout.api_service_ip,
            "127.0.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
        ca.issue("apiserver", "kube-apiserver", hosts=api_hosts, client=False)
        ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", groups=("system:masters",))
        ca.issue(
            "kubelet-serving",
            f"system:node:{layout.node_name}",
            hosts=(layout.node_ip, layout.node_name),
            client=False,
        )
        pki.service_account_keys(layout.pki)
        users = {
            "admin": ("kubernetes-admin", ("system:masters",)),
            "kube-controller-manager": ("system:kube-controller-manager", ()),
            "kube-scheduler": ("system:kube-scheduler", ()),
            "kubelet": (f"system:node:{layout.node_name}", ("system:nodes",)),
            "kube-proxy": ("system:kube-proxy", ()),
            # kube-router and kwok act for the cluster's network and simulated nodes: admins here.
            "kube-router": ("ray-aks-e2e:kube-router", ("system:masters",)),
            "kwok": ("ray-aks-e2e:kwok", ("system:masters",)),
        }
        for name, (user, groups) in users.items():
            pair = ca.issue(name, user, groups=groups)
            target = layout.kubeconfig if name == "admin" else layout.state / f"{name}.kubeconfig"
            configs.kubeconfig(layout, target, user, pair.cert, pair.key)

    def _network(self) -> None:
        layout = self.layout
        _run(["ip", "addr", "replace", f"{layout.node_ip}/32", "dev", "lo"])
        # Pod-to-pod traffic on the bridge must pass iptables for Services and NetworkPolicy.
        if shutil.which("modprobe"):
            _run(["modprobe", "br_netfilter"], check=False)
        for sysctl in ("net/bridge/bridge-nf-call-iptables", "net/ipv4/ip_forward"):
            Path("/proc/sys", sysctl).write_text("1")

    def _containerd_config(self) -> None:
        layout = self.layout
        configs.containerd(layout)
        configs.cni(layout)
        (layout.state / "registry-hosts").mkdir(exist_ok=True)

    def _kubelet_prerequisites(self) -> None:
        """The kubelet's root, and the pause image in containerd before any pod."""
        layout = self.layout
        (layout.var / "kubelet").mkdir(parents=True, exist_ok=True)
        archive = oci.write_archive(
            layout.state / "images" / "pause.tar", configs.PAUSE_IMAGE, layout.binary("pause"), ["/pause"]
        )
        self.ctr("images", "import", "-", input_file=archive)

    def _node_ready(self) -> bool:
        node = json.loads(self.kubectl("get", "node", self.layout.node_name, "-o", "json", timeout=10))
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])

    def _kwok_stages(self) -> None:
        """kwok's own "fast" stages (nodes Ready with a lease heartbeat, pods Running), from its module."""
        layout = self.layout
        module_dir = json.loads((layout.bin / "versions.json").read_text())["kwok-module-dir"]
        stages = layout.state / "kwok-stages.yaml"
        stages.write_text(self.kubectl("kustomize", f"{module_dir}/kustomize/stage/fast"))

    def _addons(self) -> None:
        layout = self.layout
        versions = json.loads((layout.bin / "versions.json").read_text())
        images = {
            "coredns": (addons.COREDNS_IMAGE.format(version=versions["coredns"]), ["/coredns"]),
            "kuberay-operator": (
                addons.OPERATOR_IMAGE.format(version=versions["kuberay-operator"]),
                ["/manager"],
            ),
        }
        for name, (reference, entrypoint) in images.items():
            archive = oci.write_archive(
                layout.state / "images" / f"{name}.tar", reference, layout.binary(name), entrypoint
            )
            self.ctr("images", "import", "-", input_file=archive)
        self.apply(addons.coredns(layout, images["coredns"][0]))
        module_dir = versions["kuberay-operator-module-dir"]
        operator = addons.kuberay_operator(
            [str(layout.binary("kubectl"))], module_dir, images["kuberay-operator"][0], {"RayCronJob": True}
        )
        # Server-side: the RayService CRD is larger than client-side apply's annotation limit.
        self.apply(operator, server_side=True)
        for namespace, deployment in (
            ("kube-system", "coredns"),
            (addons.OPERATOR_NAMESPACE, "kuberay-operator"),
        ):
            self.kubectl(
                "-n",
                namespace,
                "rollout",
                "status",
                f"deployment/{deployment}",
                "--timeout=300s",
                timeout=330,
            )

    # --- down ----------------------------------------------------------------------------------
    def down(self, quiet: bool = False) -> None:
        """Stop everything `up` started (also after a crash or a Ctrl-C), in reverse order."""
        layout = self.layout
        for name in reversed(ORDER):
            if name == "kubelet":
                continue  # stopped with containerd, below
            if name == "containerd":
                # The kubelet first: alive, it restarts the containers stopped next, and containerd's
                # stop then leaves them running, orphaned (seen after an interrupted run, 7 Dec).
                processes.stop(layout, "kubelet")
                self._stop_containers()
            processes.stop(layout, name)
        for name in processes.names(layout):  # anything else `up` started
            processes.stop(layout, name)
        _kill_matching(str(layout.containerd_socket))  # shims outlive containerd by design
        self._unmount()
        self._remove_network()
        shutil.rmtree(layout.var / "kubelet", ignore_errors=True)
        shutil.rmtree(layout.run, ignore_errors=True)
        for name in ("etcd", "cni-ipam", "kubelet-pki"):
            shutil.rmtree(layout.state / name, ignore_errors=True)
        if not quiet:
            print("e2e: cluster down", flush=True)

    def _tasks(self) -> list[str]:
        """IDs of the containerd tasks (running containers) in the k8s.io namespace."""
        lines = self.ctr("tasks", "ls", check=False).splitlines()[1:]
        return [line.split()[0] for line in lines if line.strip()]

    def _stop_containers(self) -> None:
        if not self.layout.containerd_socket.exists() or not processes.running(self.layout, "containerd"):
            return
        tasks = self._tasks()
        for task in tasks:
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        deadline = time.monotonic() + 30
        for task in tasks:
            while task in self._tasks() and time.monotonic() < deadline:
                self.ctr("tasks", "delete", task, check=False)
                time.sleep(0.2)
        for container in self.ctr("containers", "ls", "-q", check=False).split():
            self.ctr("containers", "delete", container, check=False)

    def _unmount(self) -> None:
        layout = self.layout
        roots = (str(layout.var), str(layout.run), "/run/netns/cni-", "/var/run/netns/cni-")
        mounts = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(roots):
                mounts.append(target)
        for target in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)
        netns = Path("/run/netns")
        if netns.exists():
            for entry in netns.glob("cni-*"):
                subprocess.run(["ip", "netns", "delete", entry.name], capture_output=True)

    def _remove_network(self) -> None:
        layout = self.layout
        for binary, args in (("kube-proxy", ["--cleanup"]), ("kube-router", ["--cleanup-config"])):
            with contextlib.suppress(FileNotFoundError):
                subprocess.run([str(layout.binary(binary)), *args], capture_output=True, timeout=60)
        subprocess.run(["ip", "link", "delete", layout.bridge], capture_output=True)
        subprocess.run(["ip", "addr", "delete", f"{layout.node_ip}/32", "dev", "lo"], capture_output=True)
        # The bridge plugin's masquerade chains (CNI-*), one per pod, point at the removed range.
        for table in ("nat", "filter"):
            rules = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
            chains = [line[1:].split()[0] for line in rules.splitlines() if line.startswith(":CNI-")]
            for line in rules.splitlines():
                if line.startswith("-A POSTROUTING") and "CNI-" in line:
                    subprocess.run(["iptables", "-t", table, "-D", *line.split()[1:]], capture_output=True)
            for chain in chains:
                subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True)
            for chain in chains:
                subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True)

    # --- status --------------------------------------------------------------------------------
    def status(self) -> dict[str, bool]:
        return {name: processes.running(self.layout, name) for name in ORDER}


def _run(command: list[str], check: bool = True) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ClusterError(f"{' '.join(command)} failed: {result.stderr.strip()}")


def _http_ok(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def _kill_matching(needle: str) -> None:
    """SIGKILL processes whose command line names `needle` (containerd's shims for our socket)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if needle in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), 9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.e2e.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the e2e cluster needs root (mounts, iptables, cgroups)")
    cluster = Cluster()
    if args.action == "up":
        try:
            cluster.up()
        except (ClusterError, FileNotFoundError, KeyboardInterrupt) as err:
            print(f"e2e: up failed: {err}", file=sys.stderr)
            if os.environ.get("E2E_KEEP_ON_FAILURE") == "1":
                print("e2e: left as it is (E2E_KEEP_ON_FAILURE=1); `make e2e-down` stops it", file=sys.stderr)
            else:
                cluster.down()
            return 1
    elif args.action == "down":
        cluster.down()
    else:
        for name, alive in cluster.status().items():
            print(f"{name:24} {'running' if alive else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
