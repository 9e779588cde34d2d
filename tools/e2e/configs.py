"""Configuration files of the e2e cluster's daemons, written from the layout (one source of addresses).

Each setting that differs from upstream's default says why: they are what this kind of machine
(cgroup v1, a VM kernel, no image registry to pull from) needs, found by running them here.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tools.e2e.layout import Layout

PAUSE_IMAGE = "ray-aks-e2e.local/pause:1"


def kubeconfig(layout: Layout, path: Path, user: str, cert: Path, key: Path) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "ray-aks-e2e",
                "cluster": {
                    "server": layout.apiserver_url,
                    "certificate-authority": str(layout.pki / "ca.crt"),
                },
            }
        ],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "ray-aks-e2e", "context": {"cluster": "ray-aks-e2e", "user": user}}],
        "current-context": "ray-aks-e2e",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def containerd(layout: Layout) -> Path:
    """containerd 1.6 (Debian's) with its CRI plugin, on its own socket and root, beside any other."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    text = f"""version = 2
root = "{layout.var / "containerd"}"
state = "{layout.run / "containerd"}"
[grpc]
  address = "{layout.containerd_socket}"
[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # Without it every sandbox fails here with "can't get final child's PID from pipe: EOF": runc may
  # not lower a child's oom_score_adj below its own in this VM.
  restrict_oom_score_adj = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{layout.state / "cni"}"
  [{cri}.registry]
    config_path = "{layout.state / "registry-hosts"}"
"""
    path = layout.state / "containerd.toml"
    path.write_text(text)
    return path


def registry_hosts(layout: Layout, ca_file: Path) -> None:
    """containerd trusts the local registry's CA (as a node trusts ACR's public one)."""
    directory = layout.state / "registry-hosts" / layout.registry_host
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.toml").write_text(
        f'server = "https://{layout.registry_host}"\n'
        f'[host."https://{layout.registry_host}"]\n'
        f'  capabilities = ["pull", "resolve"]\n'
        f'  ca = "{ca_file}"\n'
    )


def cni(layout: Layout) -> Path:
    """The bridge plugin (Debian's containernetworking-plugins 1.1) with host-local addresses."""
    directory = layout.state / "cni"
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "cniVersion": "0.4.0",
        "name": "ray-aks-e2e",
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.bridge,
                "isGateway": True,
                "ipMasq": True,
                # A pod reaching itself through its own Service (the Ray head does) needs hairpin.
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": layout.pod_cidr, "gateway": layout.pod_gateway}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.state / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    path = directory / "10-ray-aks-e2e.conflist"
    path.write_text(json.dumps(config, indent=2))
    return path


def kubelet(layout: Layout) -> Path:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": layout.node_ip,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(layout.pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(layout.pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(layout.pki / "kubelet-serving.key"),
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        # cgroup v1 on these machines: kubelet 1.35 refuses it unless told, and no systemd runs here.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "clusterDNS": [layout.dns_service_ip],
        "clusterDomain": "cluster.local",
        # Pods with dnsPolicy Default get no upstream resolver: nothing outside this machine answers.
        "resolvConf": "",
        "failSwapOn": False,
        # The ray-aks images are gigabytes on a shared disk: never collect them, never evict for disk.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "200Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "serializeImagePulls": False,
        "maxPods": 60,
        "shutdownGracePeriod": "0s",
        # A Secret written after its pod started reaches the pod's volume at the pod's next sync (1m
        # by default): Kueue's manager waits for the certificate it wrote (13-134 s to ready, 8 Dec).
        "syncFrequency": "10s",
    }
    path = layout.state / "kubelet.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def kube_proxy(layout: Layout) -> Path:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(layout.state / "kube-proxy.kubeconfig")},
        "mode": "iptables",
        "clusterCIDR": layout.pod_cidr,
        "hostnameOverride": layout.node_name,
        "bindAddress": layout.node_ip,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # Leave the machine's conntrack table size alone (the VM's sysctls are not ours to change).
        "conntrack": {"maxPerCore": 0},
    }
    path = layout.state / "kube-proxy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
