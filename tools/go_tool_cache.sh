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

# In DIR, where the command builds: a wrapper module's go.mod also picks the toolchain.
in_dir() { (if [ "$dir" != - ]; then cd "$dir"; fi && "$@"); }
build() { in_dir env GOBIN="$out" "$@"; }
# Hard links where both folders share a filesystem (no second copy on disk), else copies.
link_or_copy() { cp -al "$1/." "$2/" 2>/dev/null || cp -a "$1/." "$2/"; }

if [ -z "${GO_TOOL_CACHE:-}" ]; then
  build "$@"
  exit
fi

# The command's leading VAR=value words and its go: `go env` as the build sees it.
words=("$@") assignments=() i=0
while [[ ${words[i]:-} == *=* ]]; do assignments+=("${words[i]}"); i=$((i + 1)); done
[ -n "${words[i]:-}" ] || usage
go_env=$(in_dir env "${assignments[@]}" "${words[i]}" env GOVERSION GOOS GOARCH GOAMD64 GOEXPERIMENT GOFLAGS CGO_ENABLED)

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
  link_or_copy "$entry" "$out"
  # Fresh mtimes: make compares them with the tool's sources.
  find "$out" -type f -exec touch {} +
  echo "go tool cache: $(basename "$out") from $entry"
  exit
fi

build "$@"
mkdir -p "$GO_TOOL_CACHE"
tmp=$(mktemp -d "$GO_TOOL_CACHE/.tmp-XXXXXX")
link_or_copy "$out" "$tmp" && mv -T "$tmp" "$entry" 2>/dev/null || rm -rf "$tmp"
