#!/usr/bin/env bash
# Fail, before anything is built, unless the engine has a login for the registry `make push` pushes
# to: `docker login <registry>` (ACR: `az acr login --name <acr>`, which make push runs itself).
#   tools/images/require-login.sh <registry host[:port]>
set -euo pipefail
REGISTRY=${1:?usage: $0 <registry>}
DOCKER=${DOCKER:-docker}

if [ "$(basename "$DOCKER")" = podman ]; then
  podman login --get-login "$REGISTRY" >/dev/null 2>&1 && exit 0
else
  # docker records every login under "auths" (the secret itself may sit in a credential store).
  config=${DOCKER_CONFIG:-$HOME/.docker}/config.json
  if [ -f "$config" ] && python3 - "$config" "$REGISTRY" <<'PY'
import json, sys
config, registry = json.load(open(sys.argv[1])), sys.argv[2]
known = set(config.get("auths", {})) | set(config.get("credHelpers", {}))
sys.exit(0 if registry in known or f"https://{registry}" in known else 1)
PY
  then exit 0; fi
fi
echo "push: not logged in to $REGISTRY: run '$DOCKER login $REGISTRY' first (for ACR: make push ACR_NAME=<name>, which runs az acr login)" >&2
exit 1
