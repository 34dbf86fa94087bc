#!/usr/bin/env python3
"""Generates the bundled demo catalog (client/demo/demo_catalog.csv): synthetic
tracks in the Spotify tracks CSV layout, drawn from per-genre feature
statistics, so it contains no row of the real data set.

    /usr/bin/python3 client/demo/make_demo_catalog.py \
        [--data ../shared/data/spotify_tracks.csv] [--per-genre 10]

With the data set, each genre's features are drawn from that genre's mean and
standard deviation (clipped to realistic ranges); without it, from the bundled
model's scaler (the same statistics for every genre). Deterministic."""
import argparse
import csv
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import spotify_features as sf  # noqa: E402

NUMERIC = ["duration_ms", "explicit", "danceability", "energy", "key", "loudness", "mode",
           "speechiness", "acousticness", "instrumentalness", "liveness", "valence", "tempo",
           "time_signature"]
HEADER = ["", "track_id", "artists", "album_name", "track_name", "popularity"] + NUMERIC + ["track_genre"]
INTEGER = {"duration_ms", "explicit", "key", "mode", "time_signature"}


def stats_from_data(path):
    import pandas as pd
    df = pd.read_csv(path)
    df["explicit"] = df["explicit"].astype(float)
    g = df.groupby("track_genre")[NUMERIC]
    return {genre: (g.mean().loc[genre].to_dict(), g.std().loc[genre].to_dict()) for genre in g.groups}


def stats_from_model(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        spec = json.load(f)
    feats = {f["name"]: f for f in spec["features"]}
    mean = {n: feats[n]["mean"] for n in NUMERIC}
    std = {n: feats[n]["scale"] for n in NUMERIC}
    return {genre: (mean, std) for genre in spec["categorical"]["values"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "spotify_tracks.csv"))
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "models", "bundled"))
    ap.add_argument("--per-genre", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "demo_catalog.csv"))
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    stats = stats_from_data(args.data) if os.path.exists(args.data) else stats_from_model(args.model_dir)
    rng = np.random.default_rng(args.seed)
    n = 0
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for genre in sorted(stats):
            mean, std = stats[genre]
            for _ in range(args.per_genre):
                row = [n, f"demo-{n:05d}", "Demo Artist", f"Demo {genre}", f"Demo track {n}", ""]
                for name in NUMERIC:
                    lo, hi = sf.FEATURES[name][1]
                    v = float(np.clip(rng.normal(mean[name], std[name]), lo, hi))
                    if name == "explicit":
                        v = bool(rng.random() < mean[name])
                    elif name in INTEGER:
                        v = int(round(v))
                    else:
                        v = round(v, 4)
                    row.append(v)
                row.append(genre)
                w.writerow(row)
                n += 1
    print(f"wrote {n} synthetic tracks to {args.out}")


if __name__ == "__main__":
    main()
