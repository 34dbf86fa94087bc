#!/usr/bin/env bash
# Converts the original app's model (../shared/seed-model) into the NIO format
# and runs the PyTorch reference on varied tracks, into OUT (a build folder).
# Prints a skip note and exits 0 when the seed model or torch is absent; the
# parity test then skips with the same reason.
# Usage: make_seed_fixtures.sh PYTHON SEED_DIR OUT
set -euo pipefail
python=$1 seed=$2 out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$out"
mkdir -p "$out"
if [ ! -f "$seed/nio_model_hybrid.pth" ]; then
  echo "no seed model at $seed" > "$out/SKIP"
  echo "skip: no seed model at $seed"
  exit 0
fi
if ! "$python" -c 'import torch, sklearn, joblib' 2>/dev/null; then
  echo "$python lacks torch/sklearn/joblib" > "$out/SKIP"
  echo "skip: $python lacks torch/sklearn/joblib"
  exit 0
fi
"$python" "$root/models/tools/export_pytorch.py" --state-dict "$seed/nio_model_hybrid.pth" \
  --scaler "$seed/nio_scaler.pkl" --feature-names "$seed/nio_feature_names.pkl" \
  --out "$out/model" --name original-hybrid --version 1
"$python" "$root/bench/reference_nio.py" tracks --model-dir "$out/model" --count 64 --seed 11 \
  --out "$out/tracks.json"
# Whole values for integer/binary features, numeric mutable sets, projected
# starts inside the effective box (the reference does not widen the box).
"$python" "$root/tests/tools/fit_tracks_to_model.py" "$out/model" "$out/tracks.json"
# The reference reads the original artifacts directly, so the exporter is
# checked too.
"$python" "$root/bench/reference_nio.py" golden --seed-dir "$seed" --tracks "$out/tracks.json" \
  --out "$out/golden.json"
