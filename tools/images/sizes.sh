#!/usr/bin/env bash
# An image's size and its five largest layers, with the instruction that made each.
#   tools/images/sizes.sh <image reference>
set -euo pipefail
IMAGE=${1:?usage: $0 <image>}
DOCKER=${DOCKER:-docker}
size=$("$DOCKER" image inspect --format '{{.Size}}' "$IMAGE")
echo "$IMAGE: $((size / 1000000)) MB"
"$DOCKER" history --no-trunc --human=false --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" \
  | sort -n -r -k1,1 | head -n 5 \
  | awk -F'\t' '{ printf "  %8.0f MB  %s\n", $1 / 1000000, substr($2, 1, 140) }'
