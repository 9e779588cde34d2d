# Chart checks: one target per check, listed in CHART_CHECKS in the order `make test` runs them.
# All of them run offline: the kuberay-operator subchart is never needed (`make deps`
# fetches it for a real install). `make test-chart HELM_VERSION=3.21.4` runs them all under helm 3.
# The tools ($(HELM), $(CT), ...) are defined in tools.mk, which the Makefile reads before this file.
## @category Chart

CHART       := charts/ray-aks
GPU_VALUES  := charts/ray-aks-gpu-values.yaml
CT_CONFIG   := ct.yaml
KUBE_LINTER_CONFIG := .kube-linter.yaml
# Renders shared by validate and kube-lint, per helm version (they differ between helm 3 and 4).
RENDER_DIR   = $(CACHE)/renders/helm-v$(HELM_VERSION)
KUBERAY_HELM_REPO := https://ray-project.github.io/kuberay-helm/

CHART_CHECKS := lint-chart test-chart-unit ct-lint validate kube-lint docs-check chart-lock-check schema-check

.PHONY: $(CHART_CHECKS) chart-renders test-chart test-chart-python docs chart-lock deps schema

# Every check waits for `tools`, which builds whatever is missing two at a time (a no-op when warm).
$(CHART_CHECKS) chart-renders test-chart-python: | tools

lint-chart: ## helm lint --strict with each ct scenario and the GPU overlay
	$(PY) -m tools.chart_checks lint

test-chart-unit: ## helm-unittest --strict: the chart's unit test suites and snapshots
	$(HELM) unittest --strict $(CHART)

# ct runs helm, yamllint and yamale from PATH. Its helm lint is not --strict: with the subchart
# absent offline, helm lint warns; lint-chart runs the strict lint without the dependency.
ct-lint: ## chart-testing lint (offline): Chart.yaml schema, yamllint, helm lint per ci/*-values.yaml
	PATH="$(dir $(HELM)):$(VENV)/bin:$$PATH" $(CT) lint --config $(CT_CONFIG)
	@echo "ct-lint: $(words $(wildcard $(CHART)/ci/*-values.yaml)) ct scenarios linted"

chart-renders:
	$(PY) -m tools.chart_checks render $(RENDER_DIR) $(addprefix --kube-version ,$(KUBERNETES_VERSIONS))

validate: chart-renders ## kubeconform -strict: every object of every scenario at Kubernetes 1.33 and 1.35
	$(PY) -m tools.chart_checks validate $(RENDER_DIR) --kubeconform $(KUBECONFORM) \
	  --schema-dir $(SCHEMA_DIR)

kube-lint: chart-renders ## kube-linter on the same renders (exceptions, each with its reason, in .kube-linter.yaml)
	$(PY) -m tools.chart_checks kube-lint $(RENDER_DIR) --kube-linter $(KUBE_LINTER) --config $(KUBE_LINTER_CONFIG)

# --- generated files: each declared once in GENERATED, next to its generator; make/generated.mk
# derives the check X-check (docs-check, ...) that regenerates it in a copy of the tree and diffs ---

# helm-docs logs problems (a template error, an unparsable values.yaml) as warnings and exits 0: this
# fails on any warning. (Its --documentation-strict-mode only counts "# key -- text" comments, not
# the "# --" style the chart uses; tests/chart checks that every value is documented.)
GENERATED += docs:$(CHART)/README.md
docs: | tools ## Regenerate charts/ray-aks/README.md from README.md.gotmpl and the values.yaml "# --" comments
	@mkdir -p $(CACHE) && { $(HELM_DOCS) --chart-search-root $(CHART) --template-files README.md.gotmpl \
	  --skip-version-footer --log-level warning 2> $(CACHE)/helm-docs.log && ! grep -q 'level=' $(CACHE)/helm-docs.log || \
	  { cat $(CACHE)/helm-docs.log >&2; echo "$@: helm-docs failed (above)" >&2; exit 1; }; }
	@echo "docs: wrote $(CHART)/README.md"

# The written lock is checked with helm's own code too (chartlock check), so chart-lock-check is.
GENERATED += chart-lock:$(CHART)/Chart.lock
chart-lock: | tools ## Write charts/ray-aks/Chart.lock offline (exact versions from Chart.yaml, helm's digest)
	$(CHARTLOCK) write $(CHART)
	$(CHARTLOCK) check $(CHART)

# values.schema.json is generated, never edited: tools/schemas/chart_values.py writes it from its
# hand-written source, values.schema.source.json, adding the Kubernetes types it refers to (from the
# oldest Kubernetes version's OpenAPI documents, the module the kubeconform schemas come from), the
# descriptions from values.yaml's "# --" comments, the RayCronJob keys from the RayJob's and the
# workload cluster override definitions.
SCHEMA_KUBERNETES_VERSION := $(firstword $(KUBERNETES_VERSIONS))
GENERATED += schema:$(CHART)/values.schema.json
schema: | $(VENV_STAMP) ## Write charts/ray-aks/values.schema.json from values.schema.source.json and values.yaml's comments (edit the source, never the output)
	@dir=$(call go_module_dir,k8s.io/kubernetes@v$(SCHEMA_KUBERNETES_VERSION)) && test -d "$$dir/api/openapi-spec/v3" && \
	  $(PY) -m tools.schemas.chart_values "$$dir/api/openapi-spec/v3" --chart $(CHART)

deps: | tools ## Fetch the kuberay-operator subchart into charts/ray-aks/charts/ (needs the KubeRay chart repo)
	$(HELM) repo add kuberay $(KUBERAY_HELM_REPO) --force-update
	$(HELM) dependency build $(CHART)

# tests/chart (pytest) is part of test-python (test-fast, test-slow); test-chart runs it too, so a helm 3
# run covers it.
test-chart-python:
	$(PY) -m pytest tests/chart

test-chart: ## Every chart check (HELM_VERSION=3.21.4 runs them under helm 3)
	@$(MAKE) --no-print-directory $(CHART_CHECKS) test-chart-python
	@echo "test-chart: all chart checks passed under helm v$(HELM_VERSION)"

