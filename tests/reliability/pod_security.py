"""Pod Security Standards "restricted" (Kubernetes' policy, latest version), checked on a pod spec.

Written from the rules at kubernetes.io/docs/concepts/security/pod-security-standards: the baseline
rules plus the restricted ones. A pod spec is any mapping with `containers` (tests/chart/pod_specs
finds them in every kind, Ray pod templates included). KubeRay's autoscaler sidecar is not in the
head template: its securityContext (`autoscalerOptions.securityContext`) is checked as a container.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALLOWED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
APPARMOR_OK = {"RuntimeDefault", "Localhost"}


def containers_of(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            found.append((f"{field}[{c.get('name', '?')}]", c))
    return found


def restricted_violations(
    spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None,
    extra_containers: list[tuple[str, Mapping[str, Any]]] = (),
) -> list[str]:  # fmt: skip
    """Every rule of PSS restricted that the pod spec breaks, one line each (empty: it complies)."""
    bad: list[str] = []
    pod_sc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            bad.append(f"{field} is true")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        bad.append("securityContext.windowsOptions.hostProcess is true")
    for volume in spec.get("volumes") or []:
        types = set(volume) - {"name"}
        if not types <= ALLOWED_VOLUME_TYPES:
            bad.append(f"volume {volume.get('name')} has type {sorted(types - ALLOWED_VOLUME_TYPES)}")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            bad.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    if pod_sc.get("runAsUser") == 0:
        bad.append("securityContext.runAsUser is 0")
    bad += _selinux("securityContext", pod_sc)
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        bad.append(f"securityContext.seccompProfile.type is {pod_seccomp}")
    pod_apparmor = (pod_sc.get("appArmorProfile") or {}).get("type")
    if pod_apparmor is not None and pod_apparmor not in APPARMOR_OK:
        bad.append(f"securityContext.appArmorProfile.type is {pod_apparmor}")
    for key, value in (annotations or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value in ("runtime/default", "") or value.startswith("localhost/")
        ):
            bad.append(f"annotation {key}={value}")

    for where, c in [*containers_of(spec), *extra_containers]:
        sc = c.get("securityContext") or {}
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                bad.append(f"{where}: hostPort {port['hostPort']}")
        if sc.get("privileged"):
            bad.append(f"{where}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{where}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            bad.append(f"{where}: capabilities.drop lacks ALL")
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            bad.append(f"{where}: capabilities.add {sorted(added)}")
        if sc.get("procMount") not in (None, "Default"):
            bad.append(f"{where}: procMount {sc['procMount']}")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            bad.append(f"{where}: windowsOptions.hostProcess")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if sc.get("runAsNonRoot") is False or non_root is not True:
            bad.append(f"{where}: runAsNonRoot is not true (pod or container)")
        if sc.get("runAsUser") == 0:
            bad.append(f"{where}: runAsUser is 0")
        bad += _selinux(f"{where}.securityContext", sc)
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_OK:
            bad.append(
                f"{where}: seccompProfile.type is {seccomp} (pod or container: RuntimeDefault/Localhost)"
            )
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in APPARMOR_OK:
            bad.append(f"{where}: appArmorProfile.type is {apparmor}")
    return bad


def _selinux(where: str, sc: Mapping[str, Any]) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    bad = []
    if options.get("type", "") not in SELINUX_TYPES:
        bad.append(f"{where}.seLinuxOptions.type is {options['type']}")
    for field in ("user", "role"):
        if options.get(field):
            bad.append(f"{where}.seLinuxOptions.{field} is set")
    return bad
