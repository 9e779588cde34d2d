# Chart toolchain: pinned tools built from the Go module proxy into ./bin (never installed
# globally), and the JSON schemas kubeconform validates against, generated into .cache (never
# committed). Every tool is a file whose name carries its version: a second run does nothing and
# a pin change rebuilds. The Go module and build caches are the user's defaults.
#
# Included after chart.mk and python.mk (make/*.mk in name order): those refer to these variables
# only in recipes and in recursively expanded (=) variables.

GO ?= go
# Static binaries, no local paths or VCS stamps baked in (the wrapper modules sit in this repo).
GO_INSTALL := CGO_ENABLED=0 $(GO) install -trimpath -buildvcs=false
# VENV_STAMP and PY come from python.mk: the .venv provides yamllint and yamale (for ct) and PyYAML.

# --- helm -------------------------------------------------------------------------------------
# The module path follows the major version: HELM_VERSION=3.21.4 builds helm.sh/helm/v3.
HELM_VERSION ?= 4.2.4
HELM_MAJOR   := $(firstword $(subst ., ,$(HELM_VERSION)))
HELM_MODULE  := helm.sh/helm/v$(HELM_MAJOR)
HELM         := $(BIN)/helm-v$(HELM_VERSION)/helm
# Every recipe (and tools/render_chart.py, and pytest) runs this helm.
export HELM
# helm's own state stays inside the checkout: no user repositories, plugins or caches leak in.
export HELM_CACHE_HOME  := $(CACHE)/helm/cache
export HELM_CONFIG_HOME := $(CACHE)/helm/config
export HELM_DATA_HOME   := $(CACHE)/helm/data

# What helm's own Makefile sets: the version (else `helm version` says v4.2 and ct parses that),
# and for helm 3 the default Kubernetes version from its client-go (else v1.20, which a chart's
# kubeVersion range refuses). helm 4 reads the client-go version from its build info.
HELM_LDFLAGS = -s -w -X $(HELM_MODULE)/internal/version.version=v$(HELM_VERSION) \
  -X $(HELM_MODULE)/internal/version.metadata= -X $(HELM_MODULE)/internal/version.gitTreeState=clean

