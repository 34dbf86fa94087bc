"""Teacher-labelled genre swaps: extra inputs on which the hybrid student
learns the XGBoost teacher's predictions (distillation on more inputs than
the training rows).

Why genre swaps: a third of the tracks in the data set are listed under
several genres with one popularity (a track's popularity does not depend on
the genre it is filed under), so the same audio features come back under
another genre. Trained on the real rows alone, the MLP keys its prediction on
the genre and misses those tracks; the teacher's predictions on a training
track's features under other genres show it what the features alone say.
No true label of a swapped row is claimed: its only target is the teacher's.

Two ways to pick the new genre: "uniform" (any other genre) and "colisted"
(a genre that tracks of this genre are also listed under in the training
split, by how often).
"""
import numpy as np


def genre_of_rows(x_raw, n_numeric):
    """Index of each row's genre: 0 = the reference (no one-hot column set),
    g = the genre of one-hot column g - 1."""
    onehot = x_raw[:, n_numeric:]
    return np.where(onehot.sum(1) > 0, np.argmax(onehot, 1) + 1, 0)


def colisting_counts(genre, track_ids, n_genres):
    """(G, G) counts: how many tracks are listed under both genre a and b."""
    by_track = {}
    for g, track in zip(genre, track_ids):
        by_track.setdefault(track, set()).add(int(g))
    counts = np.zeros((n_genres, n_genres))
    for genres in by_track.values():
        for a in genres:
            for b in genres:
                if a != b:
                    counts[a, b] += 1
    return counts


def genre_swaps(x_raw, n_numeric, how, rng, track_ids=None):
    """A copy of x_raw (raw inputs, one-hot genres after n_numeric numeric
    columns) with every row's genre replaced by another. how: "uniform" or
    "colisted" (needs track_ids; a genre without co-listings falls back to
    uniform)."""
    n_genres = x_raw.shape[1] - n_numeric + 1
    current = genre_of_rows(x_raw, n_numeric)
    new = (current + rng.integers(1, n_genres, len(current))) % n_genres
    if how == "colisted":
        counts = colisting_counts(current, track_ids, n_genres)
        for g in range(n_genres):
            rows = np.nonzero(current == g)[0]
            total = counts[g].sum()
            if len(rows) and total > 0:
                new[rows] = rng.choice(n_genres, size=len(rows), p=counts[g] / total)
    elif how != "uniform":
        raise ValueError(f"unknown genre swap {how!r}")
    swapped = x_raw.copy()
    swapped[:, n_numeric:] = 0.0
    rows = np.nonzero(new > 0)[0]
    swapped[rows, n_numeric + new[rows] - 1] = 1.0
    return swapped
