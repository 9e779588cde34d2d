# End to end: a real single-node Kubernetes on this machine (tools/e2e), every part built here from
# the Go module proxy or taken from Debian's packages, then the chart installed on it (tests/e2e).
#
#   make e2e-up      # build what is missing, start the cluster, leave it running (.cache/e2e/kubeconfig)
#   make e2e-down    # stop every process, unmount, remove the network it made
#   make e2e         # up, the scenarios, down (down also on failure)
## @category Test cluster (e2e)

# The binaries, their pins and the flags they are built with are rows of make/tools.mk's Go tool
# table; this file links them into one folder and runs the cluster.
E2E_BIN := $(BIN)/e2e
export E2E_BIN
E2E_DEBIAN_PACKAGES := containerd runc containernetworking-plugins iptables ipset conntrack
# The folder that holds the Kubernetes binaries (the stamp's folder).
KUBERNETES_BIN := $(patsubst %/,%,$(dir $(KUBERNETES_STAMP)))

E2E_TOOLS := $(KUBERNETES_STAMP) $(ETCD_BIN) $(COREDNS_BIN) $(KWOK_BIN) $(KUBE_ROUTER_BIN) $(KUBERAY_OPERATOR_BIN) $(PAUSE_BIN) $(KUEUE_BIN)

# bin/e2e: one folder naming each pinned build by its plain name, and versions.json for the cluster
# (the pins are in make/tools.mk, this recipe here: a change to either rewrites it).
$(E2E_BIN)/versions.json: $(E2E_TOOLS) make/tools.mk make/e2e.mk
	@rm -rf $(E2E_BIN) && mkdir -p $(E2E_BIN)
	@for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do \
	  ln -s $(KUBERNETES_BIN)/$$b $(E2E_BIN)/$$b; done
	@ln -s $(ETCD_BIN) $(E2E_BIN)/etcd && ln -s $(COREDNS_BIN) $(E2E_BIN)/coredns
	@ln -s $(KWOK_BIN) $(E2E_BIN)/kwok && ln -s $(KUBE_ROUTER_BIN) $(E2E_BIN)/kube-router
	@ln -s $(KUBERAY_OPERATOR_BIN) $(E2E_BIN)/kuberay-operator && ln -s $(PAUSE_BIN) $(E2E_BIN)/pause
	@ln -s $(KUEUE_BIN) $(E2E_BIN)/kueue
	@operator=$(call go_module_dir,$(KUBERAY_OPERATOR_MODULE)@$(KUBERAY_OPERATOR_VERSION)); test -d "$$operator/config" || exit 1; \
	kwok=$(call go_module_dir,sigs.k8s.io/kwok@$(KWOK_VERSION)); test -d "$$kwok/kustomize/stage" || exit 1; \
	kueue=$(call go_module_dir,sigs.k8s.io/kueue@$(KUEUE_VERSION)); test -d "$$kueue/config/default" || exit 1; \
	printf '{"kubernetes": "%s", "etcd": "%s", "coredns": "%s", "kwok": "%s", "kube-router": "%s", "kuberay-operator": "%s", "kuberay-operator-module-dir": "%s", "kwok-module-dir": "%s", "kueue": "%s", "kueue-module-dir": "%s"}\n' \
	  $(KUBERNETES_VERSION) $(ETCD_VERSION) $(COREDNS_VERSION) $(KWOK_VERSION) $(KUBE_ROUTER_VERSION) $(KUBERAY_OPERATOR_VERSION) "$$operator" "$$kwok" $(KUEUE_VERSION) "$$kueue" > $@

# The node's runtime and network from Debian's packages (root), when missing.
e2e-packages:
	@missing=; for c in containerd runc ctr iptables ipset conntrack; do command -v $$c >/dev/null || missing=1; done; \
	test -x /usr/lib/cni/bridge || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(E2E_DEBIAN_PACKAGES)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(E2E_DEBIAN_PACKAGES) >/dev/null; \
	fi

# make test runs the scenarios (the Makefile places them after the image checks).
E2E_CHECKS := e2e-tools e2e

.PHONY: e2e-tools e2e-packages e2e-up e2e-down e2e-status e2e e2e-prune
e2e-tools: $(E2E_BIN)/versions.json e2e-packages | $(VENV_STAMP) $(HELM) ## Build the e2e cluster's binaries (Kubernetes, etcd, CoreDNS, kwok, kube-router, KubeRay operator, Kueue) into ./bin

e2e-up: e2e-tools ## Start the e2e cluster and leave it running (kubeconfig: .cache/e2e/kubeconfig)
	$(PY) -m tools.e2e.cluster up

e2e-down: ## Stop the e2e cluster: every process, mount and network rule it made
	$(PY) -m tools.e2e.cluster down

e2e-status: ## Which of the e2e cluster's processes run
	$(PY) -m tools.e2e.cluster status

# The scenarios start the cluster themselves (or use the one e2e-up left running) and stop what they
# started, also on failure or Ctrl-C; images come from `make image` (cached after test-containers).
# E2E_TESTS picks scenarios, e.g. `make e2e E2E_TESTS="tests/e2e/test_02_install.py tests/e2e/test_10_queued_jobs.py"`.
E2E_TESTS ?= tests/e2e
e2e: e2e-tools $(REGISTRY_BIN) ## Real Kubernetes on this machine: helm install, RayJob, RayService, NetworkPolicy, GPU pools (root)
	$(ensure_buildx)
	$(PY) -m pytest $(E2E_TESTS) -m e2e

# What e2e runs keep between runs (images in the node's containerd, the registry's blobs: gigabytes).
e2e-prune: e2e-down ## Remove what the e2e cluster keeps between runs (its containerd images, registry blobs, state)
	rm -rf /var/lib/ray-aks-e2e $(CACHE)/e2e
