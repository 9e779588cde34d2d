"""The log collector image (images/log-collector.Dockerfile), built by `make image` and run as the chart
runs its log sidecar: it holds only the components tools/otelcol/builder-config.yaml names, accepts
the config the chart renders, tails Ray-shaped log files (rotation included) to its stdout with the
attributes, and sends them over OTLP to a second collector that writes them to a file (the e2e
cluster's in-cluster collector, tools/otelcol/otlp-to-file.yaml)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ray_aks.processes import wait_until

from tests.conftest import REPO_ROOT
from tests.images.conftest import chart_yaml
from tests.support.containers import RESTRICTED, TEST_TAG, docker, docker_engine, image_ref, inspect, record
from tests.support.log_records import otlp_json_records
from tests.support.make import make
from tools.render_chart import render

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(1800)]

CONFIG_DIR = "/etc/ray-aks-log-collector"
RECEIVER_CONFIG = REPO_ROOT / "tools" / "otelcol" / "otlp-to-file.yaml"
# What the chart's pods give the sidecar through the downward API (templates/logging/_logging.tpl).
POD_ENV = {
    "RAY_AKS_LOG_CLUSTER": "ray-ray-aks-mnist-x7k2p",
    "RAY_AKS_LOG_NODE_TYPE": "head",
    "RAY_AKS_LOG_GROUP": "headgroup",
    "RAY_AKS_LOG_POD": "ray-ray-aks-mnist-x7k2p-head-abcde",
    "RAY_AKS_LOG_NAMESPACE": "ray",
    "RAY_AKS_LOG_NODE": "aks-cpu-00000",
}
SUBMISSION_ID = "rayjob-mnist-abc12"


@pytest.fixture(scope="module")
def collector() -> Iterator[str]:
    """`make image IMAGES=log-collector` (the collector's Go build first when its binary is missing)."""
    with docker_engine():
        started = time.monotonic()
        make("image", "IMAGES=log-collector", f"IMAGE_TAG={TEST_TAG}")
        record("make_image_log_collector_s", round(time.monotonic() - started, 1))
        ref = image_ref("log-collector", "cpu")
        record("image_size_mb:log-collector", round(inspect(ref)["Size"] / 1e6, 1))
        yield ref


def sidecar_config(tmp_path: Path, **values: object) -> Path:
    """The collector config the chart renders for its sidecar (logging values on top), in a folder."""
    sets = {"global.imageRegistry": "myacr.azurecr.io", **values}
    (config_map,) = [
        o for o in render([], sets) if o["kind"] == "ConfigMap" and "log-collector" in o["metadata"]["name"]
    ]
    folder = tmp_path / f"config-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "config.yaml").write_text(config_map["data"]["config.yaml"])
    folder.chmod(0o755)
    (folder / "config.yaml").chmod(0o644)
    return folder


def ray_logs(tmp_path: Path) -> Path:
    """/tmp/ray as Ray lays it out: a session folder and the session_latest link to it."""
    root = tmp_path / "ray"
    logs = root / "session_2026-12-06_08-00-00_000000_1" / "logs"
    (logs / "serve").mkdir(parents=True)
    (root / "session_latest").symlink_to(logs.parent.name)
    for path in (root, logs.parent, logs, logs / "serve"):
        path.chmod(0o755)
    return root


def write_lines(path: Path, *lines: str) -> None:
    with path.open("a") as out:
        out.write("".join(f"{line}\n" for line in lines))
    path.chmod(0o644)


def run_sidecar(ref: str, config: Path, ray: Path, *options: str) -> str:
    """The sidecar's container, detached, as the chart runs it: uid 1000, read-only, Ray's logs read-only."""
    env = [arg for key, value in POD_ENV.items() for arg in ("--env", f"{key}={value}")]
    name = f"ray-aks-log-sidecar-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "--detach", "--name", name, "--user", "1000:100", "--read-only", *options, *env,
        "--volume", f"{ray}:/tmp/ray:ro", "--volume", f"{config}:{CONFIG_DIR}:ro",
        ref, f"--config={CONFIG_DIR}/config.yaml",
    )  # fmt: skip
    return name


