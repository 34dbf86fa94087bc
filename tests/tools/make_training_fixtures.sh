#!/usr/bin/env bash
# Runs the training pipeline end to end on a synthetic CSV (no real data), in
# its fast configuration, into OUT: the exported model, the pipeline's log,
# scaled inputs with PyTorch's predictions (check.json), the line numbers of
# the malformed rows the generator wrote (bad_lines.json), and a second run on
# the same data (model_again) to show the seeds are fixed. With SEED_DIR, also
# the fallback without data: the student distilled from the original app's
# model, into OUT/distilled (OUT/distilled/SKIP says why when it cannot run).
# Usage: make_training_fixtures.sh PYTHON OUT [SEED_DIR]
set -euo pipefail
python=$1 out=$2 seed=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$out"
mkdir -p "$out"
if ! "$python" -c 'import torch, sklearn, xgboost, pandas' 2>/dev/null; then
  echo "$python lacks torch/sklearn/xgboost/pandas" > "$out/SKIP"
  exit 0
fi
"$python" "$root/models/training/make_synthetic_csv.py" --rows 3000 --out "$out/synthetic.csv" \
  --bad-lines-out "$out/bad_lines.json"
"$python" "$root/models/training/train.py" --data "$out/synthetic.csv" --out "$out/model" --fast \
  --min-genre-rows 5 --threads 2 --check-out "$out/check.json" | tee "$out/train.log"
# Again on the same data: fixed seeds must give the same model, bit for bit.
"$python" "$root/models/training/train.py" --data "$out/synthetic.csv" --out "$out/model_again" \
  --fast --min-genre-rows 5 --threads 2 > "$out/train_again.log"

mkdir -p "$out/distilled"
if [ -z "$seed" ] || [ ! -f "$seed/nio_model_hybrid.pth" ]; then
  echo "no seed model at '${seed}'" > "$out/distilled/SKIP"
  exit 0
fi
# A data path that does not exist: the pipeline must fall back to the seed.
"$python" "$root/models/training/train.py" --data "$out/no-such-data.csv" --seed-model "$seed" \
  --out "$out/distilled/model" --fast --threads 2 --check-out "$out/distilled/check.json" \
  | tee "$out/distilled/train.log"
