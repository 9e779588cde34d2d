#!/usr/bin/env bash
# The Docker engine `make image` builds with, on a machine that has none running (CI, a fresh VM).
#
#   tools/images/docker-engine.sh start   # install Debian's docker.io if dockerd is missing, start it
#   tools/images/docker-engine.sh stop    # stop the engine only if `start` started it
#   tools/images/docker-engine.sh status  # exit 0 if an engine answers
#
# An engine that already answers (Docker Desktop, a system service) is used as it is and never
# stopped. One started here runs in its own process group, logs to $STATE/dockerd.log, and is
# remembered in $STATE/dockerd.pid so that `stop` ends exactly it (and the containerd it started).
set -euo pipefail

STATE=${DOCKER_ENGINE_STATE:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/docker-engine}
PIDFILE=$STATE/dockerd.pid
DOCKER=${DOCKER:-docker}

answers() { "$DOCKER" info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

install_engine() {
  if command -v dockerd >/dev/null; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "docker-engine: no Docker engine answers and none can be installed here (needs root and apt-get):" >&2
    echo "  start your own Docker engine, or use another engine with DOCKER=podman" >&2
    exit 1
  fi
  echo "docker-engine: installing Debian's docker.io (dockerd, containerd, runc)"
  # Only the engine: the docker client on PATH (if any) is kept; Debian's is used otherwise.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  }
}

start() {
  if answers; then
    echo "docker-engine: an engine already answers ($("$DOCKER" info --format '{{.ServerVersion}}')); using it"
    return
  fi
  install_engine
  mkdir -p "$STATE"
  echo "docker-engine: starting dockerd (log: $STATE/dockerd.log)"
  setsid dockerd --host unix:///var/run/docker.sock >"$STATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if answers; then
      echo "docker-engine: dockerd $("$DOCKER" info --format '{{.ServerVersion}}') is up (pid $(cat "$PIDFILE"))"
      return
    fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.5
  done
  echo "docker-engine: dockerd did not come up; the end of its log:" >&2
  tail -n 20 "$STATE/dockerd.log" >&2
  stop
  exit 1
}

stop() {
  [ -f "$PIDFILE" ] || { echo "docker-engine: not started here; nothing to stop"; return; }
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    # dockerd stops its containers and its containerd before it exits (up to its shutdown timeout).
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "docker-engine: stopped dockerd (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
