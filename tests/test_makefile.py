"""The Makefile's own wiring: what a user's command builds before it runs, on a fresh clone."""

from __future__ import annotations

import functools
import os
import re
import subprocess

import pytest

from tests.conftest import REPO_ROOT

VENV_STAMP = str(REPO_ROOT / ".venv" / ".installed")


@functools.cache
def make_database() -> str:
    """make's database (`make -pn`): its variables and rules as make resolved them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "--no-print-directory", "-pn", "help"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@functools.cache
def make_rules() -> dict[str, list[str]]:
    """Target -> its prerequisites as make resolved them."""
    rules: dict[str, list[str]] = {}
    for target, prerequisites in re.findall(r"^([^\s#:=]+):(?![:=])[ \t]*(.*)$", make_database(), re.M):
        rules.setdefault(target, prerequisites.replace("|", " ").split())
    return rules


def make_variable(name: str) -> list[str]:
    """A simply expanded variable's words, e.g. the steps `make test` runs (TEST_TARGETS)."""
    found = re.search(rf"^{name} := (.*)$", make_database(), re.M)
    assert found, f"make defines no {name}"
    return found.group(1).split()


@pytest.mark.parametrize(
    "target", ["demo", "bench", "test-images", "test-containers", "lint-python", "test-python"]
)
def test_target_builds_the_venv_first(target: str) -> None:
    """`make demo` on a fresh clone builds .venv before running it (make expands a rule's
    prerequisites when it reads the rule: a path variable defined in a later file is empty there)."""
    assert VENV_STAMP in make_rules()[target]


@pytest.mark.parametrize("target", ["bench", "test-images", "install"])
def test_target_builds_helm_first(target: str) -> None:
    helm = [p for p in make_rules()[target] if p.startswith(str(REPO_ROOT / "bin")) and p.endswith("/helm")]
    assert helm, f"make {target} runs helm but does not build it"


@pytest.mark.parametrize("target", ["test-containers", "e2e"])
def test_target_builds_the_registry_first(target: str) -> None:
    """Both push to the distribution registry they start: an empty path here would mean the binary
    is never built, and the tests fail on a fresh clone with "no REGISTRY_BIN"."""
    assert any(p.startswith(str(REPO_ROOT / "bin" / "registry-")) for p in make_rules()[target])


def test_make_test_runs_the_chart_checks_before_pytest() -> None:
    """The quick checks first: a chart failure shows in minutes, not after pytest's many minutes."""
    order = make_variable("TEST_TARGETS")
    assert order[:2] == ["tools", "lint-chart"] and order[-2:] == ["lint-python", "test-python"]


def test_make_test_runs_the_cluster_scenarios_after_the_image_checks() -> None:
    """make e2e pulls the images test-containers built and pushed, and comes before pytest."""
    order = make_variable("TEST_TARGETS")
    assert order.index("test-containers") < order.index("e2e") < order.index("test-python")


def test_make_test_times_the_tool_builds_as_steps_of_their_own() -> None:
    """What a cold cache costs shows in the timing table, not inside the first check that needs a tool."""
    order = [step.partition("&")[0] for step in make_variable("TEST_TARGETS")]
    assert order.index("image-tools") < order.index("test-containers")
    assert order.index("e2e-tools") < order.index("e2e")


def test_the_e2e_tools_build_beside_the_image_checks_and_pass_before_e2e() -> None:
    order = make_variable("TEST_TARGETS")
    assert order[order.index("e2e-tools&e2e") + 1] == "test-containers"


def test_make_test_runs_each_step_through_the_timing_runner() -> None:
    out = make_dry_run("test")
    assert "tools/test_times.py run" in out
    assert " ".join(f"'{step}'" for step in make_variable("TEST_TARGETS")) in out


def test_make_check_is_a_subset_of_make_test() -> None:
    """The edit loop only runs what `make test` runs too (test-fast: test-python's fast part)."""
    steps = set(make_variable("TEST_TARGETS")) | {"test-fast"}
    assert set(make_variable("CHECK_TARGETS")) <= steps


def make_dry_run(*args: str) -> str:
    """What `make -n ARGS` would run (nothing is built)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


# Paths that tests, tools/ and the README name: the tool table must keep them.
TOOL_PATHS = {
    "helm": "bin/helm-v4.2.4/helm",
    "helm-unittest": "bin/helm-plugins-v1.1.2/unittest/helm-unittest",
    "ct": "bin/ct-v3.14.0",
    "kubeconform": "bin/kubeconform-v0.7.0",
    "kube-linter": "bin/kube-linter-v0.8.3",
    "helm-docs": "bin/helm-docs-v1.14.2",
    "chartlock": "bin/chartlock",
    "registry": "bin/registry-v3.1.2",
    "buildx": "bin/buildx-v0.38.2/docker-buildx",
    "etcd": "bin/etcd-v3.6.16",
    "coredns": "bin/coredns-v1.14.7",
    "kwok": "bin/kwok-v0.8.0",
    "kube-router": "bin/kube-router-v2.1.0",
    "kuberay-operator": "bin/kuberay-operator-v1.6.2",
}


@pytest.mark.parametrize("tool", sorted(TOOL_PATHS))
def test_every_go_tool_has_a_rule_at_its_pinned_path(tool: str) -> None:
    assert str(REPO_ROOT / TOOL_PATHS[tool]) in make_rules()


def test_go_tools_are_built_by_the_one_rule_of_the_table() -> None:
    """One generic rule in make/tools.mk runs go install: no .mk file has a hand-written copy."""
    for mk in [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "make").glob("*.mk"))]:
        text = mk.read_text()
        uses = text.count("$(GO_INSTALL)") + text.count("$(GO) build")
        assert uses == (1 if mk.name == "tools.mk" else 0), f"{mk.name} runs go install/build {uses} times"


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ("CT_VERSION=v3.99.0", "bin/ct-v3.99.0"),
        ("KUBE_ROUTER_VERSION=v2.99.0", "bin/kube-router-v2.99.0"),
        ("HELM_UNITTEST_VERSION=v1.99.0", "bin/helm-plugins-v1.99.0/unittest"),
    ],
)
def test_a_pin_change_builds_a_new_path(override: str, path: str) -> None:
    """A tool's path carries its pin: moving the pin builds, an unchanged pin finds the file."""
    target = "tools-build" if "ROUTER" not in override else str(REPO_ROOT / "bin/e2e/versions.json")
    assert f"GOBIN={REPO_ROOT / path}.tmp " in make_dry_run(target, override)


def test_each_target_has_its_prerequisites_in_one_file() -> None:
    """A target's prerequisites are read in one place (.PHONY aside: each file declares its own)."""
    files: dict[str, set[str]] = {}
    for mk in [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "make").glob("*.mk"))]:
        for line in mk.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_./ -]+):(?![=:])", line)
            if match:
                for target in match.group(1).split():
                    files.setdefault(target, set()).add(mk.name)
    split = {t: f for t, f in files.items() if len(f) > 1 and t != ".PHONY"}
    assert not split, f"targets whose prerequisites are split across files: {split}"
