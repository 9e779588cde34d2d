# Toolchain: every pinned Go tool (the chart checks', the image builds', the e2e cluster's), built
# from the Go module proxy into ./bin and never installed globally, and the JSON schemas kubeconform
# validates against, generated into .cache (never committed). A tool's path carries its version: a
# second run finds the file and does nothing, a pin change names a path that does not exist yet and
# builds it. The Go module and build caches are the user's defaults; the linked tools are kept in
# GO_TOOL_CACHE too, so that another clone copies them instead of linking them again.
#
# The Makefile reads this file right after python.mk ($(VENV_STAMP), $(PY)): the path variables
# defined here are prerequisites of rules in the files read after it.
## @category Toolchain

GO ?= go
# Static binaries, no local paths or VCS stamps baked in (the wrapper modules sit in this repo).
GO_INSTALL := CGO_ENABLED=0 $(GO) install -trimpath -buildvcs=false
# Linked tools, kept by what they are built from (tools/go_tool_cache.sh): another clone on this
# machine, or a pin moved back, copies them instead of linking again. Empty: no cache.
GO_TOOL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ray-aks/go-tools

# --- pins (a wrapper module's go.mod requires the same version: the build checks both agree) ------
# The one pin a run may override: `make test-chart HELM_VERSION=3.21.4` runs the chart checks under
# helm 3, built from helm.sh/helm/v3 (the module path follows the major version).
HELM_VERSION ?= 4.2.4
# The Go proxy refuses v1.1.0 and v1.1.1 (403 "This module version is not available").
HELM_UNITTEST_VERSION := v1.1.2
CT_VERSION            := v3.14.0
KUBECONFORM_VERSION   := v0.7.0
KUBE_LINTER_VERSION   := v0.8.3
HELM_DOCS_VERSION     := v1.14.2
# The distribution registry that the image tests and make e2e push to (ACR speaks the same OCI
# distribution protocol).
REGISTRY_VERSION      := v3.1.2
# docker buildx, for engines without it (Debian's docker.io ships without the plugin).
BUILDX_VERSION        := v0.38.2
# The e2e cluster (make/e2e.mk).
KUBERNETES_VERSION    := v1.35.4
ETCD_VERSION          := v3.6.16
COREDNS_VERSION       := v1.14.7
KWOK_VERSION          := v0.8.0
# v2.1.0 is the only version the proxy serves. Security flaws are reported against it: it is
# acceptable only as the NetworkPolicy dataplane of the sealed, loopback-only e2e cluster.
KUBE_ROUTER_VERSION   := v2.1.0
# The OpenTelemetry Collector builder that assembles the log collector image's binary from
# tools/otelcol/builder-config.yaml (whose component pins follow its release; make/images.mk).
OTELCOL_BUILDER_VERSION := v0.165.0
# KubeRay: the chart depends on kuberay-operator 1.7.0, but the Go proxy refuses
# github.com/ray-project/kuberay/ray-operator@v1.7.0 (403), so the CRD schemas and the operator the
# e2e cluster runs are 1.6.2's, the newest it serves; moving to 1.7.x is this one pin. 1.7.0 only
# adds optional fields (historyServerOptions, tlsOptions, networkPolicy, headGroupSpec.ingressOptions,
# worker group priority, ...; v1 never removes fields): a render that validates here is valid for
# 1.7.0, and the chart must not use 1.7.0-only fields while the proxy does not serve v1.7.0.
KUBERAY_CRD_VERSION      := v1.6.2
KUBERAY_OPERATOR_VERSION := $(KUBERAY_CRD_VERSION)
KUBERAY_OPERATOR_MODULE  := github.com/ray-project/kuberay/ray-operator
# Kueue (the queued-jobs e2e scenario): its manager, and its CRDs and manifests from the same module.
KUEUE_VERSION            := v0.17.0
# Kubernetes schemas: the oldest and newest AKS-supported minors.
KUBERNETES_VERSIONS := 1.33.13 1.35.4
# Monitoring kinds (PodMonitor, PrometheusRule): the proxy refuses v0.86 and v0.87 (403).
PROMETHEUS_OPERATOR_VERSION := v0.88.0

