"""Scenario 6: `helm upgrade` with changed values completes (the RayService scenario switched the
RayService on and the RayJob off through it); `helm uninstall` leaves no Ray object or pod behind and
keeps MLflow's claim, as README says (`helm.sh/resource-policy: keep`)."""

from __future__ import annotations

import pytest

from tests.e2e import kube
from tests.e2e.conftest import mlflow_claim

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

RAY_KINDS = "rayclusters.ray.io,rayjobs.ray.io,rayservices.ray.io"


def test_the_upgrade_is_deployed_as_revision_two(serving, namespace):
    history = kube.helm("history", kube.RELEASE, "--namespace", namespace, "-o", "json").stdout
    assert '"revision":2' in history.replace(" ", "") and '"status":"deployed"' in history.replace(" ", "")


@pytest.fixture(scope="module")
def uninstalled(release, serving, namespace) -> None:
    # MLflow's peak over the release's life: the RayJob's logging and registering, the RayService's loads.
    kube.record("mlflow_peak_memory", release["mlflow_memory"].stop())
    kube.helm("uninstall", kube.RELEASE, "--namespace", namespace, "--wait", "--timeout", "10m")

    def no_pods() -> bool:
        return not kube.kubectl("-n", namespace, "get", "pods", "-o", "name").strip()

    kube.wait_until(no_pods, 600, "every pod of the release to be gone")


def test_uninstall_leaves_no_ray_objects(uninstalled, namespace):
    assert kube.kubectl("-n", namespace, "get", RAY_KINDS, "-o", "name").strip() == ""


def test_uninstall_leaves_no_pods(uninstalled, namespace):
    assert kube.kubectl("-n", namespace, "get", "pods", "-o", "name").strip() == ""


def test_uninstall_keeps_mlflows_claim(uninstalled, namespace):
    claims = kube.kubectl("-n", namespace, "get", "pvc", "-o", "name").split()
    assert f"persistentvolumeclaim/{mlflow_claim()}" in claims
