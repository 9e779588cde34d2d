"""images/Dockerfile, read without a container engine: one stage per image; base image, user,
labels, context, the lock."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex

import pytest

from tests.conftest import REPO_ROOT
from tests.images.conftest import IMAGE_NAMES, chart_yaml, gpu_values, values
from tests.images.dockerfile import (
    arg_defaults,
    copy_sources,
    dockerignore_includes,
    expand,
    from_images,
    labels,
    parse,
    read_dockerignore,
    stages,
    target,
)

DOCKERFILE = REPO_ROOT / "images" / "Dockerfile"
RAY_BASE_DOCKERFILE = REPO_ROOT / "images" / "ray-base.Dockerfile"
OCI_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses", "base.name")
LOCK = "workloads/requirements.lock"


def ray_image(image: dict) -> str:
    return f"{image['registry']}/{image['repository']}:{image['tag']}"


def test_the_three_images_are_the_dockerfiles_final_stages():
    assert IMAGE_NAMES == ["embedding", "serving", "training"]
    # Each image builds on the one shared dependency stage: the dependencies are installed once.
    assert {name: target(DOCKERFILE, name)[0] for name in IMAGE_NAMES} == dict.fromkeys(
        IMAGE_NAMES, stages(DOCKERFILE)["dependencies"][0]
    )
    # The models and the workloads wheel are built once too, in stages of their own.
    assert {"models", "workloads"} <= set(stages(DOCKERFILE)) - set(IMAGE_NAMES)


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_layers_in_the_order_they_change(name):
    """Dependencies, then models, then the package: a code change rebuilds (and AKS nodes re-pull)
    only the package's layer, not gigabytes of dependencies or models."""
    instructions = target(DOCKERFILE, name)
    keywords = [(ins.keyword, ins.args) for ins in instructions]
    deps = next(i for i, (k, a) in enumerate(keywords) if k == "RUN" and "[download]" in a)
    models = next(i for i, (k, a) in enumerate(keywords) if k == "COPY" and "--from=models" in a)
    package = next(i for i, (k, a) in enumerate(keywords) if k == "RUN" and "from=workloads" in a)
    assert deps < models < package


def test_per_commit_build_args_invalidate_no_layer():
    """Build args that change every commit are declared after the last RUN of their stage, and
    BuildKit hands a stage's args to the stages built on it: those must run nothing."""
    per_commit = {"VERSION", "REVISION", "CREATED", "SOURCE"}
    by_name = stages(DOCKERFILE)
    for name, stage in by_name.items():
        declared = [
            i for i, ins in enumerate(stage) if ins.keyword == "ARG" and ins.args.split("=")[0] in per_commit
        ]
        if not declared:
            continue
        runs = [i for i, ins in enumerate(stage) if ins.keyword == "RUN"]
        assert not runs or min(declared) > max(runs), f"stage {name}"
        children = [child for child, body in by_name.items() if body[0].args.split()[0] == name]
        assert children, "the labels' stage is the images' base"
        for child in children:
            assert not [ins for ins in by_name[child] if ins.keyword == "RUN"], (
                f"{child} inherits {name}'s args"
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
    # Which base a build used (upstream's or the one built here) and where its models came from.
    base = expand(found["org.opencontainers.image.base.name"], arg_defaults(parse(DOCKERFILE)))
    assert base == f"docker.io/rayproject/ray:{chart_yaml()['appVersion']}-py311-cpu"
    assert found["io.ray-aks.models"] == "${MODEL_SOURCE}"
    assert found["io.ray-aks.variant"] == "${RAY_VARIANT}"


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


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, RAY_BASE_DOCKERFILE], ids=lambda p: p.name)
def test_pip_installs_only_from_the_lock(dockerfile):
    """Every pip install is constrained by workloads/requirements.lock, brought in from the repository."""
    instructions = parse(dockerfile)
    lock_in_image = "/tmp/ray-aks/workloads/requirements.lock"
    brought_in = [ins.args for ins in instructions if ins.keyword in ("COPY", "RUN") and LOCK in ins.args]
    assert brought_in and all(lock_in_image.rsplit("/", 1)[0] in args for args in brought_in)
    installs = [
        part
        for ins in instructions
        if ins.keyword == "RUN"
        for part in ins.args.split("&&")
        if re.search(r"\bpip install\b", part)
    ]
    assert installs
    for install in installs:
        words = shlex.split(re.search(r"pip install[^;]*", install).group(0))
        assert "--constraint" in words, f"pip install without the lock: {install}"
        assert words[words.index("--constraint") + 1] == lock_in_image
        assert "--no-cache-dir" in words


