"""The Makefile's own wiring: what a user's command builds before it runs, on a fresh clone."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

VENV_STAMP = str(REPO_ROOT / ".venv" / ".installed")


def run_make(*args: str, cwd: Path = REPO_ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    """make ARGS in cwd, not in the make that may run pytest (its flags stay out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check
    )


@functools.cache
def make_database() -> str:
    """make's database (`make -pn`): its variables and rules as make resolved them."""
    return run_make("-pn", "help").stdout


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
    assert order[:2] == ["tools", "lint-chart"] and order[-2:] == ["lint-python", "test-slow"]


def test_make_test_runs_the_cluster_scenarios_after_the_image_checks() -> None:
    """make e2e pulls the images test-containers built and pushed, and comes before pytest's slow tests."""
    order = make_variable("TEST_TARGETS")
    assert order.index("test-containers") < order.index("e2e") < order.index("test-slow")


def test_make_test_runs_test_python_as_test_fast_beside_e2e_then_test_slow() -> None:
    """Every pytest test once: test-fast (beside the scenarios, joined before test-slow) and test-slow
    select complementary halves of test-python's tests."""
    order = make_variable("TEST_TARGETS")
    assert order[order.index("test-fast&test-slow") + 1] == "e2e"
    assert "test-python" not in order
    targets = ("test-python", "test-fast", "test-slow")
    marks = {t: re.search(r'-m "([^"]+)"', make_dry_run(t)).group(1) for t in targets}
    assert marks["test-fast"] == f"not slow and {marks['test-python']}"
    assert marks["test-slow"] == f"slow and {marks['test-python']}"


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
    """The edit loop only runs what `make test` runs too."""
    steps = {step.partition("&")[0] for step in make_variable("TEST_TARGETS")}
    assert set(make_variable("CHECK_TARGETS")) <= steps


def make_dry_run(*args: str) -> str:
    """What `make -n ARGS` would run (nothing is built)."""
    return run_make("-n", *args).stdout


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
    assert f"go_tool_cache.sh {REPO_ROOT / path}.tmp " in make_dry_run(target, override)


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


# --- generated files: each declared once (GENERATED), its check derived by make/generated.mk ----


def generated() -> dict[str, list[str]]:
    """Generator target -> the committed files it writes, as GENERATED declares them."""
    entries = (entry.partition(":") for entry in make_variable("GENERATED"))
    return {generator: files.split(",") for generator, _, files in entries}


def test_every_generated_file_is_declared_with_its_generator() -> None:
    """The checks that `make check`, `make test` and the docs name are derived from a declaration."""
    declared = generated()
    assert {"docs", "chart-lock", "schema", "infra-docs"} <= set(declared)
    for generator, files in declared.items():
        assert generator in make_rules(), f"GENERATED names {generator}, which is no target"
        for file in files:
            assert (REPO_ROOT / file).is_file(), (
                f"GENERATED: make {generator} writes {file}, which is not in the repository"
            )


@pytest.mark.parametrize("generator", sorted(generated()))
def test_every_declared_generator_yields_its_check(generator: str) -> None:
    """X-check is a phony target whose recipe is the derived one: regenerate in a copy, then diff."""
    rule = re.search(rf"^{generator}-check:.*?\n\n", make_database(), re.M | re.S)
    assert rule, f"no {generator}-check target"
    assert f"Implicit/static pattern stem: '{generator}'" in rule.group(0)
    assert "recipe to execute (from 'make/generated.mk'" in rule.group(0)
    assert f"{generator}-check" in make_variable("GENERATED_CHECKS")


def test_no_generated_file_check_is_written_by_hand() -> None:
    checks = make_variable("GENERATED_CHECKS")
    for mk in [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "make").glob("*.mk"))]:
        for line in mk.read_text().splitlines():
            target = line.partition(":")[0]
            assert target not in checks, (
                f"{mk.name} writes the rule of {target}, which make/generated.mk derives"
            )