def logs_of(container: str) -> str:
    result = docker("logs", container, check=False)
    return result.stdout + result.stderr


def test_the_image_is_one_static_binary_run_unprivileged(collector):
    image = inspect(collector)
    assert image["Config"]["User"] == "65532:65532"
    assert image["Config"]["Entrypoint"] == ["/ray-aks-log-collector"]
    assert len(image["RootFS"]["Layers"]) == 1
    labels = image["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "ray-aks-log-collector"
    assert inspect(image_ref("log-collector", "cpu", tag=chart_yaml()["appVersion"]))["Id"] == image["Id"]


def test_it_holds_only_the_components_of_the_builder_config(collector):
    out = docker("run", "--rm", *RESTRICTED, collector, "components").stdout
    listed = yaml.safe_load(out)
    names = {
        kind: sorted(c["name"] for c in listed.get(kind) or [])
        for kind in ("receivers", "processors", "exporters", "extensions", "connectors")
    }
    record("log_collector_components", names)
    # Collector v0.165 lists its components under their new names; the configs' `filelog`, `otlp` and
    # `otlphttp` are the aliases it keeps for them.
    assert names == {
        "receivers": ["file_log", "otlp"],
        "processors": ["batch"],
        "exporters": ["debug", "file", "otlp_grpc", "otlp_http"],
        "extensions": [],
        "connectors": [],
    }


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"logging.otlp.endpoint": "http://otel-collector.observability.svc:4317"},
        {
            "logging.otlp.endpoint": "https://logs.example.com",
            "logging.otlp.protocol": "http",
            "logging.stdout": False,
        },
    ],
    ids=["stdout", "stdout-and-otlp-grpc", "otlp-http-only"],
)
def test_the_chart_config_validates(collector, tmp_path, values):
    config = sidecar_config(tmp_path, **values)
    env = [arg for key, value in POD_ENV.items() for arg in ("--env", f"{key}={value}")]
    result = docker(
        "run", "--rm", *RESTRICTED, *env, "--volume", f"{config}:{CONFIG_DIR}:ro",
        collector, "validate", f"--config={CONFIG_DIR}/config.yaml", check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_receiver_config_validates(collector):
    result = docker(
        "run", "--rm", *RESTRICTED, "--volume", f"{RECEIVER_CONFIG}:/etc/collector/config.yaml:ro",
        collector, "validate", "--config=/etc/collector/config.yaml", check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_sidecar_writes_each_ray_log_line_with_its_attributes_to_stdout(collector, tmp_path):
    ray = ray_logs(tmp_path)
    logs = ray / "session_latest" / "logs"
    marker = uuid.uuid4().hex
    write_lines(logs / f"job-driver-{SUBMISSION_ID}.log", f"driver says {marker}")
    write_lines(logs / "python-core-worker-0123_42.log", f"core worker trace {marker}")
    container = run_sidecar(collector, sidecar_config(tmp_path), ray, "--network", "none")
    try:
        # A worker writes after the sidecar started; then Ray rotates its file (rename, new file).
        write_lines(logs / "worker-0123-ffff-42.out", f"epoch 1 loss 0.5 {marker}")
        wait_until(lambda: f"epoch 1 loss 0.5 {marker}" in logs_of(container), 60, "the first worker line")
        os.rename(logs / "worker-0123-ffff-42.out", logs / "worker-0123-ffff-42.1.out")
        write_lines(logs / "worker-0123-ffff-42.1.out", f"written after the rename {marker}")
        write_lines(logs / "worker-0123-ffff-42.out", f"epoch 2 loss 0.3 {marker}")
        write_lines(logs / "serve" / "replica_mnist_1.log", f"serve replica {marker}")

        def everything() -> bool:
            out = logs_of(container)
            wanted = ("written after the rename", "epoch 2 loss 0.3", "serve replica", "driver says")
            return all(f"{text} {marker}" in out for text in wanted)

        wait_until(everything, 60, "every line", detail=lambda: logs_of(container)[-3000:])
        out = logs_of(container)
    finally:
        docker("rm", "--force", container, check=False)
    lines = [line for line in out.splitlines() if marker in line]
    record("log_sidecar_stdout_sample", lines[:6])
    driver = next(line for line in lines if f"driver says {marker}" in line)
    assert f"ray.job.submission_id={SUBMISSION_ID}" in driver
    assert f"log.file.name=job-driver-{SUBMISSION_ID}.log" in driver
    for key, attribute in [
        ("RAY_AKS_LOG_CLUSTER", "ray.cluster.name"),
        ("RAY_AKS_LOG_NODE_TYPE", "ray.node.type"),
        ("RAY_AKS_LOG_GROUP", "ray.node.group"),
        ("RAY_AKS_LOG_POD", "k8s.pod.name"),
    ]:
        assert f"{attribute}={POD_ENV[key]}" in driver
    worker = next(line for line in lines if f"epoch 1 loss 0.5 {marker}" in line)
    assert "log.file.name=worker-0123-ffff-42.out" in worker and "ray.job.submission_id" not in worker
    # Each line once (the renamed file is the same file, read on from where it was), and the core
    # workers' debug logs left out.
    assert sum(f"epoch 1 loss 0.5 {marker}" in line for line in lines) == 1
    assert not [line for line in lines if "core worker trace" in line]


def test_the_sidecar_sends_the_lines_over_otlp_to_a_collector_that_writes_a_file(collector, tmp_path):
    network = f"ray-aks-otlp-{uuid.uuid4().hex[:8]}"
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    out_dir.chmod(0o777)
    receiver = f"ray-aks-otlp-receiver-{uuid.uuid4().hex[:8]}"
    ray = ray_logs(tmp_path)
    marker = uuid.uuid4().hex
    docker("network", "create", network)
    sidecar = ""
    try:
        docker(
            "run", "--detach", "--name", receiver, "--network", network, "--user", "1000:100", "--read-only",
            "--volume", f"{RECEIVER_CONFIG}:/etc/collector/config.yaml:ro",
            "--volume", f"{out_dir}:/var/lib/ray-aks-logs", collector, "--config=/etc/collector/config.yaml",
        )  # fmt: skip
        wait_until(lambda: "Everything is ready" in logs_of(receiver), 60, "the receiver to listen")
        config = sidecar_config(
            tmp_path, **{"logging.otlp.endpoint": f"http://{receiver}:4317", "logging.stdout": False}
        )
        sidecar = run_sidecar(collector, config, ray, "--network", network)
        write_lines(
            ray / "session_latest" / "logs" / f"job-driver-{SUBMISSION_ID}.log", f"driver says {marker}"
        )
        received = out_dir / "logs.jsonl"

        def arrived() -> list[dict]:
            found = [r for r in otlp_json_records(received.read_text())] if received.exists() else []
            return [r for r in found if marker in r["body"]]

        records = wait_until(arrived, 90, "the line at the receiver", detail=lambda: logs_of(sidecar)[-3000:])
    finally:
        for container in (sidecar, receiver):
            if container:
                docker("rm", "--force", container, check=False)
        docker("network", "rm", network, check=False)
    (record_,) = records
    assert record_["body"] == f"driver says {marker}"
    assert record_["attributes"]["ray.job.submission_id"] == SUBMISSION_ID
    assert record_["attributes"]["ray.cluster.name"] == POD_ENV["RAY_AKS_LOG_CLUSTER"]
    assert record_["attributes"]["log.file.name"] == f"job-driver-{SUBMISSION_ID}.log"
