"""The federated credential names the ServiceAccount the chart renders where `make install` installs.

The release and namespace are the ones `make install` passes to helm (its own `make -n` output);
the ServiceAccount is the chart's real render with them, with and without the values file.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.pod_specs import pod_specs
from tests.support.make import commands, make
from tools.infra.harness import Evaluation
from tools.render_chart import render


@pytest.fixture(scope="module")
def install_target() -> tuple[str, str]:
    """(release, namespace) of `make install`'s helm command, with its defaults."""
    out = make("-n", "install", "ACR_NAME=x", "IMAGE_TAG=t1").stdout
    (line,) = [c for c in commands(out) if " upgrade --install " in c]
    words = line.split()
    release = words[words.index("--install") + 1]
    namespace = words[words.index("--namespace") + 1]
    return release, namespace


def service_accounts(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == "ServiceAccount"]


def pod_service_accounts(objects: list[dict[str, Any]]) -> set[str]:
    """The ServiceAccount of every pod spec in the render (Ray heads and workers, MLflow, ...)."""
    return {p.spec.get("serviceAccountName", "default") for p in pod_specs(objects)}


def test_the_subject_is_the_charts_default_service_account_for_make_install(
    module_defaults: Evaluation, install_target: tuple[str, str]
) -> None:
    release, namespace = install_target
    objects = render(release=release, namespace=namespace)
    (account,) = service_accounts(objects)
    expected = f"system:serviceaccount:{namespace}:{account['metadata']['name']}"
    assert module_defaults.value("workload_identity")["subject"] == expected


def test_the_values_file_pins_that_service_account_and_annotates_it(
    module_defaults: Evaluation, install_target: tuple[str, str], tmp_path
) -> None:
    """With the values file, another release name keeps the name the credential federates."""
    from tools.infra.aks_values import values_file_text

    values_file = tmp_path / "aks-values.yaml"
    values_file.write_text(values_file_text(module_defaults.outputs))
    _, namespace = install_target
    subject = module_defaults.value("workload_identity")["subject"]
    for release in (install_target[0], "another-release"):
        objects = render([values_file], release=release, namespace=namespace)
        (account,) = service_accounts(objects)
        assert subject == f"system:serviceaccount:{namespace}:{account['metadata']['name']}"
        annotations = account["metadata"].get("annotations") or {}
        client_id = module_defaults.value("workload_identity")["client_id"]
        assert annotations.get("azure.workload.identity/client-id") == client_id
        # Every pod runs as it: the Ray head and workers, MLflow.
        assert pod_service_accounts(objects) == {account["metadata"]["name"]}


def test_the_module_defaults_are_make_installs_namespace(
    module_defaults: Evaluation, install_target: tuple[str, str]
) -> None:
    _, namespace = install_target
    assert module_defaults.variables["namespace"]["default"] == namespace
