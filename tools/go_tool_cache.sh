#!/usr/bin/env bash
# Runs a tool's `go install` into OUT, or takes OUT's files from the tool cache when an earlier run
# (any clone of this repository on this machine) built the same thing:
#
#   GO_TOOL_CACHE=~/.cache/ray-aks/go-tools tools/go_tool_cache.sh OUT DIR -- go install ARGS...
#
# Go's build cache keeps compiled packages but not linked programs, so every fresh clone linked all
# of make test's tools again (about 2 minutes of CPU on 2 cores). The cache key is everything the
# binaries depend on: the command (package@version, ldflags), the Go version and target, and for a
# wrapper module or a program in this repo (DIR, not "-") every file in that folder; a module version
# is immutable (go.sum). The command runs in DIR with GOBIN=OUT; OUT must be absolute.
# GO_TOOL_CACHE empty: no cache, the command just runs.
set -euo pipefail

usage() { echo "usage: GO_TOOL_CACHE=DIR $0 OUT DIR|- -- COMMAND..." >&2; exit 2; }
[ $# -ge 4 ] && [ "$3" = -- ] || usage
out=$1 dir=$2
shift 3
case $out in /*) ;; *) echo "$0: OUT must be an absolute path, not '$out'" >&2; exit 2 ;; esac

build() { (if [ "$dir" != - ]; then cd "$dir"; fi && env GOBIN="$out" "$@"); }

if [ -z "${GO_TOOL_CACHE:-}" ]; then
  build "$@"
  exit
fi

# The command's leading VAR=value words and its go: `go env` as the build sees it (in DIR, whose
# go.mod may ask for another toolchain).
command=("$@") assignments=() i=0
while [[ ${command[i]:-} == *=* ]]; do assignments+=("${command[i]}"); i=$((i + 1)); done
[ -n "${command[i]:-}" ] || usage
go_env=$( (if [ "$dir" != - ]; then cd "$dir"; fi && env "${assignments[@]}" "${command[i]}" env \
  GOVERSION GOOS GOARCH GOAMD64 GOEXPERIMENT GOFLAGS CGO_ENABLED))

key=$(
  {
    printf '%s\n' "$@" "$go_env"
    if [ "$dir" != - ]; then
      printf '%s\n' "$dir"
      (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    fi
  } | sha256sum | cut -c1-32
)
entry=$GO_TOOL_CACHE/$key

if [ -d "$entry" ]; then
  mkdir -p "$out"
  # Hard links where the cache shares the filesystem (no second copy on disk), else copies. Fresh
  # mtimes: make compares them with the tool's sources.
  cp -al "$entry/." "$out/" 2>/dev/null || cp -a "$entry/." "$out/"
  find "$out" -type f -exec touch {} +
  echo "go tool cache: $(basename "$out") from $entry"
  exit
fi

build "$@"
mkdir -p "$GO_TOOL_CACHE"
tmp=$(mktemp -d "$GO_TOOL_CACHE/.tmp-XXXXXX")
{ cp -al "$out/." "$tmp/" 2>/dev/null || cp -a "$out/." "$tmp/"; } \
  && mv -T "$tmp" "$entry" 2>/dev/null || rm -rf "$tmp"
