#!/usr/bin/python3
"""Writes a set of varied real tracks as a tracks JSON for quality_bench: one
random row of the data set for each of --count random genre draws, with the
features of the model at --model-dir (so the original app's model gets its
"Unnamed: 0" input, the row index, as pandas names the file's first
column). Reproducible with --seed. Reads ../shared/data/spotify_tracks.csv."""
import argparse
import json
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data",
                                                   "spotify_tracks.csv"))
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(os.path.join(args.model_dir, "model.json")) as f:
        spec = json.load(f)
    names = [f["name"] for f in spec["features"] if f.get("kind") != "one_hot"]
    df = pd.read_csv(args.data)
    df = df[df.tempo > 0]  # tempo 0 is outside the valid range
    rng = np.random.default_rng(args.seed)
    genres = sorted(df.track_genre.unique())
    tracks = []
    for i, genre in enumerate(rng.choice(genres, args.count, replace=True)):
        rows = df[df.track_genre == genre]
        row = rows.iloc[rng.integers(len(rows))]
        features = {n: float(row[n]) for n in names if n in row.index}
        tracks.append({"id": f"v{i:03d}", "genre": str(genre), "features": features})
    with open(args.out, "w") as f:
        json.dump({"tracks": tracks}, f)


if __name__ == "__main__":
    main()
