"""Scenario 1: every ct scenario and the GPU overlay, rendered by helm, pass the real API server's
server-side dry run (schema, defaulting, Pod Security "restricted" admission) with the KubeRay and
monitoring CRDs installed, as on an AKS cluster with the add-on and Managed Prometheus."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.e2e import kube
from tools.render_chart import render_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

NAMESPACE = "dry-run"
CI_VALUES = sorted((REPO_ROOT / "charts" / "ray-aks" / "ci").glob("*-values.yaml"))
SCENARIOS = [[f] for f in CI_VALUES] + [[kube.GPU_VALUES]]
PROMETHEUS_OPERATOR_VERSION = "v0.88.0"  # make/tools.mk's PROMETHEUS_OPERATOR_VERSION
MONITORING_CRDS = ("monitoring.coreos.com_podmonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml")


def _module_dir(module: str) -> Path:
    out = subprocess.run(
        ["go", "mod", "download", "-json", module], capture_output=True, text=True, check=True
    )
    return Path(json.loads(out.stdout)["Dir"])


@pytest.fixture(scope="module")
def monitoring_crds(cluster) -> None:
    """The Prometheus Operator's PodMonitor and PrometheusRule CRDs, and the same under Azure Managed
    Prometheus's group (azmonitoring.coreos.com)."""
    directory = _module_dir(
        f"github.com/prometheus-operator/prometheus-operator@{PROMETHEUS_OPERATOR_VERSION}"
    )
    crds = []
    for name in MONITORING_CRDS:
        crd = yaml.safe_load((directory / "example" / "prometheus-operator-crd" / name).read_text())
        crds.append(crd)
        azure = copy.deepcopy(crd)
        azure["spec"]["group"] = "azmonitoring.coreos.com"
        azure["metadata"]["name"] = f"{crd['spec']['names']['plural']}.azmonitoring.coreos.com"
        azure["metadata"].pop("annotations", None)
        crds.append(azure)
    kube.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(crds))
    for crd in crds:
        kube.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")


@pytest.fixture(scope="module")
def dry_run_namespace(cluster) -> str:
    kube.restricted_namespace(NAMESPACE)
    return NAMESPACE


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda files: Path(files[0]).name)
def test_scenario_passes_a_server_side_dry_run(values, monitoring_crds, dry_run_namespace):
    manifest = render_text(values_files=values, namespace=dry_run_namespace)
    objects = [o for o in yaml.safe_load_all(manifest) if o]
    # A Pod's ServiceAccount must exist for admission; the chart's own ServiceAccount is created for real.
    accounts = [o for o in objects if o["kind"] == "ServiceAccount"]
    if accounts:
        kube.apply(accounts, dry_run_namespace)
    result = subprocess.run(
        [
            str(kube.LAYOUT.binary("kubectl")),
            f"--kubeconfig={kube.LAYOUT.kubeconfig}",
            "-n",
            dry_run_namespace,
            "apply",
            "--dry-run=server",
            "--server-side",
            "-f",
            "-",
        ],
        input=yaml.safe_dump_all(objects),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert len(result.stdout.strip().splitlines()) == len(objects), result.stdout
