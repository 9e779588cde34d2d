"""The e2e cluster's own parts that run without root or a cluster (run by test-python): the one-binary
image archives containerd imports, the process groups `up` leaves running and `down` stops, and the
waiter that both the cluster's start-up and the scenarios use."""

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
from tools.e2e.layout import Layout


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