def test_pip_reaches_a_tls_inspecting_proxy_only_through_a_secret():
    """The CA bundle of a TLS-inspecting proxy (make image passes $PIP_CERT) is a BuildKit secret,
    mounted for the commands that reach PyPI and never copied into a layer."""
    for dockerfile in (DOCKERFILE, RAY_BASE_DOCKERFILE):
        for ins in parse(dockerfile):
            # Every pip command but the one that installs our own wheel from another stage.
            local_wheel_only = "/tmp/ray-aks/wheel/" in ins.args
            if (
                ins.keyword == "RUN"
                and re.search(r"\bpip (install|wheel)\b", ins.args)
                and not local_wheel_only
            ):
                assert "--mount=type=secret,id=pip-ca-bundle" in ins.args, f"{dockerfile.name}:{ins.line}"
        assert "pip-ca-bundle" not in " ".join(
            i.args for i in parse(dockerfile) if i.keyword in ("COPY", "ENV")
        )


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
    """The models stage fetches every image's set with the hub on for that one command; each image
    takes its own set and loads it with the hub off, as the pods run (the image's ENV turns it off)."""
    models = stages(DOCKERFILE)["models"]
    fetch = [ins.args for ins in models if ins.keyword == "RUN" and "download_models.py" in ins.args]
    assert len(fetch) == 1 and "HF_HUB_OFFLINE=0" in fetch[0]
    assert 'download all --source "${MODEL_SOURCE}" --output /home/ray/model-sets' in fetch[0]
    instructions = target(DOCKERFILE, name)
    own = [ins.args for ins in instructions if ins.keyword == "COPY" and "--from=models" in ins.args]
    # IMAGE is the --target's name (`make image` passes both).
    assert own == ["--from=models --chown=1000:100 /home/ray/model-sets/${IMAGE} /home/ray/models"]
    env = " ".join(ins.args for ins in instructions if ins.keyword == "ENV").split()
    assert {"HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "HF_HOME=/home/ray/models"} <= set(env)
    commands = [c.strip() for ins in instructions if ins.keyword == "RUN" for c in ins.args.split("&&")]
    verify = 'python /home/ray/models/download_models.py verify "${IMAGE}" --models-dir /home/ray/models'
    assert verify in commands
    assert commands.index(verify) > max(i for i, c in enumerate(commands) if "pip install" in c)


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


def test_a_build_without_a_hub_makes_every_set_and_each_loads_offline(tmp_path, capsys):
    """`download all --source test` (what an offline `make image` runs): each image's directory holds
    its models and a manifest; MiniLM is the packaged real model, the others are labelled test
    weights saved at test-weights/<id>; `verify` loads each through the workloads' classes."""
    script = download_models_script()
    assert script.main(["download", "all", "--source", "test", "--output", str(tmp_path)]) == 0
    for image in IMAGE_NAMES:
        manifest = json.loads((tmp_path / image / "manifest.json").read_text())
        assert manifest["source"] == "test"
        for entry in manifest["models"]:
            packaged = entry["id"] == "sentence-transformers/all-MiniLM-L6-v2"
            assert entry["path"] == ("packaged/" if packaged else "test-weights/") + entry["id"]
            assert entry["origin"].startswith("package" if packaged else "test weights")
            assert (tmp_path / image / entry["path"] / "config.json").is_file()
        assert (tmp_path / image / "download_models.py").is_file()
        capsys.readouterr()
        assert script.main(["verify", image, "--models-dir", str(tmp_path / image)]) == 0
        verified = capsys.readouterr().out
        assert verified.count("loads offline") == len(manifest["models"])


def test_verify_refuses_a_set_made_for_another_image(tmp_path):
    script = download_models_script()
    script.main(["download", "training", "--source", "test", "--output", str(tmp_path)])
    with pytest.raises(SystemExit, match="not the serving image's"):
        script.main(["verify", "serving", "--models-dir", str(tmp_path / "training")])
