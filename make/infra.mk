# The AKS cluster as code (infra/, OpenTofu or Terraform with azurerm 4.x): `make aks` creates the
# cluster, registry, identity and storage the chart expects and writes the values file `make install`
# uses; the checks in INFRA_CHECKS run offline in `make test`.
#
#   make aks-plan                    # tofu plan into infra/aks.tfplan, for review (az login first)
#   make aks                         # apply it, az aks get-credentials, write infra/aks-values.yaml
#   make aks-destroy                 # tofu destroy (asks first), remove the values file
#   make aks-validate                # tofu init -backend=false && tofu validate (downloads azurerm)
#   AKS_FLAGS="-var-file=my.tfvars"  # more tofu flags for plan and destroy (infra/terraform.tfvars is read by itself)
#
# What needs what: aks-plan, aks and aks-destroy need the Azure CLI logged in and the azurerm provider
# from OpenTofu's provider registry (or a mirror in your tofu CLI configuration); aks-validate needs
# the registry only. The checks below need neither: the provider cannot be downloaded here, so
# `tofu validate` and `tofu plan` are not part of `make test`.
## @category AKS (infra/)

# --- tools: OpenTofu and tflint from the Go module proxy, checkov from PyPI --------------------
TOFU_VERSION   := v1.12.6
TFLINT_VERSION := v0.64.0
# OpenTofu's go.mod replaces hashicorp/hcl with its fork: a wrapper module carries the replace.
# version.dev=no: release builds report 1.12.6, not 1.12.6-dev (OpenTofu's own release flag).
$(call go_tool, TOFU,   tofu-$(TOFU_VERSION)/tofu, tools/go/opentofu:github.com/opentofu/opentofu@$(TOFU_VERSION), tofu,   -X github.com/opentofu/opentofu/version.dev=no)
$(call go_tool, TFLINT, tflint-$(TFLINT_VERSION),  github.com/terraform-linters/tflint@$(TFLINT_VERSION),            tflint,)
# tests/infra and the README generator run this tofu (tools/infra/harness.py).
export TOFU

# checkov and every dependency pinned in the requirements file (make checkov-lock), in a venv of its
# own under ./bin: its pins clash with workloads/requirements.lock, which the images share. A venv
# is not relocatable, so it is built in place and the stamp written last.
CHECKOV_REQUIREMENTS := tools/infra/checkov-requirements.txt
CHECKOV_VERSION      := $(shell sed -n 's/^checkov==//p' $(CHECKOV_REQUIREMENTS))
CHECKOV_DIR          := $(BIN)/checkov-$(CHECKOV_VERSION)
CHECKOV_STAMP        := $(CHECKOV_DIR)/.installed
CHECKOV              := $(CHECKOV_DIR)/bin/checkov

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS) | $(VENV_STAMP)
	@rm -rf $(CHECKOV_DIR)
	$(PYTHON) -m venv --without-pip $(CHECKOV_DIR)
	$(UV) pip install --quiet --python $(CHECKOV_DIR)/bin/python --requirement $(CHECKOV_REQUIREMENTS)
	@$(CHECKOV) --version | grep -qx '$(CHECKOV_VERSION)' || { echo "$(CHECKOV) is not checkov $(CHECKOV_VERSION)" >&2; exit 1; }
	@touch $@

INFRA_DIR := infra

.PHONY: infra-tools checkov-lock
# A step of its own in `make test`, so that the timing table shows what a cold cache costs.
infra-tools: $(TOFU) $(TFLINT) $(CHECKOV_STAMP) ## Build OpenTofu and tflint (Go module proxy) and install checkov (PyPI) into ./bin
	@:

# Needs PyPI: not in GENERATED, no offline check can regenerate it (make/generated.mk).
checkov-lock: $(VENV_STAMP) ## Regenerate tools/infra/checkov-requirements.txt from checkov-requirements.in (needs PyPI)
	$(UV) pip compile tools/infra/checkov-requirements.in --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --no-header --quiet --output-file $(CHECKOV_REQUIREMENTS)

# --- checks: one target per check, all offline --------------------------------------------------
.PHONY: infra-fmt infra-lint infra-checkov infra-docs test-infra

infra-fmt: | $(TOFU) ## tofu fmt -check -recursive infra/ (offline)
	$(TOFU) fmt -check -diff -recursive $(INFRA_DIR)
	@echo "infra-fmt: $(INFRA_DIR)/ is formatted"

# The bundled Terraform rules only (infra/.tflint.hcl): the azurerm ruleset is a plugin to download.
infra-lint: | $(TFLINT) ## tflint with its bundled Terraform rules, preset all (infra/.tflint.hcl; offline, no plugin)
	$(TFLINT) --chdir=$(INFRA_DIR) --format=compact
	@echo "infra-lint: tflint found nothing"

infra-checkov: $(CHECKOV_STAMP) | $(VENV_STAMP) ## checkov (framework terraform) on infra/: 0 failed checks; those failing on purpose are listed with reasons in infra/checkov-skips.yaml
	$(PY) -m tools.infra.checkov_check --checkov $(CHECKOV) --skips $(INFRA_DIR)/checkov-skips.yaml $(INFRA_DIR)

