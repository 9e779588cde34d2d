# End to end: a real single-node Kubernetes on this machine (tools/e2e), every part built here from
# the Go module proxy or taken from Debian's packages, then the chart installed on it (tests/e2e).
#
#   make e2e-up      # build what is missing, start the cluster, leave it running (.cache/e2e/kubeconfig)
#   make e2e-down    # stop every process, unmount, remove the network it made
#   make e2e         # up, the scenarios, down (down also on failure)

# Pins. KUBERNETES_VERSION and ETCD_VERSION are also in their wrapper modules' go.mod (checked).
KUBERNETES_VERSION := v1.35.4
KUBERNETES_MODULE  := tools/go/kubernetes
ETCD_VERSION       := v3.6.16
ETCD_MODULE        := tools/go/etcd
COREDNS_VERSION    := v1.14.7
KWOK_VERSION       := v0.8.0
# v2.1.0 is the only version the proxy serves. Security flaws are reported against it: it is
# acceptable only as the NetworkPolicy dataplane of this sealed, loopback-only test cluster.
KUBE_ROUTER_VERSION := v2.1.0
# The operator the e2e cluster runs: the newest the proxy serves whole (as for the CRD schemas);
# moving to 1.7.x is this one pin.
KUBERAY_OPERATOR_VERSION := $(KUBERAY_CRD_VERSION)
KUBERAY_OPERATOR_MODULE  := github.com/ray-project/kuberay/ray-operator

E2E_BIN := $(BIN)/e2e
export E2E_BIN
E2E_DEBIAN_PACKAGES := containerd runc containernetworking-plugins iptables ipset conntrack

KUBERNETES_BIN := $(BIN)/kubernetes-$(KUBERNETES_VERSION)
ETCD_BIN       := $(BIN)/etcd-$(ETCD_VERSION)
COREDNS_BIN    := $(BIN)/coredns-$(COREDNS_VERSION)
KWOK_BIN       := $(BIN)/kwok-$(KWOK_VERSION)
KUBE_ROUTER_BIN := $(BIN)/kube-router-$(KUBE_ROUTER_VERSION)
KUBERAY_OPERATOR_BIN := $(BIN)/kuberay-operator-$(KUBERAY_OPERATOR_VERSION)
PAUSE_BIN      := $(BIN)/pause-$(shell cat tools/go/pause/main.go tools/go/pause/go.mod | cksum | cut -d' ' -f1)

# What upstream's hack/lib/version.sh stamps: without it the API server reports v0.0.0-master and
# helm refuses the chart's kubeVersion range.
KUBERNETES_VERSION_VARS := gitVersion=$(KUBERNETES_VERSION) \
  gitMajor=$(word 1,$(subst ., ,$(KUBERNETES_VERSION:v%=%))) gitMinor=$(word 2,$(subst ., ,$(KUBERNETES_VERSION))) \
  gitTreeState=clean buildDate=1970-01-01T00:00:00Z
KUBERNETES_LDFLAGS := -s -w $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
  $(foreach var,$(KUBERNETES_VERSION_VARS),-X $(pkg).$(var)))

# The stamp names the flags: changing them relinks (from Go's build cache).
KUBERNETES_STAMP := $(KUBERNETES_BIN)/.done-$(shell printf '%s' '$(KUBERNETES_LDFLAGS)' | cksum | cut -d' ' -f1)
$(KUBERNETES_STAMP): $(KUBERNETES_MODULE)/go.mod $(KUBERNETES_MODULE)/go.sum
	$(call check_module_pin,$(KUBERNETES_MODULE),k8s.io/kubernetes,$(KUBERNETES_VERSION))
	@echo "building Kubernetes $(KUBERNETES_VERSION) (apiserver, controller-manager, scheduler, kubelet, kube-proxy, kubectl)"
	@rm -rf $(@D) $(@D).tmp
	cd $(KUBERNETES_MODULE) && GOBIN=$(@D).tmp $(GO_INSTALL) -ldflags '$(KUBERNETES_LDFLAGS)' tool
	@mv $(@D).tmp $(@D) && touch $@

$(ETCD_BIN): $(ETCD_MODULE)/go.mod $(ETCD_MODULE)/go.sum
	$(call check_module_pin,$(ETCD_MODULE),go.etcd.io/etcd/server/v3,$(ETCD_VERSION))
	@rm -rf $@.tmp
	cd $(ETCD_MODULE) && GOBIN=$@.tmp $(GO_INSTALL) -ldflags '-s -w' tool
	@mv $@.tmp/server $@ && rm -rf $@.tmp

# One-module tools: `go install module@version` into a folder, the binary renamed to name-version.
define go_tool # target, package@version, binary name go install gives
$(1):
	@rm -rf $(1).tmp
	GOBIN=$(1).tmp $(GO_INSTALL) -ldflags '-s -w' $(2)
	@mv $(1).tmp/$(3) $(1) && rm -rf $(1).tmp
