"""images/Dockerfile, read without a container engine: one stage per image; base image, user,
labels, context, the lock."""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from tests.conftest import REPO_ROOT
from tests.images.conftest import IMAGE_NAMES, chart_yaml, gpu_values, values
from tests.images.dockerfile import (
    arg_defaults,
    copy_sources,
    dockerignore_includes,
    from_images,
    labels,
    parse,
    read_dockerignore,
    stages,
    target,
)

DOCKERFILE = REPO_ROOT / "images" / "Dockerfile"
OCI_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses", "base.name")
LOCK = "workloads/requirements.lock"


def ray_image(image: dict) -> str:
    return f"{image['registry']}/{image['repository']}:{image['tag']}"


def test_the_three_images_are_the_dockerfiles_final_stages():
    assert IMAGE_NAMES == ["embedding", "serving", "training"]
    # Each image builds on the one shared stage: the workloads are installed once, not three ways.
    assert {name: target(DOCKERFILE, name)[0] for name in IMAGE_NAMES} == dict.fromkeys(
        IMAGE_NAMES, stages(DOCKERFILE)["workloads"][0]
    )


def test_cpu_base_is_the_chart_ray_image():
    """RAY_VERSION defaults to the chart's appVersion and the CPU base is the RayCluster's image."""
    chart_values = values()
    assert arg_defaults(parse(DOCKERFILE))["RAY_VERSION"] == chart_yaml()["appVersion"]
    assert chart_values["rayCluster"]["rayVersion"] == chart_yaml()["appVersion"]
    assert from_images(DOCKERFILE) == [ray_image(chart_values["rayCluster"]["image"])]


def test_gpu_build_arg_gives_the_gpu_overlay_image():
    """RAY_VARIANT=gpu (what `make image VARIANTS=gpu` passes) is the GPU overlay's worker image."""
    base = values()["rayCluster"]["image"]
    gpu_group = gpu_values()["rayCluster"]["workerGroups"]["gpu"]["image"]
    expected = ray_image(base | gpu_group)
    assert from_images(DOCKERFILE, {"RAY_VARIANT": "gpu"}) == [expected]
    assert expected.endswith("-gpu")


def test_no_latest_and_every_base_tagged():
    for variant in ("cpu", "gpu"):
        for image in from_images(DOCKERFILE, {"RAY_VARIANT": variant}):
            repository, _, tag = image.rpartition(":")
            assert repository and "/" in repository and tag, f"{image} has no explicit tag"
            assert tag != "latest"
    assert not re.search(r":latest\b", DOCKERFILE.read_text())


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_runs_as_uid_1000_not_root(name):
    """The last USER is the Ray image's uid 1000 (numeric: PSS runAsNonRoot can verify it)."""
    instructions = target(DOCKERFILE, name)
    users = [ins for ins in instructions if ins.keyword == "USER"]
    assert users, "no USER: the image would run as whatever the base says"
    user, _, group = users[-1].args.partition(":")
    assert user == "1000" and group in ("", "100")
    # Everything after the USER runs unprivileged: no sudo, no switch back to root.
    after = instructions[instructions.index(users[-1]) :]
    assert not any("sudo " in ins.args for ins in after)


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_oci_labels(name):
    found = labels(target(DOCKERFILE, name))
    for key in OCI_LABELS:
        assert found.get(f"org.opencontainers.image.{key}"), f"missing org.opencontainers.image.{key}"
    assert found["org.opencontainers.image.title"] == f"ray-aks-{name}"
    assert found["org.opencontainers.image.base.name"].startswith("docker.io/rayproject/ray:${RAY_VERSION}")


def test_every_copy_source_exists_and_is_in_the_build_context():
    ignore = read_dockerignore(REPO_ROOT / ".dockerignore")
    sources = copy_sources(parse(DOCKERFILE))
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert dockerignore_includes(ignore, source), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_local_state_out():
    ignore = read_dockerignore(REPO_ROOT / ".dockerignore")
    local_state = [".venv/bin/python", "bin/helm", ".cache/demo", ".git/HEAD", "tests/conftest.py"]
    local_state += ["charts/ray-aks/values.yaml", "workloads/src/ray_aks/__pycache__/cli.cpython-311.pyc"]
    for path in local_state:
        assert not dockerignore_includes(ignore, path), f"{path} would be sent to the build"


