"""The Ray version is one pin: the chart's appVersion, rayVersion, image tags and the Python lock agree."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tools.render_chart import CHART_DIR, GPU_VALUES, REPO_ROOT

PYTHON_TAG = "py311"  # DESIGN.md: Python 3.11 in the images and the test .venv


@pytest.fixture(scope="module")
def chart() -> dict[str, Any]:
    return yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def test_app_version_is_the_ray_version(chart: dict[str, Any], values: dict[str, Any]) -> None:
    assert chart["appVersion"] == values["rayCluster"]["rayVersion"]


def test_cpu_image_tag_is_the_ray_version(values: dict[str, Any]) -> None:
    ray = values["rayCluster"]
    assert ray["image"]["tag"] == f"{ray['rayVersion']}-{PYTHON_TAG}-cpu"


def test_gpu_overlay_image_tag_is_the_ray_version(values: dict[str, Any]) -> None:
    gpu = yaml.safe_load(GPU_VALUES.read_text())
    assert gpu["rayCluster"]["workerGroups"]["gpu"]["image"]["tag"] == (
        f"{values['rayCluster']['rayVersion']}-{PYTHON_TAG}-gpu"
    )


def test_python_lock_pins_the_same_ray(values: dict[str, Any]) -> None:
    lock = (REPO_ROOT / "workloads" / "requirements.lock").read_text()
    pinned = re.search(r"^ray==(\S+)$", lock, re.MULTILINE)
    assert pinned, "ray is not pinned in workloads/requirements.lock"
    assert pinned[1] == values["rayCluster"]["rayVersion"]


def test_artifacthub_lists_the_images_the_chart_runs(chart: dict[str, Any], values: dict[str, Any]) -> None:
    listed = {i["image"] for i in yaml.safe_load(chart["annotations"]["artifacthub.io/images"])}
    image = values["rayCluster"]["image"]
    base = f"{image['registry']}/{image['repository']}:{values['rayCluster']['rayVersion']}-{PYTHON_TAG}"
    assert listed == {f"{base}-cpu", f"{base}-gpu"}
