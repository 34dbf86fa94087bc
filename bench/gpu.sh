#!/usr/bin/env bash
# On a machine with a GPU: builds with CUDA, runs the CPU/CUDA parity tests
# (seed-model fixture first, when ../shared is there) and the engine
# benchmark on the CUDA backend, printing tracks/s.
#   bench/gpu.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIO_ENABLE_CUDA=ON
cmake --build "$build" -j "$(nproc)"
(cd "$build" && ctest --output-on-failure -R 'seed_fixture_setup|CudaBackend|CudaServer|SeedParity')
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
