#!/usr/bin/env python3
"""Checks models/training/augment.py's genre swaps on a small hand-made table
(run by ctest): numeric columns untouched, exactly one genre per row and never
the row's own, "colisted" only picks genres its tracks are co-listed under,
and unknown modes are refused. Exits non-zero with a message on failure."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models",
                                "training"))
import augment  # noqa: E402


def check(condition, message):
    if not condition:
        sys.exit(f"check_genre_swaps: {message}")


def table(genres, n_numeric, n_genres, rng):
    x = np.zeros((len(genres), n_numeric + n_genres - 1))
    x[:, :n_numeric] = rng.normal(size=(len(genres), n_numeric))
    for r, g in enumerate(genres):
        if g > 0:
            x[r, n_numeric + g - 1] = 1.0
    return x


def main():
    rng = np.random.default_rng(3)
    n_numeric, n_genres = 3, 6
    genres = np.array([0, 1, 2, 3, 4, 5] * 50)
    x = table(genres, n_numeric, n_genres, rng)
    check(np.array_equal(augment.genre_of_rows(x, n_numeric), genres), "genre_of_rows")

    swapped = augment.genre_swaps(x, n_numeric, "uniform", np.random.default_rng(1))
    check(np.array_equal(swapped[:, :n_numeric], x[:, :n_numeric]), "uniform: numeric columns changed")
    check(np.all(swapped[:, n_numeric:].sum(1) <= 1), "uniform: more than one genre set")
    new = augment.genre_of_rows(swapped, n_numeric)
    check(np.all(new != genres), "uniform: a row kept its own genre")
    check(len(set(new.tolist())) == n_genres, f"uniform: only genres {sorted(set(new.tolist()))} drawn")

    # Co-listings: genres 1-2 (one track), 3-4 and 3-5; genre 0 has none, so
    # its rows fall back to a uniform draw.
    ids = [f"t{r}" for r in range(len(genres))]
    ids[1], ids[2] = "shared12", "shared12"
    ids[3], ids[4] = "shared34", "shared34"
    ids[9], ids[11] = "shared35", "shared35"
    swapped = augment.genre_swaps(x, n_numeric, "colisted", np.random.default_rng(2), ids)
    new = augment.genre_of_rows(swapped, n_numeric)
    check(np.all(new[genres == 1] == 2), "colisted: genre 1 must go to 2")
    check(np.all(new[genres == 2] == 1), "colisted: genre 2 must go to 1")
    check(set(new[genres == 3].tolist()) == {4, 5}, f"colisted: genre 3 went to {set(new[genres == 3])}")
    check(np.all(new[genres == 5] == 3), "colisted: genre 5 must go to 3")
    check(np.all(new[genres == 0] != 0), "colisted: genre 0 (no co-listing) kept its genre")
    try:
        augment.genre_swaps(x, n_numeric, "sideways", rng)
        check(False, "an unknown mode was accepted")
    except ValueError as e:
        check("sideways" in str(e), f"unclear error: {e}")
    print("check_genre_swaps: ok")


if __name__ == "__main__":
    main()
