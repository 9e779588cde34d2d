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
# generated.mk last: it derives a check from each generated file that the others declare, as
# GENERATOR:FILE entries of GENERATED.
GENERATED :=
CORE_MAKEFILES := make/python.mk make/tools.mk
LAST_MAKEFILES := make/generated.mk
include $(CORE_MAKEFILES) $(filter-out $(CORE_MAKEFILES) $(LAST_MAKEFILES),$(sort $(wildcard make/*.mk))) $(LAST_MAKEFILES)
# Each area lists its checks (CHART_CHECKS, ...); `make test` runs them in this order: the chart
# tools and checks first (minutes, and they fail fast), the cluster scenarios after the image checks
# (their images are built by then, and their layers already in the shared registry), the Python
# checks last. The tool builds are steps of their own, so that the table shows what a cold cache costs.
# `e2e-tools&e2e`: the e2e cluster's Go builds (CPU) run beside test-containers (image builds and
# pushes: mostly the network and the disk), and must have passed before e2e starts.
# `test-fast&test-slow`: pytest's fast tests (about 2 min of one core) run beside the first
# scenarios, which mostly wait on pods and Ray starting (make e2e left about 40% of the 2 cores idle
# on average, sampled every 10 s on 7 Dec); the load scenarios begin after test-fast ended. The
# whole of pytest beside e2e gained nothing (6 Dec: both CPU-bound). test-slow, the rest, runs last.
TEST_TARGETS := tools $(CHART_CHECKS) $(INFRA_CHECKS) $(DOCS_CHECKS) $(filter-out test-containers,$(IMAGE_CHECKS)) \
  e2e-tools&e2e test-containers test-fast&test-slow $(filter-out e2e-tools,$(E2E_CHECKS)) $(PYTHON_CHECKS)
# Each step's time on a fresh machine and with warm caches, as recorded by `make test-times-record`.
TEST_TIMES_RECORD := benchmarks/results/test-times.json
# The edit loop: the static checks, helm-unittest and the pytest tests not marked slow.
CHECK_TARGETS := lint-python lint-chart test-chart-unit schema-check docs-check test-fast

# The areas of `make help`, in this order (each makefile names its own with a `## @category` line).
HELP_AREAS := Start here|Demo|Chart|Images and registries|AKS (infra/)|Test cluster (e2e)|Python|Reliability|Documentation|Benchmarks|Toolchain

## @category Start here
.PHONY: help test check test-times-record
help: ## List every target with its description
	@awk -v areas="$(HELP_AREAS)" -v color=$$([ -t 1 ] && echo 1 || echo 0) -f tools/make_help.awk \
	  $(foreach makefile,$(MAKEFILE_LIST),<(sed -e '' $(help_generated_checks) $(makefile)))

# One step at a time, each timed (tools/test_times.py): at the end, also after a failure, each step's
# time beside the recorded ones, the steps that grew by more than half, the estimate for a fresh
# machine and the slowest tests; .cache/test-times.json keeps them.
test: ## Run every check, offline once the tools and images are built (what .ci/run calls), then the timing table
	@$(PYTHON) tools/test_times.py run --output $(CACHE)/test-times.json --recorded $(TEST_TIMES_RECORD) $(foreach t,$(TEST_TARGETS),'$(t)')
	@echo "make test: all checks passed ($(foreach step,$(TEST_TARGETS),$(firstword $(subst &, ,$(step)))))"

test-times-record: ## Keep the last `make test`'s times as the recorded KIND=cold (fresh machine) or KIND=warm table, and README's
	$(PYTHON) tools/test_times.py record --kind $(KIND) --recorded $(TEST_TIMES_RECORD) --readme README.md

check: $(CHECK_TARGETS) ## The edit loop (minutes): ruff, helm lint and unittest, generated-file checks, the pytest tests not marked slow
	@echo "make check: passed ($(CHECK_TARGETS)); make test runs everything"
