"""The e2e cluster's own parts that run without root or a cluster (run by test-python): the daemons as
data (tools/e2e/components.py), the one-binary image archives containerd imports, the process groups
`up` leaves running and `down` stops, and the waiter that both the cluster's start-up and the
scenarios use."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from ray_aks.processes import wait_until

from tools.e2e import oci, processes
from tools.e2e.cluster import Cluster
from tools.e2e.components import COMPONENTS, ORDER
from tools.e2e.layout import Layout

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")


def fake_layout(tmp_path: Path) -> Layout:
    """A layout under tmp_path whose bin/ holds empty stand-ins of the binaries (commands only name them)."""
    layout = Layout(
        state=tmp_path / "state", var=tmp_path / "var", run=tmp_path / "run", bin=tmp_path / "bin"
    )
    layout.bin.mkdir()
    for name in (*BINARIES, "kube-router", "kwok"):
        (layout.bin / name).write_text("")
    layout.state.mkdir()
    return layout


def test_the_daemons_start_control_plane_first_and_each_once():
    assert ORDER[:4] == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert ORDER.index("containerd") < ORDER.index("kubelet") < ORDER.index("kube-proxy")
    assert len(set(ORDER)) == len(ORDER)


def test_each_daemon_runs_its_own_binary_with_the_layouts_addresses(tmp_path: Path):
    layout = fake_layout(tmp_path)
    commands = {component.name: component.command(layout) for component in COMPONENTS}
    for name in (*BINARIES, "kube-router", "kwok"):
        assert commands[name][0] == str(layout.bin / name)
    assert f"--etcd-servers=http://127.0.0.1:{layout.etcd_port}" in commands["kube-apiserver"]
    assert f"--secure-port={layout.apiserver_port}" in commands["kube-apiserver"]
    assert f"--node-ip={layout.node_ip}" in commands["kubelet"]
    assert (layout.state / "kubelet-config.yaml").exists() or any(
        "--config=" in a for a in commands["kubelet"]
    )


def test_every_readiness_check_and_preparation_a_daemon_names_exists(tmp_path: Path):
    cluster = Cluster(fake_layout(tmp_path))
    checks, preparations = cluster._ready_checks(), cluster._preparations()
    for component in COMPONENTS:
        assert component.ready_check is None or component.ready_check in checks, component.name
        assert component.prepare is None or component.prepare in preparations, component.name
        assert not (component.health_url and component.ready_check), component.name
    # Only the scheduler has no check of its own: nothing waits on it before pods are scheduled.
    unchecked = [c.name for c in COMPONENTS if c.health_url is None and c.ready_check is None]
    assert unchecked == ["kube-scheduler"]


def test_an_image_archive_holds_the_binary_at_its_entrypoint(tmp_path: Path):
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF not really")
    link = tmp_path / "link"
    link.symlink_to(binary)  # bin/e2e holds links: the file itself must go in
    archive = oci.write_archive(tmp_path / "image.tar", "example.local/tool:1", link, ["/usr/bin/tool"])
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        (entry,) = index["manifests"]
        assert entry["annotations"]["io.containerd.image.name"] == "example.local/tool:1"

        def blob(descriptor: dict) -> bytes:
            data = tar.extractfile(f"blobs/sha256/{descriptor['digest'].split(':')[1]}").read()
            assert hashlib.sha256(data).hexdigest() == descriptor["digest"].split(":")[1]
            return data

        manifest = json.loads(blob(entry))
        config = json.loads(blob(manifest["config"]))
        layer = gzip.decompress(blob(manifest["layers"][0]))
    assert config["config"]["Entrypoint"] == ["/usr/bin/tool"]
    assert config["config"]["User"] == "65532:65532"
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as files:
        (member,) = files.getmembers()
        assert member.name == "usr/bin/tool" and member.isfile() and member.mode == 0o755
        assert files.extractfile(member).read() == binary.read_bytes()


def test_a_started_process_group_outlives_its_starter_and_stop_ends_it(tmp_path: Path):
    layout = Layout(state=tmp_path)
    # The daemon spawns a child, as containerd spawns shims: stop must end the whole group.
    script = "import subprocess, time; subprocess.Popen(['sleep', '600']); time.sleep(600)"
    pid = processes.start(layout, "daemon", [sys.executable, "-c", script])
    assert processes.running(layout, "daemon")
    assert processes.names(layout) == ["daemon"]
    processes.stop(layout, "daemon", grace_s=5)
    assert not processes.running(layout, "daemon")
    assert processes.names(layout) == []
    group = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True)
    assert group.stdout.strip() == ""


def test_waiting_returns_the_first_truthy_value_and_rides_over_errors():
    answers = iter([RuntimeError("not yet"), None, {"ready": True}])

    def condition():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(condition, 10, "the answer", interval=0.01) == {"ready": True}


def test_a_timeout_names_what_was_awaited_the_last_error_and_the_detail():
    def condition():
        raise KeyError("status")

    with pytest.raises(TimeoutError, match=r"waiting for the pod \(last error: 'status'\)\npods: none"):
        wait_until(condition, 0.05, "the pod", interval=0.01, detail=lambda: "pods: none")


def test_waiting_stops_at_once_when_what_is_awaited_died():
    class Died(Exception):
        pass

    def alive():
        raise Died("etcd exited")

    with pytest.raises(Died):
        wait_until(lambda: False, 60, "etcd", interval=0.01, alive=alive)