# --- one rule for every Go tool ---------------------------------------------------------------
# $(call go_tool,VAR,PATH,SOURCE,BINARY,LDFLAGS) defines VAR := $(BIN)/PATH and the rule that builds it:
#   PATH     under bin/. A plain name is one file. With a folder part the target is a file in that
#            folder: go install fills the folder, which replaces the old one whole once complete.
#   SOURCE   package@version         go install package@version, from the module proxy
#            dir:module@version      a wrapper module in this repo, for a tool that `go install
#                                    package@version` cannot build (a replace in its go.mod, a module
#                                    path the proxy refuses, ...): its go.mod requires module@version
#                                    (checked against the pin) and names the tool's packages in `tool`
#                                    directives; built with `go install tool`
#            dir                     a program in this repo: go install .
#            A dir's files are the rule's prerequisites: editing one rebuilds.
#   BINARY   the file go install writes, renamed to PATH's name; * keeps every binary it writes (PATH
#            is then a stamp file in their folder)
#   LDFLAGS  beyond -s -w, typically the version the tool reports
# A tool with one more step defines VAR_FINISH: recipe lines run on the built folder ($(@D).tmp)
# before it replaces the old one; VAR_BEFORE: recipe lines run before the build.
go_tool = $(eval $(call go_tool_rule,$(strip $(1)),$(strip $(2)),$(strip $(3)),$(strip $(4)),$(strip $(5))))
define go_tool_rule
$(1) := $(BIN)/$(2)
$$($(1)): $(if $(call go_tool_in_repo,$(3)),$(wildcard $(call go_tool_dir,$(3))/*))
	$(if $(findstring :,$(3)),$$(call check_module_pin,$(call go_tool_dir,$(3)),$(subst @,$(comma),$(call go_tool_pin,$(3)))))
	$$($(1)_BEFORE)
	@echo "building $(if $(findstring :,$(3)),$(call go_tool_pin,$(3)) ($(call go_tool_dir,$(3))),$(3))"
	@rm -rf $(call go_tool_tmp,$(2))
	GO_TOOL_CACHE=$$(GO_TOOL_CACHE) $(ROOT)/tools/go_tool_cache.sh $(call go_tool_tmp,$(2)) $(if $(call go_tool_in_repo,$(3)),$(call go_tool_dir,$(3)),-) -- \
	  $$(GO_INSTALL) -ldflags '-s -w$(if $(5), $(5))' $(if $(findstring :,$(3)),tool,$(if $(findstring @,$(3)),$(3),.))
ifneq ($(findstring /,$(2)),)
	$(if $(filter * $(notdir $(2)),$(4)),,@mv $(call go_tool_tmp,$(2))/$(4) $(call go_tool_tmp,$(2))/$$(@F))
	$(if $(filter *,$(4)),@touch $(call go_tool_tmp,$(2))/$$(@F))
	$$($(1)_FINISH)
	@rm -rf $$(@D) && mv $(call go_tool_tmp,$(2)) $$(@D)
else
	@mv $(call go_tool_tmp,$(2))/$(4) $$@ && rm -rf $(call go_tool_tmp,$(2))
endif
endef
# A wrapper module or a program: a folder in this repo.
go_tool_in_repo = $(or $(findstring :,$(1)),$(if $(findstring @,$(1)),,yes))
go_tool_dir = $(firstword $(subst :, ,$(1)))
go_tool_pin = $(word 2,$(subst :, ,$(1)))
# Where go install writes: next to the file, or next to the folder that holds it.
go_tool_tmp = $(if $(findstring /,$(1)),$$(@D).tmp,$$@.tmp)
# A literal comma, for function arguments.
comma := ,

# A wrapper module pins its tool in go.mod too: refuse to build when go.mod and the pin disagree.
define check_module_pin # module dir, module path, version
	@grep -Eq '^[[:space:]]*(require[[:space:]]+)?$(2) $(3)( |$$)' $(1)/go.mod || \
	  { echo "$(1)/go.mod does not require $(2) $(3) (the pin in make/tools.mk): change both" >&2; exit 1; }
endef

# --- the tools ----------------------------------------------------------------------------------
HELM_MAJOR  := $(firstword $(subst ., ,$(HELM_VERSION)))
HELM_MODULE := helm.sh/helm/v$(HELM_MAJOR)
# What helm's own Makefile stamps: the version (else `helm version` says v4.2 and ct parses that),
# and for helm 3 the Kubernetes version of its client-go (else v1.20, which the chart's kubeVersion
# range refuses; helm 4 reads it from its build info). Expanded only when helm is built: helm 3's
# go.mod is read then.
HELM_LDFLAGS = $(strip $(foreach v,version=v$(HELM_VERSION) metadata= gitTreeState=clean,-X $(HELM_MODULE)/internal/version.$(v)) \
  $(if $(filter 3,$(HELM_MAJOR)),$(call helm3_kube_ldflags,$(helm3_client_go_minor))))
helm3_kube_ldflags = $(foreach pkg,pkg/lint/rules pkg/chartutil,-X $(HELM_MODULE)/$(pkg).k8sVersionMajor=1 -X $(HELM_MODULE)/$(pkg).k8sVersionMinor=$(1))
helm3_client_go_minor = $(or $(shell gomod=$$($(GO) mod download -json $(HELM_MODULE)@v$(HELM_VERSION) | \
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$$/\1/p') && awk '$$1 == "k8s.io/client-go" { split($$2, v, "."); print v[2] }' "$$gomod"),\
  $(error cannot read k8s.io/client-go's version from the go.mod of $(HELM_MODULE)@v$(HELM_VERSION)))
define HELM_FINISH
	@test "$$($(@D).tmp/helm version --template '{{ .Version }}')" = v$(HELM_VERSION) || \
	  { echo "$@ does not report v$(HELM_VERSION)" >&2; exit 1; }
endef

# helm-unittest runs as a helm plugin: a folder with our plugin.yaml (no install hook, nothing
# downloaded) next to the binary.
define HELM_UNITTEST_FINISH
	@grep -q '^version: "$(HELM_UNITTEST_VERSION:v%=%)"' tools/go/helm-unittest/plugin.yaml || \
	  { echo "tools/go/helm-unittest/plugin.yaml's version is not $(HELM_UNITTEST_VERSION:v%=%)" >&2; exit 1; }
	cp tools/go/helm-unittest/plugin.yaml $(@D).tmp/plugin.yaml
endef

# Upstream's hack/lib/version.sh stamps these: without them the API server reports v0.0.0-master
# and helm refuses the chart's kubeVersion range.
KUBERNETES_VERSION_VARS := gitVersion=$(KUBERNETES_VERSION) \
  gitMajor=$(word 1,$(subst ., ,$(KUBERNETES_VERSION:v%=%))) gitMinor=$(word 2,$(subst ., ,$(KUBERNETES_VERSION))) \
  gitTreeState=clean buildDate=1970-01-01T00:00:00Z
KUBERNETES_LDFLAGS := $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
  $(foreach var,$(KUBERNETES_VERSION_VARS),-X $(pkg).$(var)))
# Kubernetes' stamp names its flags: changing them relinks (from Go's build cache).
KUBERNETES_FLAGS_SUM := $(shell printf '%s' '-s -w $(KUBERNETES_LDFLAGS)' | cksum | cut -d' ' -f1)
# CoreDNS with only the plugins the e2e Corefile uses (tools/go/coredns/main.go): its go.mod pins the
# module to COREDNS_VERSION, checked before the build.
define COREDNS_BIN_BEFORE
$(call check_module_pin,tools/go/coredns,github.com/coredns/coredns,$(COREDNS_VERSION))
endef
# pause is named by its source: editing it rebuilds.
PAUSE_SUM := $(shell cat tools/go/pause/main.go tools/go/pause/go.mod | cksum | cut -d' ' -f1)

# Why a wrapper module: helm-unittest's go.mod has a replace; ct's version list is refused by the
# proxy (403), which `go install ...@version` reads for deprecations; kube-linter's own module path
# (golang.stackrox.io) is refused, the same tag is served as github.com/stackrox/kube-linter;
# Kubernetes and etcd point their staging modules at local folders that a module download lacks.
#               VAR                   PATH under bin/                                                 SOURCE                                                                                  BINARY         LDFLAGS beyond -s -w
# The chart checks (make tools).
$(call go_tool, HELM,                 helm-v$(HELM_VERSION)/helm,                                     $(HELM_MODULE)/cmd/helm@v$(HELM_VERSION),                                               helm,          $$(HELM_LDFLAGS))
$(call go_tool, HELM_UNITTEST,        helm-plugins-$(HELM_UNITTEST_VERSION)/unittest/helm-unittest,   tools/go/helm-unittest:github.com/helm-unittest/helm-unittest@$(HELM_UNITTEST_VERSION), helm-unittest,)
$(call go_tool, CT,                   ct-$(CT_VERSION),                                               tools/go/chart-testing:github.com/helm/chart-testing/v3@$(CT_VERSION),                  ct,            -X github.com/helm/chart-testing/v3/ct/cmd.Version=$(CT_VERSION))
$(call go_tool, KUBECONFORM,          kubeconform-$(KUBECONFORM_VERSION),                             github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION),                    kubeconform,   -X main.version=$(KUBECONFORM_VERSION))
$(call go_tool, KUBE_LINTER,          kube-linter-$(KUBE_LINTER_VERSION),                             tools/go/kube-linter:golang.stackrox.io/kube-linter@$(KUBE_LINTER_VERSION),             kube-linter,   -X golang.stackrox.io/kube-linter/internal/version.version=$(KUBE_LINTER_VERSION))
$(call go_tool, HELM_DOCS,            helm-docs-$(HELM_DOCS_VERSION),                                 github.com/norwoodj/helm-docs/cmd/helm-docs@$(HELM_DOCS_VERSION),                       helm-docs,     -X main.version=$(HELM_DOCS_VERSION:v%=%))
# Writes and checks Chart.lock offline with helm's own library.
$(call go_tool, CHARTLOCK,            chartlock,                                                      tools/go/chartlock,                                                                     chartlock,)
# The images (make/images.mk) and the e2e cluster (make/e2e.mk).
$(call go_tool, REGISTRY_BIN,         registry-$(REGISTRY_VERSION),                                   github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION),               registry,)
$(call go_tool, OTELCOL_BUILDER,      otelcol-builder-$(OTELCOL_BUILDER_VERSION),                     go.opentelemetry.io/collector/cmd/builder@$(OTELCOL_BUILDER_VERSION),                   builder,)
$(call go_tool, BUILDX,               buildx-$(BUILDX_VERSION)/docker-buildx,                         github.com/docker/buildx/cmd/buildx@$(BUILDX_VERSION),                                  buildx,        -X github.com/docker/buildx/version.Version=$(BUILDX_VERSION))
$(call go_tool, KUBERNETES_STAMP,     kubernetes-$(KUBERNETES_VERSION)/.done-$(KUBERNETES_FLAGS_SUM), tools/go/kubernetes:k8s.io/kubernetes@$(KUBERNETES_VERSION),                            *,             $(KUBERNETES_LDFLAGS))
$(call go_tool, ETCD_BIN,             etcd-$(ETCD_VERSION),                                           tools/go/etcd:go.etcd.io/etcd/server/v3@$(ETCD_VERSION),                                server,)
$(call go_tool, COREDNS_BIN,          coredns-$(COREDNS_VERSION),                                     tools/go/coredns,                                                                       coredns,)
$(call go_tool, KWOK_BIN,             kwok-$(KWOK_VERSION),                                           sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION),                                              kwok,)
$(call go_tool, KUBE_ROUTER_BIN,      kube-router-$(KUBE_ROUTER_VERSION),                             github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$(KUBE_ROUTER_VERSION),       kube-router,)
$(call go_tool, KUBERAY_OPERATOR_BIN, kuberay-operator-$(KUBERAY_OPERATOR_VERSION),                   $(KUBERAY_OPERATOR_MODULE)@$(KUBERAY_OPERATOR_VERSION),                                 ray-operator,)
$(call go_tool, KUEUE_BIN,            kueue-$(KUEUE_VERSION),                                         sigs.k8s.io/kueue/cmd/kueue@$(KUEUE_VERSION),                                           kueue,         -X sigs.k8s.io/kueue/pkg/version.GitVersion=$(KUEUE_VERSION))
$(call go_tool, PAUSE_BIN,            pause-$(PAUSE_SUM),                                             tools/go/pause,                                                                         pause,)

# Every recipe (and tools/render_chart.py, and pytest) runs this helm, with its state inside the
# checkout: no user repositories, plugins or caches leak in.
export HELM
export HELM_CACHE_HOME  := $(CACHE)/helm/cache
export HELM_CONFIG_HOME := $(CACHE)/helm/config
export HELM_DATA_HOME   := $(CACHE)/helm/data
export HELM_PLUGINS     := $(HELM_UNITTEST:%/unittest/helm-unittest=%)
export REGISTRY_BIN

# --- kubeconform schemas, generated at test time into .cache -----------------------------------
# Kubernetes core kinds for $(KUBERNETES_VERSIONS), from the OpenAPI v3 spec in the k8s.io/kubernetes
# module (the proxy serves these patch releases' zips, about 20 MB each); Ray kinds from the KubeRay
# CRDs; monitoring kinds from the Prometheus Operator's CRDs.
PROMETHEUS_OPERATOR_CRDS := example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml,example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
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

# --- everything the chart checks need, built two at a time ---------------------------------------

.PHONY: tools tools-build schemas go-tool-cache-prune
tools: ## Build the pinned chart tools into ./bin, the .venv, and the kubeconform schemas (cached)
	@$(MAKE) --no-print-directory -j2 tools-build

# Listed in build order: the .venv first (mostly network), then the longest Go builds; the
# schemas need the .venv's python.
tools-build: $(VENV_STAMP) $(HELM) $(KUBE_LINTER) $(HELM_UNITTEST) $(CT) $(HELM_DOCS) $(KUBECONFORM) \
  $(CHARTLOCK) $(SCHEMA_STAMPS)
	@:

go-tool-cache-prune: ## Remove the linked tools kept for other clones (GO_TOOL_CACHE); ./bin stays
	rm -rf $(GO_TOOL_CACHE)

schemas: $(SCHEMA_STAMPS) ## Generate the kubeconform schemas (Kubernetes core kinds, KubeRay CRDs) into .cache/schemas
