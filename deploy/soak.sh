#!/usr/bin/env bash
# Soak: nio-server under a mixed load for MINUTES (default 10): catalog
# streams, one-track interactive gRPC calls and HTTP calls at once; a row
# every 30 s (elapsed, server RSS, CPU, calls OK, errors by code, interactive
# p50/p99, catalog tracks/s), then a summary; exit 1 on any error, RSS growth
# beyond the bound, or a server that does not drain or exit 0. The driver is
# bench/soak.py (its --help lists the rates and bounds).
#   deploy/soak.sh [MINUTES] [bench/soak.py flags...]
#   deploy/soak.sh 10
#   deploy/soak.sh 2 --interval 10 --interactive-rate 20
# Env: BUILD_DIR (default build; the server is $BUILD_DIR/service/nio-server,
# built beforehand), NIO_SERVER (that binary instead), NIO_SOAK_MODEL_DIR (a
# model directory; default the bundled model).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
if ! [[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "deploy/soak.sh: MINUTES must be a number, got '$minutes'" >&2
  exit 2
fi
shift || true
server=${NIO_SERVER:-${BUILD_DIR:-build}/service/nio-server}
if [ ! -x "$server" ]; then
  echo "deploy/soak.sh: no $server: build it (cmake --build build --target nio-server)" \
       "or set NIO_SERVER" >&2
  exit 2
fi
model=()
[ -n "${NIO_SOAK_MODEL_DIR:-}" ] && model=(--model-dir "$NIO_SOAK_MODEL_DIR")
exec /usr/bin/python3 bench/soak.py --server "$server" --minutes "$minutes" "${model[@]}" "$@"
