"""What the image checks compare against: the chart's values and the Makefile's own commands."""

from __future__ import annotations

import os
import subprocess

import yaml

from tests.conftest import REPO_ROOT
from tests.images.dockerfile import image_stages

CHART = REPO_ROOT / "charts" / "ray-aks"
GPU_VALUES = REPO_ROOT / "charts" / "ray-aks-gpu-values.yaml"
IMAGE_NAMES = image_stages(REPO_ROOT / "images" / "Dockerfile")
# Fixed so that `make -n` prints the same commands on every checkout.
PINNED = {
    "IMAGE_TAG": "t1",
    "IMAGE_REVISION": "0123abc",
    "IMAGE_CREATED": "2026-01-01T00:00:00+00:00",
    "IMAGE_SOURCE": "src",
}


def chart_yaml() -> dict:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())


def values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def gpu_values() -> dict:
    return yaml.safe_load(GPU_VALUES.read_text())


def make(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run make in the repository, with `env` on top of this process's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))} | (env or {})
    result = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, f"make {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def commands(output: str) -> list[str]:
    """`make -n` output as one command a line (backslash continuations joined)."""
    return [" ".join(line.split()) for line in output.replace("\\\n", " ").splitlines() if line.strip()]
