"""`make image`, `make push` and `make install` print exactly the commands they run (`make -n`),
and the image names and tags agree with what the chart's values pull."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.images.conftest import IMAGE_NAMES, PINNED, chart_yaml, gpu_values, values
from tests.support.make import commands, make

PINNED_ARGS = [f"{key}={value}" for key, value in PINNED.items()]
# No probes of Docker Hub or the model hub, and no CA bundle from this machine's pip settings.
NO_PROBES = ["RAY_BASE=upstream", "MODEL_SOURCE=hub", "PIP_CA_BUNDLE="]
PINNED_ARGS += NO_PROBES


def build_command(
    name: str,
    variant: str,
    registry: str = "x.azurecr.io/",
    engine: str = "docker",
    base: str = "docker.io/rayproject/ray",
    models: str = "hub",
    extra: str = "",
    secret: str = "",
) -> str:
    app_version = chart_yaml()["appVersion"]
    suffix = "-gpu" if variant == "gpu" else ""
    load = "" if engine == "podman" else " --load"
    return (
        f"{engine} buildx build{load} --platform linux/amd64 --file images/Dockerfile --target {name}"
        f" --build-arg IMAGE={name}"
        f" --build-arg RAY_BASE_REPOSITORY={base} --build-arg RAY_VERSION={app_version}"
        f" --build-arg RAY_VARIANT={variant} --build-arg MODEL_SOURCE={models}{extra}"
        f" --build-arg VERSION=t1 --build-arg REVISION=0123abc --build-arg CREATED=2026-01-01T00:00:00+00:00"
        f" --build-arg SOURCE=src{secret}"
        f" --tag {registry}ray-aks-{name}:t1{suffix} --tag {registry}ray-aks-{name}:{app_version}{suffix} ."
    )


def collector_build_commands(output: str) -> list[str]:
    """The commands that build the log collector's binary: `make log-collector` and, when the binary
    is missing, that make's Go builds (the builder first)."""
    return [
        c
        for c in commands(output)
        if c == "make --no-print-directory log-collector"
        or (
            not c.startswith("echo ") and "buildx build" not in c
            and (f"{REPO_ROOT}/bin/otelcol-builder-" in c or f"{REPO_ROOT}/bin/log-collector-" in c)
        )
    ]  # fmt: skip


def engine_commands(output: str) -> list[str]:
    """The commands that do something (make -n also prints the recipes' argument checks), less the
    log collector's binary build (collector_build_commands): its Go build runs only when it is missing."""
    checks = ("test ", "for ", "case ", "echo ", ": ")
    collector = set(collector_build_commands(output))
    return [
        c
        for c in commands(output)
        if not c.startswith(checks) and " info >/dev/null" not in c and c != ":" and c not in collector
    ]


def log_collector_dir() -> str:
    """The folder of the log collector's binary, the log-collector image's build context."""
    out = make("-n", "image", "IMAGES=log-collector", *PINNED_ARGS).stdout
    (build,) = [c for c in commands(out) if "--file images/log-collector.Dockerfile" in c]
    return build.rsplit(" ", 1)[1]


def collector_build_command(registry: str = "x.azurecr.io/", engine: str = "docker") -> str:
    app_version = chart_yaml()["appVersion"]
    load = "" if engine == "podman" else " --load"
    return (
        f"{engine} buildx build{load} --platform linux/amd64 --file images/log-collector.Dockerfile"
        f" --build-arg VERSION=t1 --build-arg REVISION=0123abc --build-arg CREATED=2026-01-01T00:00:00+00:00"
        f" --build-arg SOURCE=src --tag {registry}ray-aks-log-collector:t1"
        f" --tag {registry}ray-aks-log-collector:{app_version} {log_collector_dir()}"
    )


def test_image_and_push_print_the_exact_commands():
    out = make("-n", "image", "push", "ACR_NAME=x", *PINNED_ARGS).stdout
    app_version = chart_yaml()["appVersion"]
    builds = [build_command(name, "cpu") for name in ("training", "serving", "embedding")]
    builds.append(collector_build_command())
    pushes = [
        f"docker push x.azurecr.io/ray-aks-{name}:{tag}"
        for name in ("training", "serving", "embedding", "log-collector")
        for tag in ("t1", app_version)
    ]
    assert engine_commands(out) == [*builds, "DOCKER_COMMAND=docker az acr login --name x", *pushes]