# make/generated.mk derives infra-docs-check from this entry.
GENERATED += infra-docs:$(INFRA_DIR)/README.md
infra-docs: $(VENV_STAMP) | $(TOFU) ## Regenerate the inputs and outputs tables of infra/README.md from the .tf files (tofu, offline)
	$(PY) -m tools.infra.readme write --tofu $(TOFU)

# tests/infra is part of test-python (in `make test`: test-fast and test-slow); this runs it alone.
test-infra: $(VENV_STAMP) | $(TOFU) $(HELM) ## pytest tests/infra: the module against the GPU overlay, the chart's ServiceAccount, its values schema and docs/deploy-to-aks.md
	$(PY) -m pytest tests/infra

# `make test` runs these right after the chart checks (the Makefile orders every area's checks).
INFRA_CHECKS := infra-tools infra-fmt infra-lint infra-checkov infra-docs-check

# --- the cluster on Azure -----------------------------------------------------------------------
AZ          ?= az
AKS_PLAN    := $(INFRA_DIR)/aks.tfplan
# make install (make/images.mk) adds this file to helm's values while it exists.
AKS_VALUES  ?= $(INFRA_DIR)/aks-values.yaml
AKS_FLAGS   ?=
# azurerm 4 needs a subscription: the az CLI's current one, unless ARM_SUBSCRIPTION_ID is set.
aks_tofu = ARM_SUBSCRIPTION_ID="$${ARM_SUBSCRIPTION_ID:-$$($(AZ) account show --query id --output tsv)}" $(TOFU) -chdir=$(INFRA_DIR)
aks_output = $$($(TOFU) -chdir=$(INFRA_DIR) output -raw $(1))

define require_azure
	@command -v $(AZ) >/dev/null || { echo "$@: the Azure CLI ($(AZ)) is not installed (https://learn.microsoft.com/cli/azure/install-azure-cli)" >&2; exit 1; }
	@$(AZ) account show --output none 2>/dev/null || { echo "$@: the Azure CLI is not logged in: run 'az login' (and 'az account set --subscription <id>')" >&2; exit 1; }
endef

.PHONY: aks-plan aks aks-destroy aks-validate
aks-plan: | $(TOFU) ## Plan the AKS cluster, ACR, identity and storage (infra/) into infra/aks.tfplan for review (needs az login and OpenTofu's provider registry)
	$(require_azure)
	$(aks_tofu) init -input=false
	$(aks_tofu) plan -input=false -out=$(notdir $(AKS_PLAN)) $(AKS_FLAGS)
	@echo "aks-plan: wrote $(AKS_PLAN); 'make aks' applies it"

# The plan is made again when there is none, or when a .tf or .tfvars file is newer than it.
aks: | $(TOFU) $(VENV_STAMP) ## Create the cluster (15-25 min): apply infra/aks.tfplan (planned first if absent or stale), az aks get-credentials, write infra/aks-values.yaml for make install
	$(require_azure)
	@if [ ! -f $(AKS_PLAN) ] || [ -n "$$(find $(INFRA_DIR) -maxdepth 1 -newer $(AKS_PLAN) \( -name '*.tf' -o -name '*.tfvars' -o -name '*.tfvars.json' \))" ]; then \
	  $(MAKE) --no-print-directory aks-plan; fi
	$(aks_tofu) apply -input=false $(notdir $(AKS_PLAN))
	@rm -f $(AKS_PLAN)
	$(TOFU) -chdir=$(INFRA_DIR) output -json | $(PY) -m tools.infra.aks_values - --output $(AKS_VALUES)
	$(AZ) aks get-credentials --resource-group $(call aks_output,resource_group_name) --name $(call aks_output,cluster_name) --overwrite-existing
	@if command -v kubelogin >/dev/null; then kubelogin convert-kubeconfig --login azurecli; \
	  else echo "aks: kubectl signs in to this cluster with kubelogin: install it with 'az aks install-cli'" >&2; fi
	@echo "aks: done. Next: make push ACR_NAME=$(call aks_output,acr_name) && make deps && make install ACR_NAME=$(call aks_output,acr_name) (uses $(AKS_VALUES))"

aks-destroy: | $(TOFU) ## Delete everything make aks created (tofu destroy asks first; AKS_FLAGS=-auto-approve does not), then infra/aks-values.yaml
	$(require_azure)
	$(aks_tofu) init -input=false
	$(aks_tofu) destroy $(AKS_FLAGS)
	rm -f $(AKS_VALUES) $(AKS_PLAN)

aks-validate: | $(TOFU) ## tofu init -backend=false && tofu validate on infra/ (needs OpenTofu's provider registry for azurerm; make test's checks do not)
	@mkdir -p $(CACHE)
	@$(TOFU) -chdir=$(INFRA_DIR) init -backend=false -input=false -no-color > $(CACHE)/aks-validate-init.log 2>&1 || { \
	  cat $(CACHE)/aks-validate-init.log >&2; \
	  echo "aks-validate: tofu init could not install the azurerm provider (above): it comes from OpenTofu's provider registry (or a provider mirror in your tofu CLI configuration), which this machine cannot reach. make test's offline checks do not need it: $(INFRA_CHECKS) and tests/infra." >&2; \
	  exit 1; }
	$(TOFU) -chdir=$(INFRA_DIR) validate