endef
$(eval $(call go_tool,$(COREDNS_BIN),github.com/coredns/coredns@$(COREDNS_VERSION),coredns))
$(eval $(call go_tool,$(KWOK_BIN),sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION),kwok))
$(eval $(call go_tool,$(KUBE_ROUTER_BIN),github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$(KUBE_ROUTER_VERSION),kube-router))
$(eval $(call go_tool,$(KUBERAY_OPERATOR_BIN),$(KUBERAY_OPERATOR_MODULE)@$(KUBERAY_OPERATOR_VERSION),ray-operator))

$(PAUSE_BIN): tools/go/pause/main.go tools/go/pause/go.mod
	cd tools/go/pause && CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '-s -w' -o $@ .

E2E_TOOLS := $(KUBERNETES_STAMP) $(ETCD_BIN) $(COREDNS_BIN) $(KWOK_BIN) $(KUBE_ROUTER_BIN) $(KUBERAY_OPERATOR_BIN) $(PAUSE_BIN)

# bin/e2e: one folder naming each pinned build by its plain name, and versions.json for the cluster.
$(E2E_BIN)/versions.json: $(E2E_TOOLS) make/e2e.mk
	@rm -rf $(E2E_BIN) && mkdir -p $(E2E_BIN)
	@for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do \
	  ln -s $(KUBERNETES_BIN)/$$b $(E2E_BIN)/$$b; done
	@ln -s $(ETCD_BIN) $(E2E_BIN)/etcd && ln -s $(COREDNS_BIN) $(E2E_BIN)/coredns
	@ln -s $(KWOK_BIN) $(E2E_BIN)/kwok && ln -s $(KUBE_ROUTER_BIN) $(E2E_BIN)/kube-router
	@ln -s $(KUBERAY_OPERATOR_BIN) $(E2E_BIN)/kuberay-operator && ln -s $(PAUSE_BIN) $(E2E_BIN)/pause
	@operator=$(call go_module_dir,$(KUBERAY_OPERATOR_MODULE)@$(KUBERAY_OPERATOR_VERSION)); test -d "$$operator/config" || exit 1; \
	kwok=$(call go_module_dir,sigs.k8s.io/kwok@$(KWOK_VERSION)); test -d "$$kwok/kustomize/stage" || exit 1; \
	printf '{"kubernetes": "%s", "etcd": "%s", "coredns": "%s", "kwok": "%s", "kube-router": "%s", "kuberay-operator": "%s", "kuberay-operator-module-dir": "%s", "kwok-module-dir": "%s"}\n' \
	  $(KUBERNETES_VERSION) $(ETCD_VERSION) $(COREDNS_VERSION) $(KWOK_VERSION) $(KUBE_ROUTER_VERSION) $(KUBERAY_OPERATOR_VERSION) "$$operator" "$$kwok" > $@

# The node's runtime and network from Debian's packages (root), when missing.
e2e-packages:
	@missing=; for c in containerd runc ctr iptables ipset conntrack; do command -v $$c >/dev/null || missing=1; done; \
	test -x /usr/lib/cni/bridge || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(E2E_DEBIAN_PACKAGES)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(E2E_DEBIAN_PACKAGES) >/dev/null; \
	fi

# make test runs the scenarios (the Makefile places them after the image checks).
E2E_CHECKS := e2e

.PHONY: e2e-tools e2e-packages e2e-up e2e-down e2e-status e2e e2e-prune
e2e-tools: $(E2E_BIN)/versions.json e2e-packages | $(VENV_STAMP) $(HELM) ## Build the e2e cluster's binaries (Kubernetes, etcd, CoreDNS, kwok, kube-router, KubeRay operator) into ./bin

e2e-up: e2e-tools ## Start the e2e cluster and leave it running (kubeconfig: .cache/e2e/kubeconfig)
	$(PY) -m tools.e2e.cluster up

e2e-down: ## Stop the e2e cluster: every process, mount and network rule it made
	$(PY) -m tools.e2e.cluster down

e2e-status: ## Which of the e2e cluster's processes run
	$(PY) -m tools.e2e.cluster status

# The scenarios start the cluster themselves (or use the one e2e-up left running) and stop what they
# started, also on failure or Ctrl-C; images come from `make image` (cached after test-containers).
e2e: e2e-tools $(REGISTRY_BIN) ## Real Kubernetes on this machine: helm install, RayJob, RayService, NetworkPolicy, GPU pools (root)
	$(ensure_buildx)
	$(PY) -m pytest tests/e2e -m e2e

# What e2e runs keep between runs (images in the node's containerd, the registry's blobs: gigabytes).
e2e-prune: e2e-down ## Remove what the e2e cluster keeps between runs (its containerd images, registry blobs, state)
	rm -rf /var/lib/ray-aks-e2e $(CACHE)/e2e
