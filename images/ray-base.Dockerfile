# The Ray base built here: a local stand-in for rayproject/ray:<RAY_VERSION>-py311-<cpu|gpu> when
# that image cannot be pulled (no Docker Hub). `make image` builds it only then (RAY_BASE=local) and
# tags it ray-aks-local/ray:<RAY_VERSION>-py311-cpu and -gpu, the same image: the GPU build runs on
# the CUDA libraries that PyTorch's wheels bring, and the node's driver (AKS GPU pools) does the rest.
# Like upstream: Ray <RAY_VERSION> on Python 3.11, user ray (uid 1000, group 100, home /home/ray)
# owning the Python environment, so the images' `pip install` runs unprivileged. README lists how it
# differs from upstream's. The bottom layer is Debian's own packages (tools/images/debian-rootfs.sh).
ARG DEBIAN_IMAGE=ray-aks-local/debian:bookworm
FROM ${DEBIAN_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Upstream's ray user: uid 1000, primary group users (100).
RUN useradd --uid 1000 --gid 100 --create-home --home-dir /home/ray --shell /bin/bash ray
USER 1000:100
WORKDIR /home/ray
ENV PATH=/home/ray/venv/bin:${PATH} \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
RUN python3 -m venv /home/ray/venv

# Ray, with the extras the workloads use, at the versions of the project's one lock. A TLS-inspecting
# proxy's CA (make image passes $PIP_CERT as this secret) is used for this one command, never stored.
ARG RAY_VERSION=2.60.0
COPY --chown=1000:100 workloads/requirements.lock /tmp/ray-aks/workloads/requirements.lock
RUN --mount=type=secret,id=pip-ca-bundle,uid=1000 \
    if [ -s /run/secrets/pip-ca-bundle ]; then export PIP_CERT=/run/secrets/pip-ca-bundle; fi \
 && python -m pip install --no-cache-dir --constraint /tmp/ray-aks/workloads/requirements.lock \
      "ray[data,train,tune,serve]==${RAY_VERSION}" \
 && rm -rf /tmp/ray-aks \
 && ray --version
