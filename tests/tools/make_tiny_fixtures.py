#!/usr/bin/env python3
"""Makes the committed test fixtures: a small random MLP in the NIO model
format (tests/data/tiny_model/), varied tracks for it and the PyTorch
reference's results on them (tests/data/tiny_golden.json).

    /usr/bin/python3 tests/tools/make_tiny_fixtures.py

Deterministic (fixed seeds): rerunning rewrites identical files on the same
torch version. The weights are random, not trained: the point is the math.
"""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import export_pytorch  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data")
NUMERIC = ["duration_ms", "explicit", "danceability", "energy", "loudness",
           "mode", "acousticness", "valence", "tempo"]
GENRES = ["acoustic", "chill", "edm", "pop", "sad"]  # acoustic is the reference
HIDDEN = [24, 16, 8]


def main():
    rng = np.random.default_rng(20261124)
    names = NUMERIC + ["track_genre_" + g for g in GENRES[1:]]
    sizes = [len(names)] + HIDDEN + [1]
    state = {}
    for i in range(len(sizes) - 1):
        bound = 1.0 / np.sqrt(sizes[i])
        state[f"net.{3 * i}.weight"] = rng.uniform(-bound, bound, (sizes[i + 1], sizes[i])).astype(np.float32) * 2
        state[f"net.{3 * i}.bias"] = rng.uniform(-bound, bound, sizes[i + 1]).astype(np.float32)
    state[f"net.{3 * (len(sizes) - 2)}.bias"][:] = 40.0  # popularity-like offset
    mean = {"duration_ms": 228000.0, "explicit": 0.08, "danceability": 0.57, "energy": 0.64,
            "loudness": -8.3, "mode": 0.64, "acousticness": 0.31, "valence": 0.47, "tempo": 122.0}
    scale = {"duration_ms": 107000.0, "explicit": 0.28, "danceability": 0.17, "energy": 0.25,
             "loudness": 5.0, "mode": 0.48, "acousticness": 0.33, "valence": 0.26, "tempo": 30.0}
    m = [mean.get(n, 0.2) for n in names]
    s = [scale.get(n, 0.4) for n in names]
    out = os.path.join(DATA, "tiny_model")
    export_pytorch.export(state, m, s, names, out, "tiny-random", "1",
                          "Random weights for tests (not a trained model)")
    ref = [sys.executable, os.path.join(ROOT, "bench", "reference_nio.py")]
    tracks = os.path.join(DATA, "tiny_tracks.json")
    subprocess.run(ref + ["tracks", "--model-dir", out, "--count", "40", "--seed", "7", "--out", tracks],
                   check=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "tools", "fit_tracks_to_model.py"), out, tracks],
                   check=True)
    subprocess.run(ref + ["golden", "--model-dir", out, "--tracks", tracks, "--out", os.path.join(DATA, "tiny_golden.json")], check=True)


if __name__ == "__main__":
    main()