$(HELM):
	@echo "building helm v$(HELM_VERSION) ($(HELM_MODULE))"
	@ldflags='$(HELM_LDFLAGS)'; \
	if [ "$(HELM_MAJOR)" = 3 ]; then \
	  gomod=$$($(GO) mod download -json $(HELM_MODULE)@v$(HELM_VERSION) | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$$/\1/p'); \
	  minor=$$(awk '$$1 == "k8s.io/client-go" { split($$2, v, "."); print v[2] }' "$$gomod"); \
	  test -n "$$minor" || { echo "cannot read k8s.io/client-go's version from $$gomod" >&2; exit 1; }; \
	  for pkg in pkg/lint/rules pkg/chartutil; do \
	    ldflags="$$ldflags -X $(HELM_MODULE)/$$pkg.k8sVersionMajor=1 -X $(HELM_MODULE)/$$pkg.k8sVersionMinor=$$minor"; \
	  done; \
	fi; \
	GOBIN=$(@D).tmp $(GO_INSTALL) -ldflags "$$ldflags" $(HELM_MODULE)/cmd/helm@v$(HELM_VERSION)
	@rm -rf $(@D) && mv $(@D).tmp $(@D)
	@test "$$($@ version --template '{{ .Version }}')" = v$(HELM_VERSION) || { echo "$@ does not report v$(HELM_VERSION)" >&2; exit 1; }

# --- helm-unittest, as a helm plugin directory ------------------------------------------------
# v1.1.2: the Go proxy refuses v1.1.0 and v1.1.1 (403 "This module version is not available").
# Built through the wrapper module tools/go/helm-unittest (helm-unittest's go.mod has a replace);
# installed as a plugin directory with our plugin.yaml: no install hook, nothing downloaded.
HELM_UNITTEST_VERSION := v1.1.2
HELM_UNITTEST_MODULE  := tools/go/helm-unittest
export HELM_PLUGINS   := $(BIN)/helm-plugins-$(HELM_UNITTEST_VERSION)
HELM_UNITTEST         := $(HELM_PLUGINS)/unittest/helm-unittest

# A wrapper module pins its tool in go.mod too: refuse to build when go.mod and the pin here disagree.
define check_module_pin # module dir, module path, version
	@grep -Eq '^[[:space:]]*(require[[:space:]]+)?$(2) $(3)( |$$)' $(1)/go.mod || \
	  { echo "$(1)/go.mod does not require $(2) $(3) (make/tools.mk's pin): change both" >&2; exit 1; }
endef

$(HELM_UNITTEST): $(HELM_UNITTEST_MODULE)/go.mod $(HELM_UNITTEST_MODULE)/go.sum $(HELM_UNITTEST_MODULE)/plugin.yaml
	$(call check_module_pin,$(HELM_UNITTEST_MODULE),github.com/helm-unittest/helm-unittest,$(HELM_UNITTEST_VERSION))
	@grep -q '^version: "$(HELM_UNITTEST_VERSION:v%=%)"' $(HELM_UNITTEST_MODULE)/plugin.yaml || \
	  { echo "$(HELM_UNITTEST_MODULE)/plugin.yaml's version is not $(HELM_UNITTEST_VERSION:v%=%)" >&2; exit 1; }
	@echo "building helm-unittest $(HELM_UNITTEST_VERSION)"
	@rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	cd $(HELM_UNITTEST_MODULE) && GOBIN=$(@D).tmp $(GO_INSTALL) -ldflags '-s -w' tool
	cp $(HELM_UNITTEST_MODULE)/plugin.yaml $(@D).tmp/plugin.yaml
	@rm -rf $(@D) && mv $(@D).tmp $(@D)

# --- chart-testing (ct); it runs helm, yamllint and yamale from PATH (see chart.mk) -------------
# Through the wrapper module tools/go/chart-testing: `go install ...ct@v3.14.0` fails because the
# proxy refuses the module's version list (403), which go install reads for deprecations.
CT_VERSION := v3.14.0
CT_MODULE  := tools/go/chart-testing
CT         := $(BIN)/ct-$(CT_VERSION)
$(CT): $(CT_MODULE)/go.mod $(CT_MODULE)/go.sum
	$(call check_module_pin,$(CT_MODULE),github.com/helm/chart-testing/v3,$(CT_VERSION))
	@echo "building ct $(CT_VERSION)"
	cd $(CT_MODULE) && GOBIN=$(@D)/.ct-build $(GO_INSTALL) \
	  -ldflags '-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$(CT_VERSION)' tool
	@mv $(@D)/.ct-build/ct $@ && rmdir $(@D)/.ct-build

# --- kubeconform --------------------------------------------------------------------------------
KUBECONFORM_VERSION := v0.7.0
KUBECONFORM         := $(BIN)/kubeconform-$(KUBECONFORM_VERSION)
$(KUBECONFORM):
	@echo "building kubeconform $(KUBECONFORM_VERSION)"
	GOBIN=$(@D)/.kubeconform-build $(GO_INSTALL) -ldflags '-s -w -X main.version=$(KUBECONFORM_VERSION)' \
	  github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	@mv $(@D)/.kubeconform-build/kubeconform $@ && rmdir $(@D)/.kubeconform-build

# --- kube-linter --------------------------------------------------------------------------------
# Through the wrapper module tools/go/kube-linter: the proxy refuses the module's own path
# (golang.stackrox.io/kube-linter) and serves the same tag as github.com/stackrox/kube-linter.
KUBE_LINTER_VERSION := v0.8.3
KUBE_LINTER_MODULE  := tools/go/kube-linter
KUBE_LINTER         := $(BIN)/kube-linter-$(KUBE_LINTER_VERSION)
$(KUBE_LINTER): $(KUBE_LINTER_MODULE)/go.mod $(KUBE_LINTER_MODULE)/go.sum
	$(call check_module_pin,$(KUBE_LINTER_MODULE),golang.stackrox.io/kube-linter,$(KUBE_LINTER_VERSION))
	@echo "building kube-linter $(KUBE_LINTER_VERSION)"
	cd $(KUBE_LINTER_MODULE) && GOBIN=$(@D)/.kube-linter-build $(GO_INSTALL) \
	  -ldflags '-s -w -X golang.stackrox.io/kube-linter/internal/version.version=$(KUBE_LINTER_VERSION)' tool
	@mv $(@D)/.kube-linter-build/kube-linter $@ && rmdir $(@D)/.kube-linter-build

# --- helm-docs ----------------------------------------------------------------------------------
HELM_DOCS_VERSION := v1.14.2
HELM_DOCS         := $(BIN)/helm-docs-$(HELM_DOCS_VERSION)
$(HELM_DOCS):
	@echo "building helm-docs $(HELM_DOCS_VERSION)"
	GOBIN=$(@D)/.helm-docs-build $(GO_INSTALL) -ldflags '-s -w -X main.version=$(HELM_DOCS_VERSION:v%=%)' \
	  github.com/norwoodj/helm-docs/cmd/helm-docs@$(HELM_DOCS_VERSION)
	@mv $(@D)/.helm-docs-build/helm-docs $@ && rmdir $(@D)/.helm-docs-build

# --- chartlock: Chart.lock written and checked offline with helm's own library -----------------
CHARTLOCK_MODULE := tools/go/chartlock
CHARTLOCK        := $(BIN)/chartlock
$(CHARTLOCK): $(CHARTLOCK_MODULE)/go.mod $(CHARTLOCK_MODULE)/go.sum $(CHARTLOCK_MODULE)/main.go
	cd $(CHARTLOCK_MODULE) && CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '-s -w' -o $@ .

# --- kubeconform schemas, generated at test time into .cache -----------------------------------
# Kubernetes core kinds for the oldest and newest AKS-supported minors, from the OpenAPI v3 spec in
# the k8s.io/kubernetes module (the proxy serves these patch releases' zips, about 20 MB each).
KUBERNETES_VERSIONS := 1.33.13 1.35.4
# Ray kinds from the KubeRay CRDs. The chart depends on kuberay-operator 1.7.0, but the Go proxy
# refuses github.com/ray-project/kuberay/ray-operator@v1.7.0 (403), so the CRDs are 1.6.2's, the
# newest it serves. 1.7.0 only adds optional fields (historyServerOptions, tlsOptions,
# networkPolicy, headGroupSpec.ingressOptions, worker group priority, ...; v1 never removes
# fields): a render that validates here is valid for 1.7.0, and the chart must not use 1.7.0-only
# fields until the proxy serves v1.7.0.
KUBERAY_CRD_VERSION := v1.6.2
# Monitoring kinds (PodMonitor, PrometheusRule) from the Prometheus Operator's CRDs. v0.88.0: the
# proxy refuses v0.86 and v0.87 (403); v0.85.0 and v0.88.0 are served.
PROMETHEUS_OPERATOR_VERSION := v0.88.0
PROMETHEUS_OPERATOR_CRDS    := example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml,example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
# CRD sources: <go module>@<version>:<file or directory in the module>[,<file or directory>...].
CRD_SOURCES := github.com/ray-project/kuberay/ray-operator@$(KUBERAY_CRD_VERSION):config/crd/bases \
  github.com/prometheus-operator/prometheus-operator@$(PROMETHEUS_OPERATOR_VERSION):$(PROMETHEUS_OPERATOR_CRDS)
# Extra group names that serve the same CRD schemas, FROM=TO: AKS managed Prometheus reads
# PodMonitors of group azmonitoring.coreos.com with the Prometheus Operator's spec.
CRD_GROUP_RENAMES := monitoring.coreos.com=azmonitoring.coreos.com

SCHEMA_DIR       := $(CACHE)/schemas
K8S_SCHEMA_DIR   := $(SCHEMA_DIR)/kubernetes
CRD_SCHEMA_DIR   := $(SCHEMA_DIR)/crds
K8S_SCHEMA_STAMPS := $(foreach v,$(KUBERNETES_VERSIONS),$(K8S_SCHEMA_DIR)/v$(v)-standalone-strict/.done)
# One stamp per set of CRD sources: changing a pin or adding a source regenerates them all.
CRD_SCHEMA_STAMP := $(CRD_SCHEMA_DIR)/.done-$(shell printf '%s' '$(CRD_SOURCES) $(CRD_GROUP_RENAMES)' | cksum | cut -d' ' -f1)
SCHEMA_STAMPS    := $(K8S_SCHEMA_STAMPS) $(CRD_SCHEMA_STAMP)

# Directory of a Go module version in the module cache (downloaded if needed).
go_module_dir = $$($(GO) mod download -json $(1) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p')

$(K8S_SCHEMA_DIR)/v%-standalone-strict/.done: tools/schemas/k8s_openapi.py tools/schemas/strict.py | $(VENV_STAMP)
	@rm -rf $(@D)
	@dir=$(call go_module_dir,k8s.io/kubernetes@v$*); test -d "$$dir/api/openapi-spec/v3" || \
	  { echo "no api/openapi-spec/v3 in k8s.io/kubernetes@v$* ($$dir)" >&2; exit 1; }; \
	$(PY) -m tools.schemas.k8s_openapi "$$dir/api/openapi-spec/v3" $(@D)
	@touch $@

$(CRD_SCHEMA_STAMP): tools/schemas/crds.py tools/schemas/strict.py | $(VENV_STAMP)
	@rm -rf $(@D)
	@sources=; for src in $(CRD_SOURCES); do \
	  module=$${src%%:*}; dir=$(call go_module_dir,$$module); test -d "$$dir" || exit 1; \
	  for sub in $$(echo $${src#*:} | tr , ' '); do sources="$$sources $$dir/$$sub"; done; \
	done; \
	$(PY) -m tools.schemas.crds $(@D) $$sources $(addprefix --rename-group ,$(CRD_GROUP_RENAMES))
	@touch $@

# --- everything, built two at a time -----------------------------------------------------------

.PHONY: tools tools-build schemas
tools: ## Build the pinned chart tools into ./bin, the .venv, and the kubeconform schemas (cached)
	@$(MAKE) --no-print-directory -j2 tools-build

# Listed in build order: the .venv first (mostly network), then the longest Go builds; the
# schemas need the .venv's python.
tools-build: $(VENV_STAMP) $(HELM) $(KUBE_LINTER) $(HELM_UNITTEST) $(CT) $(HELM_DOCS) $(KUBECONFORM) \
  $(CHARTLOCK) $(SCHEMA_STAMPS)
	@:

schemas: $(SCHEMA_STAMPS) ## Generate the kubeconform schemas (Kubernetes core kinds, KubeRay CRDs) into .cache/schemas

# pytest's chart tests (tests/chart) render with $(HELM).
test-python: | $(HELM)

# The distribution registry that the image tests and make e2e push to (ACR speaks the same OCI
# distribution protocol). Here, read first: both rules name it as a prerequisite.
REGISTRY_VERSION := v3.1.2
REGISTRY_BIN     := $(BIN)/registry-$(REGISTRY_VERSION)
$(REGISTRY_BIN):
	@echo "building the distribution registry $(REGISTRY_VERSION)"
	GOBIN=$(@D)/.registry-build $(GO_INSTALL) -ldflags '-s -w' \
	  github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)
	@mv $(@D)/.registry-build/registry $@ && rmdir $(@D)/.registry-build
export REGISTRY_BIN
