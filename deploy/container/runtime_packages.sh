#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries the given
# binaries load, one per line: what a runtime image installs, so that it holds
# those libraries and nothing of the build. Libraries no package holds (none
# on Debian; a CUDA base image's own) are left to the base image.
#   deploy/container/runtime_packages.sh BINARY...
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
for binary in "$@"; do
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
  # dpkg knows a library by the path its package installed, which on a
  # merged-/usr system is either the link ldd names or its target.
  { dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null ||
    true; } | cut -d: -f1
done | sort -u
