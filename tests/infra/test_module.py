"""The module's inputs: each documented and validated, defaults stated once in effect, bad values
refused by name; the checkov skips file; the make targets around it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT
from tests.support.make import commands, make
from tools.infra.checkov_check import load_skips
from tools.infra.harness import INFRA_DIR, Evaluation, TofuError, evaluate

VARIABLE_BLOCK = re.compile(r'^variable "([^"]+)" \{\n(.*?)^\}', re.MULTILINE | re.DOTALL)


def variable_blocks() -> dict[str, str]:
    return dict(VARIABLE_BLOCK.findall((INFRA_DIR / "variables.tf").read_text()))


def test_every_variable_has_a_description_and_a_type(module_defaults: Evaluation) -> None:
    assert set(module_defaults.variables) == set(variable_blocks())
    for name, variable in module_defaults.variables.items():
        assert len(variable.get("description", "").split()) >= 5, f"{name}: describe it"
        assert "type" in variable, f"{name}: give it a type"


def test_every_variable_that_can_be_wrong_is_validated() -> None:
    """Booleans and free-form tags cannot hold a wrong value; every other input has a validation."""
    for name, body in variable_blocks().items():
        kind = re.search(r"^  type\s+=\s+(\S+)", body, re.MULTILINE).group(1)
        if kind in ("bool", "map(string)"):
            continue
        assert "validation {" in body, f"variable {name} has no validation"


def test_object_defaults_equal_their_optional_defaults(module_defaults: Evaluation) -> None:
    """An object variable's `default` (what checkov reads) is what optional() gives an empty object."""
    objects = [
        n for n, v in module_defaults.variables.items() if isinstance(v.get("default"), dict) and n != "tags"
    ]
    assert objects, "no object variable found"
    empty = evaluate({name: {} for name in objects})
    assert empty.outputs == module_defaults.outputs, (
        f"default and optional() defaults differ in one of {objects}"
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"node_pools": {"gpu": {"vm_size": "Standard_D8ds_v5"}}},
            "node_pools.gpu.vm_size must be an NVIDIA GPU size",
        ),
        (
            {"node_pools": {"gpu": {"vm_size": "Standard_NV16as_v4"}}},
            "node_pools.gpu.vm_size must be an NVIDIA",
        ),
        (
            {"node_pools": {"gpu": {"gpu_driver": "install"}}},
            "node_pools.gpu.gpu_driver must be Install or None",
        ),
        ({"name": "Ray_AKS"}, "name must be 3-32 characters"),
        (
            {"node_pools": {"system": {"min_count": 0}}},
            "node_pools.system and node_pools.cpu need 1 <= min_count",
        ),
        (
            {"node_pools": {"cpu": {"min_count": 2, "max_count": 1}}},
            "node_pools.system and node_pools.cpu need",
        ),
        ({"node_pools": {"spot": {"max_count": 101}}}, "every pool's max_count must be 1-100"),
        ({"node_pools": {"spot": {"spot_max_price": 0}}}, "node_pools.spot.spot_max_price must be -1"),
        (
            {"node_pools": {"cpu": {"os_disk_type": "Premium"}}},
            "node_pools: each pool's os_disk_type must be",
        ),
        ({"namespace": "Ray"}, "namespace must be a DNS label"),
        (
            {"api_server_authorized_ip_ranges": ["203.0.113.7"]},
            "api_server_authorized_ip_ranges must hold CIDRs",
        ),
        ({"max_pods": 30}, "max_pods must be a whole number from 50 to 250"),
    ],
)
def test_a_wrong_value_is_refused_by_name(variables: dict, message: str) -> None:
    with pytest.raises(TofuError) as refused:
        evaluate(variables)
    assert message in refused.value.message


def test_the_derived_names_fit_azure(module_defaults: Evaluation) -> None:
    acr = module_defaults.value("acr_name")
    storage = module_defaults.value("shared_storage")["account_name"]
    assert re.fullmatch(r"[a-zA-Z0-9]{5,50}", acr)
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage)
    long_name = evaluate({"name": "a-very-long-cluster-name-for-ray"})  # 32: the longest name allowed
    assert re.fullmatch(r"[a-z0-9]{3,24}", long_name.value("shared_storage")["account_name"])


def test_the_checkov_skips_file_lists_each_check_once_with_a_reason() -> None:
    skips = load_skips(INFRA_DIR / "checkov-skips.yaml")
    assert skips
    assert all(s.resources and s.reason for s in skips)


def test_make_install_adds_the_aks_values_file_only_when_it_exists(tmp_path) -> None:
    values = tmp_path / "aks-values.yaml"
    missing = make("-n", "install", "ACR_NAME=x", "IMAGE_TAG=t1", f"AKS_VALUES={values}", "VALUES=gpu").stdout
    values.write_text("global: {}\n")
    present = make("-n", "install", "ACR_NAME=x", "IMAGE_TAG=t1", f"AKS_VALUES={values}", "VALUES=gpu").stdout

    def value_files(out: str) -> list[str]:
        (line,) = [c for c in commands(out) if " upgrade --install " in c]
        words = line.split()
        return [words[i + 1] for i, w in enumerate(words) if w == "-f"]

    assert value_files(missing) == ["charts/ray-aks-gpu-values.yaml"]
    # Before the GPU overlay and the --set flags, which override it.
    assert value_files(present) == [str(values), "charts/ray-aks-gpu-values.yaml"]


def test_make_aks_plan_plans_to_a_file_and_aks_applies_that_file() -> None:
    plan = commands(make("-n", "aks-plan", "TOFU=/opt/tofu").stdout)
    assert any(c.endswith("/opt/tofu -chdir=infra plan -input=false -out=aks.tfplan") for c in plan)
    apply = commands(make("-n", "aks", "TOFU=/opt/tofu").stdout)
    assert any(c.endswith("/opt/tofu -chdir=infra apply -input=false aks.tfplan") for c in apply)
    assert any(c.startswith("az aks get-credentials --resource-group") for c in apply)


def test_the_gitignore_keeps_state_and_plans_out() -> None:
    ignored = (REPO_ROOT / ".gitignore").read_text().split()
    for path in (
        "/infra/.terraform/",
        "/infra/*.tfplan",
        "/infra/terraform.tfstate",
        "/infra/aks-values.yaml",
    ):
        assert path in ignored
