# A Redis for the e2e cluster's GCS fault tolerance scenario: Debian's redis-server 7.0 (in
# production the Ray head keeps its state in Azure Cache for Redis; see `gcsFaultTolerance` in the
# chart's values). `make image IMAGES=redis` builds it as ray-aks-redis: on Debian's slim image from
# Docker Hub, or on the Debian root filesystem built here (RAY_BASE=local) when Docker Hub cannot be
# reached. It runs as an unprivileged user (Pod Security "restricted"), in memory only.
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# 7.0 is bookworm's Redis; the patch level follows Debian's security updates.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server=5:7.0.* \
 && rm -rf /var/lib/apt/lists/* \
 && redis-server --version
USER 1000:1000
WORKDIR /tmp
EXPOSE 6379
# No snapshots or append-only file: the head's state lives as long as this pod, which is all the
# test needs (a production Redis persists it). Protected mode off: the NetworkPolicies and the
# cluster network decide who connects.
ENTRYPOINT ["redis-server"]
CMD ["--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", "/tmp"]

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="ray-aks-redis" \
      org.opencontainers.image.description="Debian's redis-server 7.0 for the e2e cluster's GCS fault tolerance scenario" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.ray-aks.variant="cpu"
