#!/usr/bin/env bash
# The main job on the bundled model: installs the Debian packages, builds the
# server and the CLI, starts nio-server on a free loopback port, optimizes the
# bundled demo catalog through `nio batch`, prints the summary and one track's
# report, and stops the server.
#   deploy/demo.sh            # from the repository root
# Env: BUILD_DIR (default build), JOBS (default nproc), OUT (default
# out/demo_results.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install_deps.sh

build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
out=${OUT:-out/demo_results.csv}
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" --target nio-server nio

mkdir -p "$(dirname "$out")"
log=$(mktemp)
"$build/service/nio-server" --listen 127.0.0.1:0 --http_listen 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  grep -q "listening on" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"
address=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -1)

echo
echo "== nio batch: the demo catalog (client/demo/demo_catalog.csv) =="
"$build/client/nio" batch --server "$address" --input client/demo/demo_catalog.csv \
  --output "$out" --progress plain
echo
echo "== nio optimize --preset chill =="
"$build/client/nio" optimize --server "$address" --preset chill
