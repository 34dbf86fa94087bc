#!/usr/bin/env python3
"""Side-by-side speed of NIO on the same tracks, in one invocation: the PyTorch
reference per track (as the original app runs it) and batched, and this
engine at several batch sizes; prints tracks/s at 300 steps and the ratios.

    /usr/bin/python3 bench/compare.py --build build [--model-dir DIR]

With no --model-dir it uses the original app's model converted on the fly
from ../shared/seed-model when present (the model the issue's figures are
about), else the bundled model.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PY = "/usr/bin/python3"


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model-dir")
    ap.add_argument("--batches", default="1,64,1024,8192")
    ap.add_argument("--torch-batch", type=int, default=4096)
    ap.add_argument("--torch-per-track", type=int, default=8)
    ap.add_argument("--tracks", type=int, default=256, help="distinct tracks (repeated to fill batches)")
    ap.add_argument("--min-seconds", type=float, default=2.0)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="nio-bench-")
    model_dir = args.model_dir
    if not model_dir:
        seed = os.path.join(ROOT, "..", "shared", "seed-model")
        if os.path.exists(os.path.join(seed, "nio_model_hybrid.pth")):
            model_dir = os.path.join(tmp, "seed")
            subprocess.run([PY, os.path.join(ROOT, "models", "tools", "export_pytorch.py"),
                            "--state-dict", os.path.join(seed, "nio_model_hybrid.pth"),
                            "--scaler", os.path.join(seed, "nio_scaler.pkl"),
                            "--feature-names", os.path.join(seed, "nio_feature_names.pkl"),
                            "--out", model_dir], check=True, capture_output=True)
        else:
            model_dir = os.path.join(ROOT, "models", "bundled")
    tracks = os.path.join(tmp, "tracks.json")
    ref = os.path.join(ROOT, "bench", "reference_nio.py")
    subprocess.run([PY, ref, "tracks", "--model-dir", model_dir, "--count", str(args.tracks),
                    "--seed", "3", "--out", tracks], check=True)
    print(f"model: {model_dir}\ntracks: {args.tracks} distinct, 300 steps, reference mode defaults", flush=True)

    torch_res = run([PY, ref, "bench", "--model-dir", model_dir, "--tracks", tracks,
                     "--per-track", str(args.torch_per_track), "--batch", str(args.torch_batch)])[0]
    engine = run([os.path.join(args.build, "bench", "nio_engine_bench"), "--model_dir", model_dir,
                  "--tracks", tracks, "--batches", args.batches, "--min_seconds", str(args.min_seconds)])
    per_track = torch_res["per_track_tracks_per_s"]
    batched = torch_res["batched_tracks_per_s"]
    rows = [(f"PyTorch per track ({torch_res['per_track_tracks']} tracks)", per_track),
            (f"PyTorch batched (B={torch_res['batched_size']}, {torch_res['torch_threads']} threads)", batched)]
    latency = None
    for e in engine:
        if "batch" in e:
            rows.append((f"engine B={e['batch']} ({e['engine']}; median of {e['runs']})",
                         e["tracks_per_s_median"]))
        else:
            latency = e
    print(f"\n{'':60s} {'tracks/s':>10s} {'vs torch/track':>15s} {'vs torch batched':>17s}")
    for name, rate in rows:
        print(f"{name:60s} {rate:10.1f} {rate / per_track:14.1f}x {rate / batched:16.2f}x")
    if latency:
        print(f"\nsingle track, 300 steps: p50 {latency['single_track_ms_p50']:.1f} ms, "
              f"p90 {latency['single_track_ms_p90']:.1f} ms ({latency['runs']} runs)")


if __name__ == "__main__":
    sys.exit(main())
