"""What the image checks compare against: the chart's values and the Makefile's own commands."""

from __future__ import annotations

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
