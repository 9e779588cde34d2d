"""docs/deploy-to-aks.md's `az` commands build the cluster the module builds.

The page's shell blocks are read as a shell would split them (backslash continuations, quotes,
comments), its `NAME=value` line gives the names, and each `az` command's flags are compared with
the module's settings as tofu evaluates them: node pools (size, disk, autoscaler range, taints,
labels, priority, GPU driver), the network profile, sign-in and identity, the federated credential,
the storage account, the registry, and the values file the page writes by hand.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tools.infra.harness import Evaluation

PAGE = REPO_ROOT / "docs" / "deploy-to-aks.md"
FENCED_SH = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
HEREDOC = re.compile(r"^cat > (\S+) <<EOF\n(.*?)^EOF$", re.MULTILINE | re.DOTALL)
# Labels and taints AKS puts on nodes itself (its documentation): NVIDIA sizes get the accelerator
# label, Spot pools the scalesetpriority taint and label.
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
SPOT_LABEL = ("kubernetes.azure.com/scalesetpriority", "spot")
# az aks create's flags that set the module's network profile, by the profile's key.
NETWORK_FLAGS = {
    "--network-plugin": "network_plugin",
    "--network-plugin-mode": "network_plugin_mode",
    "--network-dataplane": "network_data_plane",
    "--network-policy": "network_policy",
    "--pod-cidr": "pod_cidr",
    "--service-cidr": "service_cidr",
    "--dns-service-ip": "dns_service_ip",
}
# az aks create's switches that turn on the module's cluster features, by the feature's key.
FEATURE_SWITCHES = {
    "--enable-oidc-issuer": "oidc_issuer_enabled",
    "--enable-workload-identity": "workload_identity_enabled",
    "--enable-aad": "azure_rbac_enabled",
    "--enable-azure-rbac": "azure_rbac_enabled",
    "--disable-local-accounts": "local_account_disabled",
    "--enable-blob-driver": "blob_driver_enabled",
}


class Command:
    """One `az` command: its group words (`aks nodepool add`) and its flags."""

    def __init__(self, words: list[str]) -> None:
        first_flag = next((i for i, w in enumerate(words) if w.startswith("--")), len(words))
        self.group = " ".join(words[1:first_flag])
        self.flags: dict[str, list[str]] = {}
        flag = None
        for word in words[first_flag:]:
            if word.startswith("--"):
                flag = word
                self.flags.setdefault(flag, [])
            elif flag is not None:
                self.flags[flag].append(word)

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def value(self, flag: str) -> str:
        values = self.flags.get(flag)
        assert values and len(values) == 1, f"az {self.group}: {flag} takes one value, got {values}"
        return values[0]

    def values(self, flag: str) -> list[str]:
        return self.flags.get(flag, [])


def shell_blocks() -> list[str]:
    text = PAGE.read_text()
    assert "## 2. Or the same cluster with `az` commands" in text
    return FENCED_SH.findall(
        text.split("## 2. Or the same cluster with `az` commands", 1)[1].split("\n## 3.")[0]
    )


def page_names() -> dict[str, str]:
    """The NAME=value assignments the page starts its az path with."""
    for block in shell_blocks():
        words = shlex.split(block, comments=True)  # the block's lines: NAME=value words only
        if words and all(re.fullmatch(r"[A-Z_]+=\S+", w) for w in words):
            return dict(w.split("=", 1) for w in words)
    raise AssertionError("docs/deploy-to-aks.md sets no names (RG=... CLUSTER=...) before its az commands")


def substitute(word: str, names: dict[str, str]) -> str:
    return re.sub(r"\$([A-Z_]+)", lambda m: names.get(m.group(1), m.group(0)), word)


def az_commands() -> list[Command]:
    names = page_names()
    found = []
    for block in shell_blocks():
        block = HEREDOC.sub("", block).replace("\\\n", " ")
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "az":
                found.append(Command([substitute(w, names) for w in words]))
    return found


def spec(module: Evaluation) -> dict[str, Any]:
    """The module's cluster_spec output: node_pools, network_profile, cluster_features."""
    return module.value("cluster_spec")


