# ray-aks: every check and every user command. `make help` lists the targets.
# Go tools are pinned in make/tools.mk, Python packages in workloads/requirements.lock; tools
# install into ./bin and .venv, never globally.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules
.DELETE_ON_ERROR:

ROOT  := $(CURDIR)
BIN   := $(ROOT)/bin
CACHE := $(ROOT)/.cache
VENV  := $(ROOT)/.venv

# python.mk and tools.mk first: they define the paths of the venv and the tools ($(VENV_STAMP),
# $(HELM), ...) that the other files name as prerequisites, and make expands a rule's
# prerequisites as it reads the rule (read earlier, they would be empty: nothing gets built).
CORE_MAKEFILES := make/python.mk make/tools.mk
include $(CORE_MAKEFILES) $(filter-out $(CORE_MAKEFILES),$(sort $(wildcard make/*.mk)))
# Each area lists its checks (CHART_CHECKS, ...); `make test` runs them in this order: the chart
# checks first (minutes, and they fail fast), the cluster scenarios after the image checks (their
# images are built by then, and their layers already in the shared registry), the Python checks
# last (pytest takes half an hour).
TEST_TARGETS := $(CHART_CHECKS) $(IMAGE_CHECKS) $(E2E_CHECKS) $(PYTHON_CHECKS)

.PHONY: help test
help: ## List every target with its description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

test: $(TEST_TARGETS) ## Run every check, offline once the tools and images are built (what .ci/run calls)
	@echo "make test: all checks passed ($(TEST_TARGETS))"
