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
def make_rules() -> dict[str, list[str]]:
    """make's rule database (`make -pn`): target -> its prerequisites as make resolved them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    database = subprocess.run(
        ["make", "--no-print-directory", "-pn", "help"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rules: dict[str, list[str]] = {}
    for target, prerequisites in re.findall(r"^([^\s#:=]+):(?![:=])[ \t]*(.*)$", database, re.M):
        rules.setdefault(target, prerequisites.replace("|", " ").split())
    return rules


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
    """The quick checks first: a chart failure shows in minutes, not after the half-hour of pytest."""
    order = make_rules()["test"]
    assert order[0] == "lint-chart" and order[-2:] == ["lint-python", "test-python"]


def test_make_test_runs_the_cluster_scenarios_after_the_image_checks() -> None:
    """make e2e pulls the images test-containers built and pushed, and comes before pytest's half hour."""
    order = make_rules()["test"]
    assert order.index("test-containers") < order.index("e2e") < order.index("test-python")