def commands_of(group: str) -> list[Command]:
    return [c for c in az_commands() if c.group == group]


@pytest.fixture(scope="module")
def cluster() -> Command:
    (create,) = commands_of("aks create")
    return create


@pytest.fixture(scope="module")
def pools(cluster: Command) -> dict[str, Command]:
    """Node pool name -> the command that makes it (the system pool: az aks create)."""
    made = {cluster.value("--nodepool-name"): cluster}
    for add in commands_of("aks nodepool add"):
        made[add.value("--name")] = add
    return made


def effective_taints(command: Command, system: bool) -> set[str]:
    taints = set(command.values("--nodepool-taints" if system else "--node-taints"))
    if command.has("--priority") and command.value("--priority") == "Spot":
        taints.add(SPOT_TAINT)
    return taints


def effective_labels(command: Command, system: bool) -> dict[str, str]:
    words = command.values("--nodepool-labels" if system else "--labels")
    labels = dict(w.split("=", 1) for w in words)
    if command.value("--node-vm-size").startswith("Standard_N"):
        labels["kubernetes.azure.com/accelerator"] = "nvidia"
    if command.has("--priority") and command.value("--priority") == "Spot":
        labels.setdefault(*SPOT_LABEL)
    return labels


def test_the_page_makes_every_pool_of_the_module(
    module_with_options: Evaluation, pools: dict[str, Command]
) -> None:
    module_pools = {p["name"] for p in spec(module_with_options)["node_pools"].values() if p["enabled"]}
    assert set(pools) == module_pools


@pytest.mark.parametrize("key", ["system", "cpu", "gpu", "spot"])
def test_each_pool_is_the_modules_pool(
    module_with_options: Evaluation, pools: dict[str, Command], key: str
) -> None:
    pool = spec(module_with_options)["node_pools"][key]
    command = pools[pool["name"]]
    system = pool["mode"] == "System"
    if not system:
        assert command.value("--mode") == pool["mode"]
    assert command.value("--node-vm-size") == pool["vm_size"]
    assert command.value("--node-osdisk-type") == pool["os_disk_type"]
    assert command.value("--max-pods") == str(module_with_options.variables["max_pods"]["default"])
    assert command.has("--enable-cluster-autoscaler")
    assert command.value("--min-count") == str(pool["min_count"])
    assert command.value("--max-count") == str(pool["max_count"])
    assert command.value("--node-count") == str(pool["min_count"])
    assert effective_taints(command, system) == set(pool["node_taints"]) | set(pool["aks_node_taints"])
    assert effective_labels(command, system) == {**pool["aks_node_labels"], **pool["node_labels"]}
    if pool["gpu_driver"] is not None:
        assert command.value("--gpu-driver") == pool["gpu_driver"]
    else:
        assert not command.has("--gpu-driver")
    if pool["priority"] == "Spot":
        assert command.value("--priority") == "Spot"
        assert command.value("--eviction-policy") == pool["eviction_policy"]
        assert float(command.value("--spot-max-price")) == pool["spot_max_price"]
    else:
        assert not command.has("--priority")


def test_the_network_is_the_modules(module_defaults: Evaluation, cluster: Command) -> None:
    network = spec(module_defaults)["network_profile"]
    assert {flag: cluster.value(flag) for flag in NETWORK_FLAGS} == {
        flag: network[key] for flag, key in NETWORK_FLAGS.items()
    }
    assert network["network_policy"] == "cilium"