def test_the_log_collector_binary_is_built_before_its_image_from_the_pinned_builder():
    """The collector's Go build (when its binary is missing) comes first; its folder, named by the
    builder config's checksum, is the image's build context; the builder is the pinned one."""
    out = make("-n", "image", "IMAGES=log-collector", *PINNED_ARGS).stdout
    folder = log_collector_dir().rstrip("/")
    assert folder.startswith(f"{REPO_ROOT}/bin/log-collector-")
    built = collector_build_commands(out)
    assert built[0] == "make --no-print-directory log-collector"
    if not (REPO_ROOT / folder / "ray-aks-log-collector").exists():
        run = [c for c in built if " --config=" in c]
        assert len(run) == 1 and f"--config={REPO_ROOT}/tools/otelcol/builder-config.yaml" in run[0]
        assert "/bin/otelcol-builder-v0.165.0 " in run[0] and "GOOS=linux GOARCH=amd64" in run[0]
        first_image_build = next(c for c in commands(out) if "buildx" in c)
        assert commands(out).index(run[0]) < commands(out).index(first_image_build)
    assert engine_commands(out) == [collector_build_command(registry="")]
    assert "Ray base" not in out, "a log-collector build probes no Ray base"


def test_a_builder_config_edit_or_another_platform_builds_the_collector_at_a_new_path(tmp_path):
    """The binary's folder carries the checksum of the builder config and the platform: an edit
    builds a new binary, an unchanged config finds the old one."""
    first = log_collector_dir()
    config = tmp_path / "builder-config.yaml"
    config.write_text((REPO_ROOT / "tools/otelcol/builder-config.yaml").read_text() + "# edited\n")
    edit = f"LOG_COLLECTOR_CONFIG={config}"
    edited = make("-n", "image", "IMAGES=log-collector", *PINNED_ARGS, edit).stdout
    assert first not in edited and f"--config={config} " in edited
    arm = make("-n", "image", "IMAGES=log-collector", *PINNED_ARGS, "IMAGE_PLATFORM=linux/arm64").stdout
    assert first not in arm and "GOOS=linux GOARCH=arm64" in arm


def test_gpu_variant_and_podman():
    out = make(
        "-n", "push", "ACR_NAME=x", "IMAGES=serving", "VARIANTS=cpu gpu", "DOCKER=podman", *PINNED_ARGS
    )
    app_version = chart_yaml()["appVersion"]
    assert engine_commands(out.stdout) == [
        build_command("serving", "cpu", engine="podman"),
        build_command("serving", "gpu", engine="podman"),
        "DOCKER_COMMAND=podman az acr login --name x",
        "podman push x.azurecr.io/ray-aks-serving:t1",
        f"podman push x.azurecr.io/ray-aks-serving:{app_version}",
        "podman push x.azurecr.io/ray-aks-serving:t1-gpu",
        f"podman push x.azurecr.io/ray-aks-serving:{app_version}-gpu",
    ]


def test_without_acr_the_images_are_local_names():
    out = make("-n", "image", "IMAGES=training", *PINNED_ARGS).stdout
    assert engine_commands(out) == [build_command("training", "cpu", registry="")]


