"""The pipeline's fallback when the data set is absent: the student learns the
original app's model (../shared/seed-model) as its teacher, on inputs drawn
from the seed scaler's per-feature statistics, for every genre.

The seed model has the CSV's row index as an input (its leak). The file is
ordered by genre, 1000 rows each, in file-name byte order (so "indie-pop"
comes before "indie"), so each draw feeds the teacher an index inside its
genre's block. The student has no index input: it sees the other 127 columns
only. Nothing here reads a true label: every figure it reports is agreement
with the teacher on held-out draws.
"""
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import spotify_features as sf  # noqa: E402

INDEX = "Unnamed: 0"
ROWS_PER_GENRE = 1000


class SeedModel:
    """The original app's artifacts: Linear layers, the StandardScaler over
    its 128 columns, and their names in model order."""

    def __init__(self, seed_dir):
        import joblib
        import torch
        warnings.filterwarnings("ignore", message=".*unpickle estimator.*")
        state = torch.load(os.path.join(seed_dir, "nio_model_hybrid.pth"), map_location="cpu",
                           weights_only=True)
        keys = sorted((k for k, v in state.items() if k.endswith(".weight") and v.dim() == 2),
                      key=lambda k: int(k.split(".")[-2]))
        self.layers = [(state[k].double().numpy(), state[k[:-len("weight")] + "bias"].double().numpy())
                       for k in keys]
        scaler = joblib.load(os.path.join(seed_dir, "nio_scaler.pkl"))
        self.mean = np.asarray(scaler.mean_, np.float64)
        self.scale = np.asarray(scaler.scale_, np.float64)
        self.names = [str(n) for n in joblib.load(os.path.join(seed_dir, "nio_feature_names.pkl"))]
        if self.names[0] != INDEX:
            raise ValueError(f"{seed_dir}: first column is {self.names[0]!r}, expected the row index")
        if len(self.names) != self.layers[0][0].shape[1]:
            raise ValueError(f"{seed_dir}: {len(self.names)} names, first layer takes "
                             f"{self.layers[0][0].shape[1]}")

    def predict(self, x_raw):
        """Popularity for raw inputs (n, 128), in float64."""
        h = (x_raw - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i + 1 < len(self.layers):
                h = np.maximum(h, 0.0)
        return h[:, 0]


def genres_of(names, reference_genre):
    """All genres, alphabetically (the reference first), from the one-hot
    column names."""
    genres = [n[len(sf.GENRE_PREFIX):] for n in names if n.startswith(sf.GENRE_PREFIX)]
    return sorted(genres + [reference_genre])


def file_order(genres):
    """The genres in the order of their blocks in the CSV: the per-genre files
    joined in file-name byte order."""
    return sorted(genres, key=lambda g: (g + ".csv").encode())


def draw_inputs(seed, genres, per_genre, rng):
    """Raw inputs (n, 128) in the seed's column order: each numeric feature
    drawn from N(mean, scale) of the seed scaler, clipped to its realistic
    range (sf.FEATURES), binary and integer features rounded; per_genre draws
    for every genre, with a row index inside that genre's block of the file.
    Returns (x_raw, genre of each row)."""
    n = per_genre * len(genres)
    x = np.zeros((n, len(seed.names)), np.float64)
    row_genre = np.repeat(np.arange(len(genres)), per_genre)
    block = {g: i for i, g in enumerate(file_order(genres))}
    column = {name: c for c, name in enumerate(seed.names)}
    for name, (kind, (lo, hi), _, _) in sf.FEATURES.items():
        if name == INDEX or name not in column:
            continue
        c = column[name]
        values = rng.normal(seed.mean[c], seed.scale[c], n)
        if kind == "binary" or name in ("key", "time_signature"):
            values = np.round(values)
        x[:, c] = np.clip(values, lo, hi)
    starts = np.array([block[genres[g]] * ROWS_PER_GENRE for g in row_genre], np.float64)
    x[:, column[INDEX]] = starts + rng.integers(0, ROWS_PER_GENRE, n)
    for g, genre in enumerate(genres):
        c = column.get(sf.GENRE_PREFIX + genre)
        if c is not None:  # the reference genre has no column
            x[row_genre == g, c] = 1.0
    return x, row_genre
