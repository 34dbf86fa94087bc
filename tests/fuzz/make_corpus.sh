#!/usr/bin/env bash
# Regenerates the seeds of tests/fuzz/corpus/ that are binary or derived:
# optimize_request/ from the text protos in seeds/ (protoc --encode), and
# model_loader/ from the committed tiny model (tests/data/tiny_model):
# model.json, a NUL byte, weights.safetensors. The other seeds are written
# by hand. Run from anywhere; writes only under tests/fuzz/corpus/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
corpus=$here/corpus

for txt in "$here"/seeds/optimize_request_*.txtpb; do
  name=$(basename "$txt" .txtpb)
  protoc -I "$root/proto" --encode=nio.v1.OptimizeRequest nio/v1/nio.proto \
    < "$txt" > "$corpus/optimize_request/${name#optimize_request_}.bin"
done

tiny=$root/tests/data/tiny_model
{ cat "$tiny/model.json"; printf '\0'; cat "$tiny/weights.safetensors"; } \
  > "$corpus/model_loader/tiny_model.bin"
# The same spec minified (a smaller seed), and the weights with no spec.
{ /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])),separators=(",",":")))' \
    "$tiny/model.json"; printf '\0'; cat "$tiny/weights.safetensors"; } \
  > "$corpus/model_loader/tiny_model_min.bin"
{ printf '{}\0'; cat "$tiny/weights.safetensors"; } > "$corpus/model_loader/weights_only.bin"
echo "make_corpus: wrote $(ls "$corpus/optimize_request" | wc -l) optimize_request and $(ls "$corpus/model_loader" | wc -l) model_loader seeds"
