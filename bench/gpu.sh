#!/usr/bin/env bash
# On a machine with a GPU: builds with CUDA, runs the CPU/CUDA parity tests
# (seed-model fixture first, when ../shared is there) and the server-on-CUDA
# test, then the engine benchmark on the CUDA backend (tracks/s), a mixed
# load on a server on CUDA (one-track latency beside catalog streams, and the
# graph captures it caused) and the optimizer x starts x steps quality table
# on the GPU. Fails (never skips)
# without a device, with a driver older than the build needs, or when a CUDA
# test skips.
#   bench/gpu.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
# CUDA 13 needs driver R580 or newer; with an older one every CUDA test
# would skip and `auto` would quietly run on the CPU.
min_driver=580
if ! info=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader); then
  echo "bench/gpu.sh: no GPU here (nvidia-smi failed)" >&2
  exit 1
fi
echo "GPU: $info"
driver=$(echo "$info" | head -1 | awk -F', ' '{print $3}')
if [ "${driver%%.*}" -lt "$min_driver" ]; then
  echo "bench/gpu.sh: driver $driver is older than R$min_driver, which this CUDA 13 build needs" >&2
  exit 1
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIO_ENABLE_CUDA=ON
cmake --build "$build" -j "$(nproc)"
log=$(mktemp)
(cd "$build" && ctest --output-on-failure \
   -R 'seed_fixture_setup|CudaBackend|CudaServer|SeedParity') | tee "$log"
if grep -q "Skipped" "$log"; then
  echo "bench/gpu.sh: a CUDA test skipped (see above): the GPU was not used" >&2
  exit 1
fi
echo "== CUDA parity again on the unfused fallback (cuBLAS + bias/ReLU bodies) =="
(cd "$build" && NIO_CUDA_UNFUSED=1 ctest --output-on-failure -R 'CudaBackend|CudaServer')
model=${NIO_BENCH_MODEL:-models/bundled}
echo "== engine on CUDA (fp32), model $model =="
"$build/bench/nio_engine_bench" --backend cuda --model_dir "$model" \
  --batches 1,1024,8192,65536 --min_seconds 3 --single_track_runs 11
echo "== engine on CUDA (TF32), the whole catalog in slots =="
"$build/bench/nio_engine_bench" --backend cuda --allow_tf32 --model_dir "$model" \
  --batches 65536,131072 --min_seconds 3 --single_track_runs 0
echo "== the same on CPU, for the ratio =="
"$build/bench/nio_engine_bench" --backend cpu --model_dir "$model" --batches 1024 --min_seconds 3 \
  --single_track_runs 5
echo "== mixed load on CUDA: one-track latency beside catalog streams, graph captures =="
port=$((20000 + RANDOM % 20000))
http_port=$((port + 1))
"$build/service/nio-server" --backend cuda --model_dir "$model" \
  --listen "127.0.0.1:$port" --http_listen "127.0.0.1:$http_port" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 150); do
  "$build/client/nio" health --server "127.0.0.1:$port" >/dev/null 2>&1 && break
  kill -0 "$server" || { echo "bench/gpu.sh: nio-server on CUDA did not start" >&2; exit 1; }
  sleep 0.2
done
"$build/client/nio" bench --server "127.0.0.1:$port" --mixed --concurrency 8 --tracks 256 \
  --duration 10 --warmup 2
# Captures should stop growing once each block's row buckets have been seen.
curl -sf "http://127.0.0.1:$http_port/metrics" |
  grep -E '^nio_(step_graph_captures_total|steps_total)'
kill "$server"
wait "$server" || true
trap - EXIT
if [ -f ../shared/seed-model/nio_model_hybrid.pth ] && [ -f ../shared/data/spotify_tracks.csv ]; then
  echo "== suggestion quality on CUDA: the original app's model, 120 varied tracks =="
  q=$(mktemp -d)
  python3 models/tools/export_pytorch.py --state-dict ../shared/seed-model/nio_model_hybrid.pth \
    --scaler ../shared/seed-model/nio_scaler.pkl \
    --feature-names ../shared/seed-model/nio_feature_names.pkl --out "$q/seed" >/dev/null
  python3 bench/varied_tracks.py --model-dir "$q/seed" --out "$q/tracks.json" --seed 3
  "$build/bench/quality_bench" --backend cuda --model_dir "$q/seed" --tracks "$q/tracks.json" \
    --tolerances ""
fi
