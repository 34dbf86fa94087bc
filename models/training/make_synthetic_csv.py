#!/usr/bin/env python3
"""Writes a synthetic CSV in the Spotify tracks layout (no row of the real data
set): a few thousand rows whose popularity is a noisy function of the
features and the genre, plus a handful of malformed rows, for the pipeline's
end-to-end test. As in the real data set, some tracks (every tenth) are listed
a second time under another genre, with the same id, features and popularity.

    /usr/bin/python3 models/training/make_synthetic_csv.py --rows 3000 --out synth.csv

Prints the line numbers of the malformed rows it wrote, as JSON, to
--bad-lines-out when given."""
import argparse
import csv
import json

import numpy as np

GENRES = ["acoustic", "ambient", "chill", "edm", "metal", "pop", "rock", "sad"]
HEADER = ["", "track_id", "artists", "album_name", "track_name", "popularity", "duration_ms",
          "explicit", "danceability", "energy", "key", "loudness", "mode", "speechiness",
          "acousticness", "instrumentalness", "liveness", "valence", "tempo", "time_signature",
          "track_genre"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bad-lines-out")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bad_lines = {}
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        line = 1
        for i in range(args.rows):
            g = int(rng.integers(len(GENRES)))
            dance, energy, valence = rng.uniform(0, 1, 3)
            loud = -20 + 18 * energy + rng.normal(0, 2)
            tempo = rng.uniform(60, 200)
            acoustic = float(np.clip(1 - energy + rng.normal(0, 0.1), 0, 1))
            pop = 20 + 30 * dance + 10 * valence + 4 * g - 15 * acoustic + rng.normal(0, 5)
            row = [i, f"id{i:06d}", f"artist{i % 97}", f"album{i % 31}", f"track{i}",
                   int(np.clip(round(pop), 0, 100)), int(rng.uniform(90000, 400000)),
                   bool(rng.random() < 0.1), round(dance, 3), round(energy, 3), int(rng.integers(0, 12)),
                   round(loud, 3), int(rng.integers(0, 2)), round(rng.uniform(0.02, 0.5), 4),
                   round(acoustic, 4), round(rng.uniform(0, 1) ** 4, 5), round(rng.uniform(0.05, 0.6), 3),
                   round(valence, 3), round(tempo, 3), 4, GENRES[g]]
            line += 1
            if i in (17, 251, 1202, 2222):
                kind = (17, 251, 1202, 2222).index(i)
                if kind == 0:
                    row = row[:12]
                    bad_lines[line] = "fields"
                elif kind == 1:
                    row[8] = "very danceable"
                    bad_lines[line] = "danceability"
                elif kind == 2:
                    row[-1] = "polka-zz"
                    bad_lines[line] = "track_genre"
                else:
                    row[5] = ""
                    bad_lines[line] = "popularity"
            w.writerow(row)
            if i % 10 == 3 and line not in bad_lines:
                again = list(row)
                again[0] = f"{i}b"
                again[-1] = GENRES[(g + 1 + int(rng.integers(len(GENRES) - 1))) % len(GENRES)]
                w.writerow(again)
                line += 1
    if args.bad_lines_out:
        with open(args.bad_lines_out, "w") as f:
            json.dump(bad_lines, f)


if __name__ == "__main__":
    main()
