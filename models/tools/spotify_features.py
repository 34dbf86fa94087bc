"""What the project knows about the Spotify tracks data set's columns: kind,
realistic range, valid range, whether NIO moves it by default, a one-line
description, and the presets of the original app. Used by the exporter and
the training pipeline to write model.json."""

GENRE_COLUMN = "track_genre"
GENRE_PREFIX = GENRE_COLUMN + "_"

# name: (kind, (range min, range max), mutable by default, description).
# Kinds: numeric (moves when asked), integer and binary (whole values; never
# move). The range is the realistic one (reference mode's post-hoc clamp, the
# projection of projected mode, a UI's slider).
FEATURES = {
    "Unnamed: 0": ("integer", (0, 113999), False,
                   "Row index in the training CSV (a leak in the original model: the file is ordered by genre)"),
    "duration_ms": ("numeric", (30000, 600000), False, "Track length in milliseconds"),
    "explicit": ("binary", (0, 1), False, "Explicit lyrics (1 = yes, 0 = no)"),
    "danceability": ("numeric", (0, 1), True,
                     "How suitable the track is for dancing, from tempo, rhythm stability and beat strength (0..1)"),
    "energy": ("numeric", (0, 1), True,
               "Perceived intensity and activity: fast, loud, noisy tracks score high (0..1)"),
    "key": ("integer", (-1, 11), False, "Pitch class of the key: 0 = C, 1 = C#/Db, ..., 11 = B, -1 = none detected"),
    "loudness": ("numeric", (-60, 0), True, "Overall loudness in decibels, typically -60..0 dB"),
    "mode": ("binary", (0, 1), False, "Modality: 1 = major, 0 = minor"),
    "speechiness": ("numeric", (0, 1), True,
                    "Presence of spoken words: above 0.66 mostly speech, below 0.33 mostly music"),
    "acousticness": ("numeric", (0, 1), True, "Confidence that the track is acoustic (0..1)"),
    "instrumentalness": ("numeric", (0, 1), True,
                         "Likelihood that the track has no vocals: above 0.5 likely instrumental"),
    "liveness": ("numeric", (0, 1), True,
                 "Presence of an audience in the recording: above 0.8 likely live"),
    "valence": ("numeric", (0, 1), True, "Musical positiveness: 0 sad or angry, 1 happy or cheerful"),
    "tempo": ("numeric", (60, 220), True, "Estimated tempo in beats per minute (BPM)"),
    "time_signature": ("integer", (0, 7), False, "Estimated meter: beats per bar (3..7 means 3/4..7/4)"),
}

# The original app's presets (Custom, Chill, High-energy EDM, Sad ballad).
PRESETS = [
    {"name": "custom", "label": "Custom", "genre": "pop",
     "description": "Every feature at its training mean; set your own values", "features": {}},
    {"name": "chill", "label": "Chill", "genre": "chill",
     "description": "Laid-back, acoustic, mid-tempo",
     "features": {"danceability": 0.55, "energy": 0.35, "loudness": -11.0, "mode": 1,
                  "speechiness": 0.04, "acousticness": 0.6, "instrumentalness": 0.2,
                  "liveness": 0.11, "valence": 0.4, "tempo": 95.0}},
    {"name": "edm", "label": "High-energy EDM", "genre": "edm",
     "description": "Loud, driving, electronic dance track",
     "features": {"danceability": 0.7, "energy": 0.9, "loudness": -4.5, "mode": 1,
                  "speechiness": 0.06, "acousticness": 0.02, "instrumentalness": 0.3,
                  "liveness": 0.2, "valence": 0.45, "tempo": 128.0}},
    {"name": "sad-ballad", "label": "Sad ballad", "genre": "sad",
     "description": "Slow, quiet, acoustic, minor key",
     "features": {"danceability": 0.4, "energy": 0.25, "loudness": -10.0, "mode": 0,
                  "speechiness": 0.035, "acousticness": 0.75, "instrumentalness": 0.01,
                  "liveness": 0.1, "valence": 0.15, "tempo": 72.0}},
]

# The valid range of each column: the values a track may give at all, from
# the data set's definition (model.json "valid"; a missing bound is
# unbounded). The unit features are 0..1 by definition. Loudness: the
# definition says "typically -60..0 dB", but the file has 90 rows up to
# +4.5 dB (clipped masters), so values up to +6 dB are accepted. Tempo and
# duration must be positive. key is -1 (no key detected) .. 11; the row
# index covers the file's 114000 rows.
_UNIT = {"min": 0, "max": 1}
VALID = {
    "Unnamed: 0": {"min": 0, "max": 113999},
    "duration_ms": {"min": 0, "min_exclusive": True},
    "explicit": {"min": 0, "max": 1},
    "danceability": _UNIT,
    "energy": _UNIT,
    "key": {"min": -1, "max": 11},
    "loudness": {"min": -60, "max": 6},
    "mode": {"min": 0, "max": 1},
    "speechiness": _UNIT,
    "acousticness": _UNIT,
    "instrumentalness": _UNIT,
    "liveness": _UNIT,
    "valence": _UNIT,
    "tempo": {"min": 0, "min_exclusive": True, "max": 300},
    "time_signature": {"min": 0, "max": 7},
}

# Default NIO options. The original app's model, converted by the exporter,
# keeps the original's semantics (reference: +-3 each step, realistic ranges
# clamped after the loop); models this project trains default to projected
# mode (effective boxes in every step), whose results are the optimized ones,
# and to the projected L-BFGS with 8 starts x 30 steps (bench/README.md: the
# best answers for Adam 1 x 300's cost).
NIO_DEFAULTS_REFERENCE = {"steps": 300, "lr": 0.05, "lambda": 0.1, "mode": "reference"}
NIO_DEFAULTS_PROJECTED = dict(NIO_DEFAULTS_REFERENCE, mode="projected", steps=30,
                              optimizer="lbfgs", starts=8, start_pool=0)
