"""The e2e scenarios' object names resolve without a cluster (run by test-python): every lookup the
scenarios call (`Release.lookup`, tests/e2e/rendered.py) is called here, the same object they call,
and must name exactly one object of the kind it stands for in the render of its release. A chart
change that renames or drops an object the scenarios wait for fails here, not 30 minutes into
`make e2e`."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from tests.e2e import conftest, rendered, volumes

E2E_DIR = Path(__file__).parent
# Importing every scenario makes its lookups (collection imports them too; this makes the list whole
# when a single file is run).
for _module in sorted(E2E_DIR.glob("*.py")):
    importlib.import_module(f"tests.e2e.{_module.stem}")

# The kind of object each of Release's names stands for; the Serve Service is KubeRay's, named after
# the RayService.
KIND = {
    "raycluster": "RayCluster",
    "rayjob": "RayJob",
    "rayservice": "RayService",
    "serve_service": "RayService",
    "mlflow_service": "Service",
    "mlflow_claim": "PersistentVolumeClaim",
    "token_secret": "Secret",
}
KUBERAY_SUFFIXES = ("", "-serve-svc")  # as the render names it, or KubeRay's Serve Service of it


def test_every_name_has_its_kind_listed():
    assert sorted(KIND) == sorted(rendered.Release.NAMES)


def test_the_scenarios_have_lookups():
    assert len(rendered.LOOKUPS) >= 10, [str(lookup) for lookup in rendered.LOOKUPS]


@pytest.mark.parametrize("lookup", rendered.LOOKUPS, ids=str)
def test_each_scenarios_name_is_one_rendered_object_of_its_kind(lookup, monkeypatch):
    found: list[tuple[str, str]] = []
    find = rendered.Release.find

    def recording_find(self, kind, labels=None):
        obj = find(self, kind, labels)
        found.append((kind, obj["metadata"]["name"]))
        return obj

    monkeypatch.setattr(rendered.Release, "find", recording_find)
    name = lookup()
    origins = [(kind, obj) for kind, obj in found for suffix in KUBERAY_SUFFIXES if name == obj + suffix]
    assert origins, f"{lookup} returned {name!r}, not a name it found in the render ({found})"
    assert {kind for kind, _ in origins} == {KIND[lookup.method]}, (str(lookup), name, origins)


def test_a_lookup_that_finds_nothing_says_what_it_looked_for():
    """The main release's values have no RayService (the upgrade switches it on)."""
    with pytest.raises(
        LookupError, match=r"expected one RayService in the render of release 'ray'.* found 0"
    ):
        conftest.MAIN.rayservice()
    with pytest.raises(
        LookupError, match=r"expected one RayJob labelled \{'ray-aks/job': 'nope'\}.* found 0"
    ):
        conftest.MAIN.rayjob("nope")


def test_a_lookup_that_finds_several_says_what_it_looked_for():
    with pytest.raises(
        LookupError, match=r"expected one NetworkPolicy in the render .* found ([2-9]|\d\d+) \["
    ):
        conftest.MAIN.find("NetworkPolicy")


def test_the_upgrade_to_the_rayservice_keeps_mlflows_names():
    """mlflow_service and mlflow_claim name what the install made; the upgrade must keep them."""
    assert conftest.SERVING.mlflow_service() == conftest.MAIN.mlflow_service()
    assert conftest.SERVING.mlflow_claim() == conftest.MAIN.mlflow_claim()


def test_the_shared_claim_is_the_one_the_e2e_values_name():
    e2e_values = yaml.safe_load((E2E_DIR / "values-e2e.yaml").read_text())
    assert e2e_values["rayCluster"]["sharedStorage"]["existingClaim"] == volumes.SHARED_CLAIM


def test_no_scenario_rebuilds_a_chart_name_from_its_release():
    """`f"{RELEASE}-ray-aks..."` repeats the chart's naming; a lookup reads the render instead."""
    rebuilt = re.compile(r"\}-ray-aks|RELEASE\}")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(E2E_DIR.glob("*.py"))
        if path != Path(__file__)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if rebuilt.search(line)
    ]
    assert not found, found