def test_pip_installs_only_from_the_lock():
    """Every pip install is constrained by workloads/requirements.lock, copied from the repository."""
    instructions = parse(DOCKERFILE)
    copies = [shlex.split(ins.args) for ins in instructions if ins.keyword == "COPY"]
    lock_copy = next(words for words in copies if LOCK in words)
    lock_in_image = lock_copy[-1].rstrip("/") + "/requirements.lock"
    installs = [
        part
        for ins in instructions
        if ins.keyword == "RUN"
        for part in ins.args.split("&&")
        if re.search(r"\bpip install\b", part)
    ]
    assert len(installs) >= 2
    for install in installs:
        words = shlex.split(install)
        assert "--constraint" in words, f"pip install without the lock: {install}"
        assert words[words.index("--constraint") + 1] == lock_in_image
        assert "--no-cache-dir" in words


def test_lock_suits_the_images():
    """The lock is compiled for the images' Python (3.11) and platform (x86_64 manylinux, AKS nodes),
    pins the chart's Ray, and has no environment markers (one platform: what is tested is installed)."""
    recipe = (REPO_ROOT / "make" / "python.mk").read_text()
    assert "--python-version 3.11" in recipe and "--python-platform x86_64-manylinux" in recipe
    assert "IMAGE_PLATFORM ?= linux/amd64" in (REPO_ROOT / "make" / "images.mk").read_text()
    assert all("-py311-" in image for image in from_images(DOCKERFILE))
    lock = (REPO_ROOT / LOCK).read_text()
    pins = dict(line.split("==", 1) for line in lock.splitlines() if line and not line.startswith((" ", "#")))
    assert pins["ray"] == chart_yaml()["appVersion"]
    assert not [line for line in lock.splitlines() if ";" in line and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_models_are_downloaded_then_verified_offline(name):
    """The image runs our download script for its own models with the hub on for that one command,
    then loads them with the hub off, as the pods run (the image's ENV turns it off)."""
    instructions = target(DOCKERFILE, name)
    env = " ".join(ins.args for ins in instructions if ins.keyword == "ENV").split()
    assert {"HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1"} <= set(env)
    commands = [c.strip() for ins in instructions if ins.keyword == "RUN" for c in ins.args.split("&&")]
    downloads = [c for c in commands if "download_models.py download" in c]
    verifies = [c for c in commands if "download_models.py verify" in c]
    assert downloads == [f"HF_HUB_OFFLINE=0 TRANSFORMERS_OFFLINE=0 python download_models.py download {name}"]
    assert verifies == [f"python download_models.py verify {name}"]
    assert commands.index(downloads[0]) < commands.index(verifies[0])
    # Only the image's own models: the other stages' downloads are not in its build.
    assert not [c for c in commands if "download_models.py" in c and not c.endswith(f" {name}")]


def download_models_script():
    spec = importlib.util.spec_from_file_location(
        "download_models", REPO_ROOT / "images" / "download_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_image_downloads_the_models_its_workloads_default_to(capsys):
    from ray_aks.embedding.config import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
    from ray_aks.serving.embeddings import DEFAULT_MODEL as EMBEDDINGS_MODEL
    from ray_aks.serving.textgen import DEFAULT_MODEL as TEXTGEN_MODEL
    from ray_aks.training.config import ClipClassifierConfig

    script = download_models_script()

    def listed(image: str) -> list[str]:
        assert script.main(["list", image]) == 0
        return capsys.readouterr().out.split()

    assert listed("training") == [ClipClassifierConfig.model_fields["model"].default]
    assert listed("embedding") == [DEFAULT_TEXT_MODEL, DEFAULT_IMAGE_MODEL]
    assert listed("serving") == [TEXTGEN_MODEL, EMBEDDINGS_MODEL]
    assert {"distilgpt2", "sentence-transformers/all-MiniLM-L6-v2", "openai/clip-vit-base-patch32"} == {
        m for image in IMAGE_NAMES for m in listed(image)
    }


def test_download_script_refuses_an_unknown_image(capsys):
    with pytest.raises(SystemExit) as exit_info:
        download_models_script().main(["download", "notebook"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'notebook'" in capsys.readouterr().err
