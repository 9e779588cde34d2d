#!/usr/bin/env bash
# A Debian root filesystem as a local image, the bottom of the Ray base built here when
# rayproject/ray cannot be pulled (tools/images/ray-base.sh): debootstrap from Debian's packages,
# brought in with `docker import`. Nothing is pulled from a container registry.
#
#   tools/images/debian-rootfs.sh <image name:tag>    # e.g. ray-aks-local/debian:bookworm
#
# The tarball is kept in $CACHE_DIR, so a second run (or a pruned image) only re-imports it.
set -euo pipefail

IMAGE=${1:?usage: $0 <image name:tag>}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Python 3.11 (bookworm's python3), venv for the Ray user's own environment, the CA bundle for pip.
PACKAGES=${DEBIAN_PACKAGES:-python3,python3-venv,ca-certificates,wget}
DOCKER=${DOCKER:-docker}
CACHE_DIR=${CACHE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/images}
TARBALL=$CACHE_DIR/debian-$SUITE-rootfs.tar

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "debian-rootfs: $IMAGE is already there"
  exit 0
fi

if [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null || {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || {
      echo "debian-rootfs: debootstrap is missing (apt-get install debootstrap, as root)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  mkdir -p "$CACHE_DIR"
  root=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "debian-rootfs: debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || {
    tail -n 20 "$root.log" >&2; exit 1; }
  rm -f "$root.log"
  # No package-manager caches in the image: the .debs debootstrap fetched and apt's lists.
  find "$root/var/cache/apt/archives" "$root/var/lib/apt/lists" -type f -delete
  rm -rf "$root/debootstrap"
  tar --numeric-owner --sort=name -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi

echo "debian-rootfs: importing $TARBALL as $IMAGE"
"$DOCKER" import \
  --change 'ENV LANG=C.UTF-8 LC_ALL=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap $SUITE minbase + $PACKAGES (tools/images/debian-rootfs.sh)" \
  "$TARBALL" "$IMAGE" >/dev/null
