"""Evaluate the infra/ module's settings offline, with the real OpenTofu and no azurerm provider.

infra/spec.tf holds what the resources, the chart's values and docs/deploy-to-aks.md share (names,
node pools, network profile, identity, chart values), computed from the variables and from two
locals that main.tf fills from Azure: `azure_context` (subscription, tenant) and `created` (what
Azure assigns at apply time). infra/variables.tf, spec.tf and outputs.tf refer to nothing else, so
OpenTofu evaluates them alone: this copies the three files into a temporary root module, adds
stand-ins for those two locals, and runs `tofu init`, `plan`, `show -json` and `apply` there. The
result is what `tofu output -json` prints after `make aks` (with the stand-ins where Azure decides),
and the module's variables as OpenTofu read them (description, type, default).

    from tools.infra.harness import evaluate
    result = evaluate({"node_pools": {"spot": {"enabled": True}}})
    result.outputs["chart_values"]["value"]       # tofu output -json's shape
    result.variables["node_pools"]["default"]     # tofu show -json's configuration

tofu is `tofu=` if given, else $TOFU (make exports the pinned one), else bin/tofu-*/tofu.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.command_error import CommandError

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
# The module's files that hold no resource, data source or provider.
PROVIDER_FREE_FILES = ("variables.tf", "spec.tf", "outputs.tf")

# Stand-ins for main.tf's answers from Azure. Values in ${...} are OpenTofu templates, evaluated in
# the module: the login server is the registry's name under azurecr.io, as Azure makes it.
EXAMPLE_AZURE_CONTEXT = {
    "subscription_id": "00000000-0000-0000-0000-000000000000",
    "tenant_id": "11111111-1111-1111-1111-111111111111",
}
EXAMPLE_CREATED = {
    "registry_login_server": "${lower(local.names.acr)}.azurecr.io",
    "workload_identity_client_id": "22222222-2222-2222-2222-222222222222",
    "oidc_issuer_url": "https://${var.location}.oic.prod-aks.azure.com/${local.azure_context.tenant_id}/"
    "33333333-3333-3333-3333-333333333333/",
}


class TofuError(CommandError):
    """OpenTofu refused the module (a failed validation or precondition names the variable)."""

    def __init__(self, command: list[str], returncode: int, output: str) -> None:
        super().__init__(f"tofu {command[1]}", command, returncode, output)

    @property
    def message(self) -> str:
        """OpenTofu's output on one line: its diagnostics wrap long messages inside a box (│)."""
        return " ".join(self.output.replace("│", " ").split())


@dataclass(frozen=True)
class Evaluation:
    """What OpenTofu made of the module: outputs as `tofu output -json` prints them, the variables
    and outputs of `tofu show -json`'s configuration, and the raw `tofu output -json` text."""

    outputs: dict[str, Any]
    variables: dict[str, Any]
    output_config: dict[str, Any]
    output_json: str

    def value(self, name: str) -> Any:
        return self.outputs[name]["value"]


def tofu_binary(tofu: str | os.PathLike[str] | None = None) -> str:
    """The tofu to run: the argument, else $TOFU, else the newest bin/tofu-*/tofu (`make infra-tools`)."""
    chosen = str(tofu) if tofu else os.environ.get("TOFU")
    if not chosen:
        built = sorted((REPO_ROOT / "bin").glob("tofu-*/tofu"))
        chosen = str(built[-1]) if built else ""
    if not chosen or shutil.which(chosen) is None:
        raise FileNotFoundError(
            f"tofu not found{f' at {chosen!r}' if chosen else ''}: run `make infra-tools` or set $TOFU"
        )
    return chosen


def _environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        # No user CLI configuration (provider mirrors, credentials, plugin caches) leaks in.
        TF_CLI_CONFIG_FILE=str(work / "no-cli-config.tfrc"),
        TF_DATA_DIR=str(work / ".terraform"),
    )
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    return env


def _run(command: list[str], work: Path) -> str:
    result = subprocess.run(
        command, cwd=work, env=_environment(work), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise TofuError(command, result.returncode, result.stdout + result.stderr)
    return result.stdout


def harness_config(
    azure_context: Mapping[str, str] = EXAMPLE_AZURE_CONTEXT,
    created: Mapping[str, str] = EXAMPLE_CREATED,
) -> dict[str, Any]:
    """The JSON-syntax configuration file that defines main.tf's two Azure locals with stand-ins."""
    return {"locals": {"azure_context": dict(azure_context), "created": dict(created)}}


def evaluate(
    variables: Mapping[str, Any] | None = None,
    *,
    tofu: str | os.PathLike[str] | None = None,
    infra_dir: Path = INFRA_DIR,
    azure_context: Mapping[str, str] = EXAMPLE_AZURE_CONTEXT,
    created: Mapping[str, str] = EXAMPLE_CREATED,
) -> Evaluation:
    """Plan and apply the provider-free files of `infra_dir` with `variables` (a tfvars mapping).

    Raises TofuError with OpenTofu's message when a validation or precondition fails.
    """
    binary = tofu_binary(tofu)
    with tempfile.TemporaryDirectory(prefix="ray-aks-infra-") as tmp:
        work = Path(tmp)
        (work / "no-cli-config.tfrc").write_text("")
        for name in PROVIDER_FREE_FILES:
            shutil.copy2(infra_dir / name, work / name)
        (work / "harness.tf.json").write_text(json.dumps(harness_config(azure_context, created), indent=2))
        (work / "terraform.tfvars.json").write_text(json.dumps(dict(variables or {}), indent=2))
        _run([binary, "init", "-input=false", "-no-color"], work)
        _run([binary, "plan", "-input=false", "-no-color", "-out=harness.tfplan"], work)
        shown = json.loads(_run([binary, "show", "-json", "-no-color", "harness.tfplan"], work))
        _run([binary, "apply", "-input=false", "-no-color", "harness.tfplan"], work)
        output_json = _run([binary, "output", "-json", "-no-color"], work)
    root = shown.get("configuration", {}).get("root_module", {})
    return Evaluation(
        outputs=json.loads(output_json),
        variables=root.get("variables", {}),
        output_config=root.get("outputs", {}),
        output_json=output_json,
    )