def test_default_tag_is_the_git_commit():
    described = subprocess.run(
        ["git", "describe", "--tags", "--always", "--dirty", "--abbrev=12"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    names = make("-s", "image-names", "IMAGES=training").stdout.split()
    assert names == [f"ray-aks-training:{described}", f"ray-aks-training:{chart_yaml()['appVersion']}"]
    assert f"--build-arg REVISION={revision} " in make("-n", "image", "IMAGES=training", *NO_PROBES).stdout


@pytest.mark.parametrize("goal", ["push", "install"])
def test_push_and_install_need_acr_name_before_building(goal):
    result = make(goal, "ACR_NAME=", check=False)
    assert result.returncode != 0
    assert f"{goal}: set ACR_NAME" in result.stderr
    assert "buildx" not in result.stdout


def test_install_rejects_unknown_values():
    result = make("install", "ACR_NAME=x", "VALUES=tpu", check=False)
    assert result.returncode != 0 and "VALUES must be cpu or gpu, not 'tpu'" in result.stderr


def helm_command(out: str) -> list[str]:
    (line,) = [c for c in commands(out) if " upgrade --install " in c]
    return line.split()


@pytest.mark.parametrize(("variant", "files"), [("cpu", []), ("gpu", ["charts/ray-aks-gpu-values.yaml"])])
def test_install_uses_the_values_and_the_acr(variant, files):
    words = helm_command(make("-n", "install", "ACR_NAME=x", f"VALUES={variant}", "IMAGE_TAG=t1").stdout)
    assert words[0].endswith("/helm") and words[1:6] == [
        "upgrade",
        "--install",
        "ray",
        "charts/ray-aks",
        "--namespace",
    ]
    assert [words[i + 1] for i, w in enumerate(words) if w == "-f"] == files
    # Helm 4 applies server-side, and KubeRay writes to the Ray objects' worker groups: the chart wins.
    assert "--force-conflicts" in words
    sets = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--set")
    assert sets["global.imageRegistry"] == "x.azurecr.io"
    # Every key set is a value the chart declares (its strict schema refuses others).
    chart_values = values()
    for key in sets:
        node = chart_values
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"make install sets {key}, not in values.yaml"
            node = node[part]
    if "imageTag" in chart_values["global"]:
        assert sets["global.imageTag"] == "t1"


def chart_images(tree, path=()):
    """(values path, image dict) for every image of ours (a repository named ray-aks-*) in the values."""
    if isinstance(tree, dict):
        if str(tree.get("repository", "")).startswith("ray-aks-"):
            yield ".".join(path), tree
        for key, value in tree.items():
            yield from chart_images(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from chart_images(value, (*path, str(index)))


def test_makefile_builds_one_image_per_dockerfile_stage_and_the_log_collector():
    names = make("-s", "image-names", "IMAGE_TAG=t1").stdout.split()
    expected = [*IMAGE_NAMES, "log-collector"]  # the chart runs the log collector in every Ray pod
    assert sorted({n.split(":")[0] for n in names}) == sorted(f"ray-aks-{name}" for name in expected)


def test_chart_image_values_are_images_make_builds():
    """Every ray-aks-* image the chart's values (and the GPU overlay) name is built by `make image`
    with the tag the chart pulls by default (its appVersion, -gpu on GPU groups)."""
    app_version = chart_yaml()["appVersion"]
    built = set(make("-s", "image-names", "IMAGE_TAG=t1", "VARIANTS=cpu gpu").stdout.split())
    for source in (values(), gpu_values()):
        for path, image in chart_images(source):
            assert image.get("registry", "") == "", f"{path}: the registry comes from global.imageRegistry"
            tag = image.get("tag") or app_version
            assert f"{image['repository']}:{tag}" in built, (
                f"{path}: {image['repository']}:{tag} is not built"
            )
            if image["repository"] != "ray-aks-log-collector":  # no GPU variant: it tails files
                assert f"{image['repository']}:{tag}-gpu" in built


def test_help_lists_every_target_of_images_and_demo():
    listed = {line.split()[0] for line in make("-s", "help").stdout.splitlines() if line.strip()}
    listed = {re.sub(r"\x1b\[[0-9;]*m", "", name) for name in listed}
    for mk in ("images.mk", "demo.mk"):
        text = (REPO_ROOT / "make" / mk).read_text()
        phony = {t for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for t in line.split()}
        assert phony and phony <= listed, f"make help misses {sorted(phony - listed)} of make/{mk}"


def rendered_images(tree) -> set[str]:
    """Every container image in rendered objects (RayJob/RayService pod templates included)."""
    found: set[str] = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                found |= {c["image"] for c in value if isinstance(c, dict) and "image" in c}
            else:
                found |= rendered_images(value)
    elif isinstance(tree, list):
        for value in tree:
            found |= rendered_images(value)
    return found


WORKLOAD_SCENARIOS = sorted(
    p.name
    for p in (REPO_ROOT / "charts" / "ray-aks" / "ci").glob("*-values.yaml")
    if any(key in yaml.safe_load(p.read_text()) for key in ("rayJobs", "rayService"))
)


@pytest.mark.parametrize("scenario", WORKLOAD_SCENARIOS)
def test_install_renders_only_images_that_push_pushed(scenario):
    """The chart rendered with `make install`'s own flags (ACR registry, this commit's tag) over a
    workload scenario pulls exactly ray-aks images that `make push VARIANTS="cpu gpu"` pushes."""
    from tools.render_chart import render

    words = helm_command(make("-n", "install", "ACR_NAME=x", "IMAGE_TAG=t1").stdout)
    sets = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--set")
    pushed = set(make("-s", "image-names", "ACR_NAME=x", "IMAGE_TAG=t1", "VARIANTS=cpu gpu").stdout.split())
    scenario_values = yaml.safe_load((REPO_ROOT / "charts" / "ray-aks" / "ci" / scenario).read_text())
    # A tag the scenario pins itself (a user's own release tag) is the user's to push.
    pinned_tags = {image.get("tag") for _, image in chart_images(scenario_values)} - {None, ""}
    images = rendered_images(render([REPO_ROOT / "charts" / "ray-aks" / "ci" / scenario], sets))
    ours = {image for image in images if "/ray-aks-" in image}
    assert ours, f"{scenario} renders no ray-aks image"
    for image in ours:
        name, _, tag = image.rpartition(":")
        assert name.startswith("x.azurecr.io/"), image
        assert image in pushed or tag in pinned_tags, f"{image} is pulled but `make push` never pushes it"
        assert any(p.rpartition(":")[0] == name for p in pushed), f"{name} is not an image make builds"


def test_a_local_ray_base_is_built_from_debian_first():
    """RAY_BASE=local: the Debian root filesystem, the Ray base on it (both tags, one image), then the
    images FROM it."""
    out = make("-n", "image", "IMAGES=serving", *PINNED_ARGS, "RAY_BASE=local").stdout
    found = [c for c in engine_commands(out) if not c.startswith("make ")]
    app_version = chart_yaml()["appVersion"]
    assert found[0].endswith("tools/images/debian-rootfs.sh ray-aks-local/debian:bookworm")
    assert found[1].startswith(
        "docker buildx build --load --platform linux/amd64 --file images/ray-base.Dockerfile"
    )
    assert f"--tag ray-aks-local/ray:{app_version}-py311-cpu ." in found[1]
    tag = f"docker tag ray-aks-local/ray:{app_version}-py311-cpu ray-aks-local/ray:{app_version}-py311-gpu"
    assert found[2] == tag
    assert found[3] == build_command("serving", "cpu", registry="", base="ray-aks-local/ray")
    assert "make --no-print-directory ray-base RAY_BASE=local" in out


def test_model_source_and_cpu_torch_index_reach_the_build():
    out = make(
        "-n", "image", "IMAGES=training", "VARIANTS=cpu gpu", *PINNED_ARGS,
        "MODEL_SOURCE=test", "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu",
    ).stdout  # fmt: skip
    index = " --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"
    assert engine_commands(out) == [
        build_command("training", "cpu", registry="", models="test", extra=index),
        build_command("training", "gpu", registry="", models="test"),  # the GPU image keeps CUDA's torch
    ]


def test_a_pip_ca_bundle_is_passed_as_a_build_secret(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read by make")
    out = make("-n", "image", "IMAGES=embedding", *PINNED_ARGS, f"PIP_CA_BUNDLE={bundle}").stdout
    secret = f" --secret id=pip-ca-bundle,src={bundle}"
    assert engine_commands(out) == [build_command("embedding", "cpu", registry="", secret=secret)]
    missing = make("-n", "image", "IMAGES=embedding", *PINNED_ARGS, f"PIP_CA_BUNDLE={tmp_path}/none").stdout
    assert engine_commands(missing) == [build_command("embedding", "cpu", registry="")]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("RAY_BASE=dockerhub", "RAY_BASE must be auto, upstream or local, not 'dockerhub'"),
        ("MODEL_SOURCE=s3", "MODEL_SOURCE must be auto, hub or test, not 's3'"),
    ],
)
def test_image_rejects_unknown_sources(setting, message):
    result = make("image", *PINNED_ARGS, setting, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_image_without_an_engine_says_how_to_get_one():
    result = make("image", *PINNED_ARGS, "DOCKER=false", check=False)
    assert result.returncode != 0
    assert "no container engine answers" in result.stderr and "make docker-engine" in result.stderr


def test_push_to_a_registry_without_a_login_says_to_log_in_before_building(tmp_path):
    result = make(
        "push",
        *PINNED_ARGS,
        "REGISTRY=registry.example:5000",
        check=False,
        env={"DOCKER_CONFIG": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "not logged in to registry.example:5000: run 'docker login registry.example:5000'" in result.stderr
    assert "buildx" not in result.stdout


def test_push_to_a_registry_pushes_every_tag_after_the_login_check(tmp_path):
    (tmp_path / "config.json").write_text('{"auths": {"registry.example:5000": {}}}')
    out = make(
        "-n",
        "push",
        *PINNED_ARGS,
        "REGISTRY=registry.example:5000",
        "IMAGES=serving",
        env={"DOCKER_CONFIG": str(tmp_path)},
    ).stdout
    app_version = chart_yaml()["appVersion"]
    assert engine_commands(out)[-2:] == [
        "docker push registry.example:5000/ray-aks-serving:t1",
        f"docker push registry.example:5000/ray-aks-serving:{app_version}",
    ]
    assert "az acr login" not in out


def test_install_under_helm_3_leaves_out_helm_4s_conflict_flag():
    words = helm_command(make("-n", "install", "ACR_NAME=x", "HELM_VERSION=3.21.4", "IMAGE_TAG=t1").stdout)
    assert "--force-conflicts" not in words


def test_image_prune_removes_only_what_make_image_made():
    out = make("-n", "image-prune").stdout
    found = engine_commands(out)
    images = "ray-aks-(training|serving|embedding|redis|log-collector)"
    assert f"{images}|ray-aks-local/ray|ray-aks-local/debian" in out
    assert "docker image prune --force --filter label=io.ray-aks.variant" in found
    assert not [c for c in found if "builder prune" in c or c.startswith("docker system")]
