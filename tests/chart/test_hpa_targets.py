"""No render of the chart has an HPA on a Ray resource: Ray kinds have no scale subresource.

Every ct scenario and the GPU overlay are rendered with real helm; the only HPA the chart may
render scales the MLflow tracking server's Deployment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.render_chart import CHART_DIR, GPU_VALUES, render

SCENARIOS = [*sorted((CHART_DIR / "ci").glob("*-values.yaml")), GPU_VALUES]


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_every_hpa_targets_the_mlflow_deployment(values: Path) -> None:
    objects = render(values_files=[values])
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    for hpa in (o for o in objects if o["kind"] == "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target["apiVersion"] == "apps/v1" and target["kind"] == "Deployment", target
        assert target["name"].endswith("-mlflow") and target["name"] in deployments, target


def test_the_hpa_scenario_renders_an_hpa() -> None:
    objects = render(values_files=[CHART_DIR / "ci" / "20-mlflow-external-db-hpa-values.yaml"])
    assert [o["kind"] for o in objects].count("HorizontalPodAutoscaler") == 1
