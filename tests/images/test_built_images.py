"""Every image built for real with `make image` (the Ray base built here, test weights: no Docker Hub,
no model hub), pushed with `make push` to a real OCI registry, and run the way the chart runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import REPO_ROOT
from tests.images.conftest import chart_yaml
from tests.support.containers import (
    BUILD_ARGS,
    IMAGES,
    RESTRICTED,
    VARIANTS,
    Registry,
    docker,
    docker_engine,
    image_ref,
    inspect,
    local_registry,
    record,
    run_restricted,
)
from tests.support.make import make
from tools.e2e.layout import Layout

# The first test to run builds every image (cold: about 15 minutes on 2 cores).
pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(3600)]

BUILT = [(name, variant) for name in IMAGES for variant in VARIANTS]
# What runs: each image's CPU variant. Built here (RAY_BASE=local, no TORCH_INDEX_URL) a GPU variant
# holds exactly its CPU variant's layers (test_the_gpu_variants_hold_the_cpu_variants_layers), so a
# check that runs one runs the other's files too; the GPU variant's own difference is its label.
RUN = [(name, "cpu") for name in IMAGES]
SERVE_APPS = ["ray_aks.serving.mnist:app", "ray_aks.serving.textgen:app", "ray_aks.serving.embeddings:app"]


@pytest.fixture(scope="module")
def engine() -> Iterator[None]:
    with docker_engine():
        yield


@pytest.fixture(scope="module")
def built(engine) -> dict[tuple[str, str], str]:
    """`make image` for every image and variant; image references by (name, variant)."""
    started = time.monotonic()
    make("image", *BUILD_ARGS)
    record("make_image_s", round(time.monotonic() - started, 1))
    refs = {(name, variant): image_ref(name, variant) for name, variant in BUILT}
    sizes = {ref: inspect(ref)["Size"] for ref in refs.values()}
    record("image_sizes_mb", {ref: round(size / 1e6) for ref, size in sizes.items()})
    yield refs
    # Images a rebuild replaced (untagged now) are gigabytes: remove them; the tagged ones stay as
    # the build cache of the next run and the images of the cluster tests.
    docker("image", "prune", "--force", "--filter", "label=io.ray-aks.variant", check=False)


def test_every_image_and_variant_is_built_with_labels_that_say_what_it_holds(built):
    app_version = chart_yaml()["appVersion"]
    for (name, variant), ref in built.items():
        labels = inspect(ref)["Config"]["Labels"]
        assert labels["org.opencontainers.image.title"] == f"ray-aks-{name}"
        base = labels["org.opencontainers.image.base.name"]
        assert base == f"ray-aks-local/ray:{app_version}-py311-{variant}"
        assert labels["io.ray-aks.models"] == "test"
        assert labels["io.ray-aks.variant"] == variant
        # The chart pulls the appVersion tag: the same image.
        assert inspect(image_ref(name, variant, tag=app_version))["Id"] == inspect(ref)["Id"]


def test_the_gpu_variants_hold_the_cpu_variants_layers(built):
    """The local Ray base is one image tagged -cpu and -gpu, and PyPI's torch is the CUDA build for
    both: each GPU variant differs from its CPU variant only in its labels (io.ray-aks.variant)."""
    for name in IMAGES:
        cpu, gpu = inspect(built[name, "cpu"]), inspect(built[name, "gpu"])
        assert cpu["RootFS"]["Layers"] == gpu["RootFS"]["Layers"], name
        assert (
            cpu["Config"]["Labels"]["io.ray-aks.variant"],
            gpu["Config"]["Labels"]["io.ray-aks.variant"],
        ) == (
            "cpu",
            "gpu",
        )


def test_variants_and_images_share_the_dependency_layers(built):
    """One set of dependency layers for all six: an AKS node pulls the gigabytes once."""
    layers = {ref: inspect(ref)["RootFS"]["Layers"] for ref in built.values()}
    shared = set.intersection(*(set(value) for value in layers.values()))
    base_layers = inspect(f"ray-aks-local/ray:{chart_yaml()['appVersion']}-py311-cpu")["RootFS"]["Layers"]
    assert set(base_layers) < shared
    assert len(shared) > len(base_layers)  # the dependencies layer too


# The dependencies are split so that a push compresses and uploads them on every core at once.
MAX_LAYER_MB = 2000


def test_no_layer_is_larger_than_a_core_compresses_in_a_share_of_the_push(built):
    """The largest layer bounds a push (one core gzips one layer): none above MAX_LAYER_MB."""
    for ref in built.values():
        sizes = docker("history", "--no-trunc", "--human=false", "--format", "{{.Size}}", ref).stdout.split()
        layers_mb = sorted((round(int(size) / 1e6) for size in sizes if int(size)), reverse=True)
        record(f"layer_sizes_mb:{ref}", layers_mb[:8])
        assert layers_mb[0] <= MAX_LAYER_MB, f"{ref}: layers of {layers_mb[:8]} MB"


def test_a_second_make_image_rebuilds_nothing(built):
    before = {ref: inspect(ref)["Id"] for ref in built.values()}
    started = time.monotonic()
    out = make("image", *BUILD_ARGS, "BUILD_FLAGS=--progress plain").stderr
    record("make_image_warm_s", round(time.monotonic() - started, 1))
    assert {ref: inspect(ref)["Id"] for ref in built.values()} == before
    executed, cached = run_steps(out)
    assert cached and not executed, f"steps ran again: {executed}"


def run_steps(progress: str) -> tuple[list[str], list[str]]:
    """(RUN steps that ran, RUN steps taken from the cache) in BuildKit's plain progress output of
    one or more builds: each step prints its header, then `#N CACHED` or its output and `#N DONE`.
    Step numbers start again with every build."""
    executed: list[str] = []
    cached: list[str] = []
    for build in re.split(r"^#1 \[internal\] load build definition.*$", progress, flags=re.M):
        runs = dict(re.findall(r"^(#\d+) (\[.*\] RUN .*)$", build, flags=re.M))
        from_cache = set(re.findall(r"^(#\d+) CACHED$", build, flags=re.M))
        executed += [header for step, header in runs.items() if step not in from_cache]
        cached += [header for step, header in runs.items() if step in from_cache]
    return executed, cached


def test_a_code_change_rebuilds_only_the_package_layer(built, tmp_path):
    """A change under workloads/src: the dependency and model layers are reused, only the package's
    layer is new (what an AKS node re-pulls), and it is megabytes."""
    context = tmp_path / "repo"
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for relative in filter(None, files):
        if (REPO_ROOT / relative).is_file():
            (context / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / relative, context / relative)
    init = context / "workloads" / "src" / "ray_aks" / "__init__.py"
    init.write_text(init.read_text() + "\n# a code change\n")
    probe = "ray-aks-serving:cache-probe"
    started = time.monotonic()
    one_image = ["IMAGES=serving", "VARIANTS=cpu", "IMAGE_TAGS=cache-probe", *BUILD_ARGS[:2]]
    make("-C", str(context), "image", *one_image)
    record("make_image_after_code_change_s", round(time.monotonic() - started, 1))
    try:
        original, changed = (inspect(ref)["RootFS"]["Layers"] for ref in (built["serving", "cpu"], probe))
        assert len(original) == len(changed)
        assert original[:-1] == changed[:-1]
        assert original[-1] != changed[-1]
        # The newest layer with files (label-only history entries are empty): the package's.
        sizes = docker("history", "--human=false", "--format", "{{.Size}}", probe).stdout.split()
        new_layer_mb = next(int(size) for size in sizes if int(size) > 0) / 1e6
        record("code_change_layer_mb", round(new_layer_mb, 2))
        assert new_layer_mb < 20
    finally:
        docker("rmi", probe, check=False)


@pytest.mark.parametrize(("name", "variant"), RUN)
def test_ray_aks_runs_as_uid_1000_on_a_read_only_root_without_network(built, name, variant):
    result = run_restricted(built[name, variant], "ray-aks", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("train", "tune", "embed", "preprocess", "serve", "data"):
        assert command in result.stdout
    assert run_restricted(built[name, variant], "id", "-u").stdout.strip() == "1000"


@pytest.mark.parametrize(("name", "variant"), RUN)
def test_every_serve_app_import_path_imports(built, name, variant):
    code = (
        "import importlib\n"
        f"for path in {SERVE_APPS!r}:\n"
        "    module, _, attr = path.partition(':')\n"
        "    assert callable(getattr(importlib.import_module(module), attr)), path\n"
        f"print('imported', len({SERVE_APPS!r}))\n"
    )
    result = run_restricted(built[name, variant], "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(SERVE_APPS)}" in result.stdout


@pytest.mark.parametrize(("name", "variant"), RUN)
def test_baked_models_load_with_the_hub_off(built, name, variant):
    result = run_restricted(
        built[name, variant],
        "python", "/home/ray/models/download_models.py", "verify", name, "--models-dir", "/home/ray/models",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest_text = run_restricted(built[name, variant], "cat", "/home/ray/models/manifest.json").stdout
    manifest = json.loads(manifest_text)
    assert result.stdout.count("loads offline") == len(manifest["models"]) > 0


@pytest.mark.parametrize(("name", "variant"), RUN)
def test_torch_reports_cuda_unavailable_without_crashing(built, name, variant):
    """No GPU here: every image imports torch and says so (the GPU variants hold the same files)."""
    code = "import torch; print('cuda', torch.cuda.is_available(), torch.cuda.device_count())"
    result = run_restricted(built[name, variant], "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert "cuda False 0" in result.stdout


@pytest.mark.parametrize(("name", "variant"), RUN)
def test_no_package_manager_caches_in_the_layers(built, name, variant):
    leftovers = (
        "for path in /root/.cache /home/ray/.cache/pip /home/ray/.cache/uv /var/lib/apt/lists "
        "/var/cache/apt/archives /tmp/ray-aks /home/ray/model-sets; do "
        'find "$path" -mindepth 1 -type f ! -name lock ! -name .gitkeep 2>/dev/null | head -n 3; done'
    )
    as_root = ["--rm", "--user", "0", "--network", "none"]  # root: to see every directory
    result = docker("run", *as_root, built[name, variant], "bash", "-c", leftovers)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(("name", "variant"), RUN)
def test_ray_runs_with_no_root_process(built, name, variant):
    container = f"ray-aks-root-check-{name}-{variant}"
    docker(
        "run", "--detach", "--name", container, *RESTRICTED, "--shm-size", "512m", built[name, variant],
        "ray", "start", "--head", "--block", "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
        "--include-dashboard", "false", "--disable-usage-stats",
    )  # fmt: skip
    try:
        status = ""
        for _ in range(120):
            status = docker("exec", container, "ray", "status", check=False).stdout
            if "Active:" in status:
                break
            time.sleep(1)
        assert "Active:" in status, docker("logs", container, check=False).stderr[-3000:]
        processes = docker("top", container, "-eo", "uid,pid,comm").stdout.splitlines()[1:]
        assert len(processes) > 3  # raylet, GCS and friends
        assert all(line.split()[0] == "1000" for line in processes), processes
    finally:
        docker("rm", "--force", container, check=False)


@pytest.mark.parametrize("variant", ["cpu"])
def test_training_image_runs_a_two_worker_ray_train_step(built, variant):
    """`ray start --head`, then the product's own commands: digits as MNIST files, and one epoch of
    Ray Train with two workers on the CPU (the GPU image too: --use-gpu is off without a GPU)."""
    script = (
        "set -e; ray start --head --num-cpus 2 --node-ip-address 127.0.0.1 --include-dashboard true "
        "--disable-usage-stats > /tmp/ray-start.log; "
        "ray-aks data digits --output /tmp/digits; "
        "RAY_ADDRESS=127.0.0.1:6379 MLFLOW_TRACKING_URI=file:///tmp/mlruns ray-aks train mnist "
        "--data-dir /tmp/digits --epochs 1 --num-workers 2 --storage-path /tmp/results "
        "--run-name image-test; "
        "ls /tmp/results/image-test; ray stop --force > /dev/null"
    )
    options = ("--shm-size", "1g", "--workdir", "/tmp")
    result = run_restricted(built["training", variant], "bash", "-c", script, options=options, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert re.search(r"checkpoint_", result.stdout), result.stdout[-2000:]


# --- make push: a real OCI registry -------------------------------------------------------------
@pytest.fixture(scope="module")
def registry(engine, tmp_path_factory) -> Iterator[Registry]:
    """At the address and on the storage of make e2e's registry: e2e's push then finds every layer
    there (docker remembers which layers a registry host has) and uploads none of the gigabytes."""
    layout = Layout()
    workdir = tmp_path_factory.mktemp("registry")
    address, port, storage = layout.registry_address, layout.registry_port, layout.registry_storage
    with local_registry(workdir, address=address, port=port, storage=storage) as running:
        yield running


def test_the_registry_serves_tls_and_refuses_anonymous_clients(registry):
    assert registry.get("/v2/", auth=False).status_code == 401
    assert registry.get("/v2/").status_code == 200


def test_push_without_a_login_says_to_log_in_and_builds_nothing(registry, tmp_path):
    env = {"DOCKER_CONFIG": str(tmp_path)}
    result = make("push", f"REGISTRY={registry.host}", *BUILD_ARGS, check=False, env=env)
    assert result.returncode != 0
    assert f"not logged in to {registry.host}: run 'docker login {registry.host}'" in result.stderr
    assert "buildx build" not in result.stdout


def test_make_push_pushes_every_image_and_each_pulls_back_by_digest(built, registry):
    env = registry.login()
    started = time.monotonic()
    make("push", f"REGISTRY={registry.host}", *BUILD_ARGS, env=env)
    record("make_push_s", round(time.monotonic() - started, 1))
    digests = {}
    accept = ", ".join(
        ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"]
    )
    tags = ("test", chart_yaml()["appVersion"])
    for name, variant in built:
        for tag in tags:
            pushed = image_ref(name, variant, tag=tag, registry=registry.host)
            answer = registry.get(f"/v2/ray-aks-{name}/manifests/{pushed.rsplit(':', 1)[1]}", Accept=accept)
            assert answer.status_code == 200, answer.text
            digest = answer.headers["Docker-Content-Digest"]
            repo_digests = inspect(pushed)["RepoDigests"]
            assert f"{registry.host}/ray-aks-{name}@{digest}" in repo_digests
            digests[pushed] = digest
        # Pulled back by digest: the same image as the one built.
        pushed_tags = [image_ref(name, variant, tag=tag, registry=registry.host) for tag in tags]
        by_digest = f"{registry.host}/ray-aks-{name}@{digests[pushed_tags[0]]}"
        pushed_id = inspect(pushed_tags[0])["Id"]
        docker("rmi", *pushed_tags)
        docker("pull", by_digest, env=env)
        assert inspect(by_digest)["Id"] == pushed_id
        docker("rmi", by_digest, check=False)
    record("pushed_digests", digests)