def copy_of_the_repo(dest: Path, clone: bool) -> Path:
    """The files the derived checks copy (git's tracked and untracked ones), with their times; in a
    new git repository when `clone` (the checks list the files with git there, else with find)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_symlink() or source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)
    if clone:
        subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def make_in(tree: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """make in another tree, with this checkout's tools, .venv and cache."""
    overrides = [f"BIN={REPO_ROOT / 'bin'}", f"VENV={REPO_ROOT / '.venv'}", f"CACHE={REPO_ROOT / '.cache'}"]
    return run_make(*targets, *overrides, cwd=tree, check=False)


def stale_digest(text: str) -> str:
    """Chart.lock with another digest (a comment alone would not do: chartlock keeps a lock in sync)."""
    return re.sub(r"^digest: sha256:.", "digest: sha256:_", text, flags=re.M)


@pytest.mark.parametrize(
    ("generator", "file", "make_stale", "clone"),
    [
        ("chart-lock", "charts/ray-aks/Chart.lock", stale_digest, True),
        ("docs", "charts/ray-aks/README.md", lambda text: text + "| a row nobody documented |\n", True),
        ("chart-lock", "charts/ray-aks/Chart.lock", stale_digest, False),
    ],
    ids=["chart-lock", "docs", "chart-lock-not-a-git-tree"],
)
def test_a_derived_check_fails_on_a_stale_file_and_names_the_generator(
    tmp_path: Path, generator: str, file: str, make_stale, clone: bool
) -> None:
    """On a copy of the repository: the check fails naming the file and `make X`, leaves the file as
    it was, and passes once `make X` rewrote it."""
    tree = copy_of_the_repo(tmp_path, clone)
    stale = make_stale((tree / file).read_text())
    (tree / file).write_text(stale)

    failed = make_in(tree, f"{generator}-check")
    assert failed.returncode != 0, failed.stdout
    assert (
        f"{generator}-check: {file} is stale (diff above): run 'make {generator}' and commit it"
        in failed.stderr
    )
    assert (tree / file).read_text() == stale, "the check wrote the file in place"

    generated_now = make_in(tree, generator)
    assert generated_now.returncode == 0, generated_now.stderr
    passed = make_in(tree, f"{generator}-check")
    assert passed.returncode == 0, passed.stderr
    assert f"{generator}-check: {file} is up to date" in passed.stdout


# --- make help ----------------------------------------------------------------------------------


@functools.cache
def make_help() -> list[tuple[str, str]]:
    """`make help` as (area, target) rows, in the order printed."""
    out = run_make("help").stdout
    rows, area = [], ""
    for line in out.splitlines():
        if line and not line.startswith(" "):
            area = line
        elif line.strip():
            rows.append((area, line.split()[0]))
    return rows


def described_targets() -> list[str]:
    """Every target whose rule line carries a `## description` in the makefiles."""
    targets = []
    for mk in [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "make").glob("*.mk"))]:
        targets += re.findall(r"^([a-zA-Z0-9_.-]+):.*## ", mk.read_text(), re.M)
    return targets


def test_make_help_lists_every_described_target_once_in_an_area() -> None:
    listed = [target for _, target in make_help()]
    expected = described_targets() + make_variable("GENERATED_CHECKS")
    assert sorted(listed) == sorted(set(expected)), "make help and the makefiles' ## descriptions differ"
    assert "Other" not in {area for area, _ in make_help()}, (
        "a target is described above its file's ## @category"
    )


def test_make_help_prints_the_areas_in_the_order_of_help_areas() -> None:
    wanted = re.search(r"^HELP_AREAS := (.*)$", make_database(), re.M).group(1).split("|")
    printed = list(dict.fromkeys(area for area, _ in make_help()))
    assert printed == [area for area in wanted if area in printed], printed
    assert set(printed) == set(wanted), "an area is missing from HELP_AREAS or has no target"


@pytest.mark.parametrize("generator", sorted(generated()))
def test_make_help_lists_each_derived_check_after_its_generator(generator: str) -> None:
    rows = make_help()
    at = [target for _, target in rows].index(generator)
    assert rows[at + 1] == (rows[at][0], f"{generator}-check")


def test_make_help_lists_generate_and_verify_to_start_with() -> None:
    assert {("Start here", "generate"), ("Start here", "verify")} <= set(make_help())