def test_sign_in_identity_and_upgrades_are_the_modules(module_defaults: Evaluation, cluster: Command) -> None:
    features = spec(module_defaults)["cluster_features"]
    assert {flag: cluster.has(flag) for flag in FEATURE_SWITCHES} == {
        flag: features[key] for flag, key in FEATURE_SWITCHES.items()
    }
    defaults = {name: v.get("default") for name, v in module_defaults.variables.items()}
    assert cluster.value("--auto-upgrade-channel") == defaults["automatic_upgrade_channel"]
    assert cluster.value("--node-os-upgrade-channel") == defaults["node_os_upgrade_channel"]
    assert cluster.value("--tier") == defaults["sku_tier"].lower()
    (admin,) = [c for c in commands_of("role assignment create") if "Cluster Admin" in c.value("--role")]
    assert admin.value("--role") == "Azure Kubernetes Service RBAC Cluster Admin"


def test_the_names_are_the_modules(module_defaults: Evaluation, cluster: Command) -> None:
    names = page_names()
    assert names["RG"] == module_defaults.value("resource_group_name")
    assert names["CLUSTER"] == module_defaults.value("cluster_name")
    assert names["LOCATION"] == module_defaults.variables["location"]["default"]
    assert names["CONTAINER"] == module_defaults.value("shared_storage")["container_name"]
    assert names["NAMESPACE"] == module_defaults.variables["namespace"]["default"]
    assert names["SERVICE_ACCOUNT"] == module_defaults.variables["service_account_name"]["default"]
    assert cluster.value("--resource-group") == names["RG"] and cluster.value("--name") == names["CLUSTER"]


def test_the_federated_credential_is_the_modules(module_defaults: Evaluation) -> None:
    (credential,) = commands_of("identity federated-credential create")
    assert credential.value("--subject") == module_defaults.value("workload_identity")["subject"]
    assert credential.value("--audiences") == "api://AzureADTokenExchange"


def test_the_registry_and_storage_are_the_modules(module_defaults: Evaluation, cluster: Command) -> None:
    defaults = {name: v.get("default") for name, v in module_defaults.variables.items()}
    (registry,) = commands_of("acr create")
    assert registry.value("--sku") == defaults["acr_sku"]
    assert registry.value("--admin-enabled") == "false"
    assert cluster.value("--attach-acr") == registry.value("--name")
    (account,) = commands_of("storage account create")
    assert account.value("--sku") == f"Standard_{defaults['storage_replication_type']}"
    assert account.value("--kind") == "StorageV2"
    assert account.value("--min-tls-version") == "TLS1_2"
    assert account.value("--allow-blob-public-access") == "false"
    (container,) = commands_of("storage container-rm create")
    assert container.value("--name") == module_defaults.value("shared_storage")["container_name"]
    roles = {c.value("--role") for c in commands_of("role assignment create")}
    assert {"Storage Blob Data Contributor", "Storage Account Contributor"} <= roles


def test_the_hand_written_values_file_is_the_modules(module_defaults: Evaluation) -> None:
    """Same keys and settings; names and ids are the user's (page) or Azure's (module)."""
    names = page_names()
    (written,) = [
        yaml.safe_load(substitute(body, names))
        for block in shell_blocks()
        for target, body in HEREDOC.findall(block)
        if target == "infra/aks-values.yaml"
    ]
    expected = module_defaults.value("chart_values")
    chosen = {
        ("global", "imageRegistry"): f"{names['ACR_NAME']}.azurecr.io",
        ("workloadIdentity", "clientId"): None,  # $(az identity show ...): Azure assigns it
        ("sharedStorage", "create", "storageClass", "storageAccount"): names["STORAGE"],
        ("sharedStorage", "create", "storageClass", "resourceGroup"): names["RG"],
    }

    def leaves(tree: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
        if isinstance(tree, dict):
            return {k: v for key, value in tree.items() for k, v in leaves(value, (*path, key)).items()}
        return {path: tree}

    page, module = leaves(written), leaves(expected)
    assert set(page) == set(module)
    for path, value in module.items():
        if path in chosen:
            assert chosen[path] is None or page[path] == chosen[path], path
        else:
            assert page[path] == value, path
