#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan/UBSan, CUDA off;
# only what they need) and fuzzes each in turn for SECONDS_EACH seconds, one
# process at a time, on a scratch copy of its seed corpus and regression
# inputs (the repository's corpus never grows). Prints one line per target:
# seconds, executions, exec/s, final corpus size, crashes. Exits 1 when any
# target found a crash, leak, UB or timeout, naming the file that holds the
# input; reproduce with `$BUILD_DIR_FUZZ/tests/fuzz/<target>_fuzzer FILE`,
# then store it in tests/fuzz/regressions/<target>/ (tests/fuzz/README.md).
#   deploy/fuzz.sh [SECONDS_EACH] [TARGET...]   # default 30 s, every target
#   deploy/fuzz.sh 600 track_json               # ten minutes of one target
# Env: BUILD_DIR_FUZZ (default build-fuzz), JOBS (default nproc),
# FUZZ_WORK (the scratch corpora and crash files; default
# $BUILD_DIR_FUZZ/fuzz-work, emptied per target at each run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# target:max_len:dict (the longest input each target is given, in bytes: a
# few of its seeds' sizes; model_loader's seeds carry a whole tiny model).
all_targets=(
  model_loader:16384:json.dict
  track_json:4096:json.dict
  catalog_csv:4096:csv.dict
  optimize_request:4096:
  http_request:4096:json.dict
)

seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "deploy/fuzz.sh: SECONDS_EACH must be a whole number of seconds >= 1, got '$seconds'" >&2
  exit 2
fi
shift || true
declare -A known=()
for t in "${all_targets[@]}"; do known[${t%%:*}]=$t; done
selected=()
if [ $# -eq 0 ]; then
  selected=("${all_targets[@]}")
else
  for name in "$@"; do
    name=${name%_fuzzer}
    if [ -z "${known[$name]:-}" ]; then
      echo "deploy/fuzz.sh: unknown target '$name'; the targets are: ${!known[*]}" >&2
      exit 2
    fi
    selected+=("${known[$name]}")
  done
fi

build=${BUILD_DIR_FUZZ:-build-fuzz}
jobs=${JOBS:-$(nproc)}
work=${FUZZ_WORK:-$build/fuzz-work}

build_targets=()
for t in "${selected[@]}"; do build_targets+=("${t%%:*}_fuzzer"); done
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DNIO_FUZZ=ON \
  -DNIO_BUILD_TESTS=OFF -DNIO_BUILD_BENCH=OFF -DNIO_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${build_targets[@]}"

# ASan's default 256 MB quarantine of freed blocks, with its allocator's
# caches, took a target to 960 MB in 10 minutes (the gcc replay of the same
# inputs holds 13 MB): 64 MB keeps long runs well under -rss_limit_mb.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
summary=()
failed=0
for t in "${selected[@]}"; do
  IFS=: read -r name max_len dict <<<"$t"
  dir=$work/$name
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  # Dot files (.gitkeep) are no inputs.
  find "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name" -maxdepth 1 \
    -type f ! -name '.*' -exec cp -t "$dir/corpus" {} +
  args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10
        -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/")
  [ -n "$dict" ] && args+=(-dict="tests/fuzz/$dict")
  echo "== $name: ${seconds} s (log: $dir/fuzz.log)"
  start=$(date +%s)
  rc=0
  "$build/tests/fuzz/${name}_fuzzer" "${args[@]}" "$dir/corpus" >"$dir/fuzz.log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
  units=$(find "$dir/corpus" -type f | wc -l)
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    [ "$crashes" -eq 0 ] && crashes="? (exit $rc)"
    echo "deploy/fuzz.sh: $name failed (exit $rc); the end of its log:" >&2
    tail -n 40 "$dir/fuzz.log" >&2
    for f in "$dir"/artifacts/*; do
      [ -e "$f" ] && echo "deploy/fuzz.sh: $name: crash input $f (run: $build/tests/fuzz/${name}_fuzzer $f)" >&2
    done
  fi
  summary+=("$(printf '%-17s %7s %12s %8s %7s  %s' "$name" "$took" "${runs:-?}" "${rate:-?}" "$units" "$crashes")")
done

printf '%-17s %7s %12s %8s %7s  %s\n' target seconds executions exec/s corpus crashes
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "deploy/fuzz.sh: crashes found (files above); add each to tests/fuzz/regressions/<target>/ once fixed" >&2
  exit 1
fi
echo "deploy/fuzz.sh: no crashes"
