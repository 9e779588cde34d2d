# The ray-aks log collector: the chart's log sidecar in every Ray pod (values `logging`) and the e2e
# cluster's in-cluster collector. One static binary, an OpenTelemetry Collector assembled from
# tools/otelcol/builder-config.yaml by the pinned collector builder; `make image` builds the binary
# first (make/images.mk) and builds this with the binary's folder as the context:
#   docker buildx build -f images/log-collector.Dockerfile bin/log-collector-<sum>/
# Nothing else is in the image (no shell, no libc): nothing to patch but the binary.
FROM scratch
COPY ray-aks-log-collector /ray-aks-log-collector
# An unprivileged user; the chart's pods run it as the Ray pods' uid (1000), which can read Ray's logs.
USER 65532:65532
ENTRYPOINT ["/ray-aks-log-collector"]

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="ray-aks-log-collector" \
      org.opencontainers.image.description="OpenTelemetry Collector (filelog and OTLP receivers, batch processor, OTLP, debug and file exporters) that ships Ray's log files off the Ray pods" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
