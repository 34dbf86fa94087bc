#!/usr/bin/env python3
"""Makes random test tracks (bench/reference_nio.py `tracks`) valid for the
server's rules, in place:

- integer and binary features take whole values inside their valid range
  (the reference draws them from N(mean, scale)), and a missing one is
  written out as the server's default for it, the whole value nearest the
  training mean (the reference would take the mean itself);
- options.mutable_features keeps numeric features only (integer and binary
  ones cannot move); a list left empty is dropped (the model's defaults);
- in projected mode, the starting values of the moving features are clipped
  into their effective box (realistic range within |scaled| <= 3). The
  server widens the box to hold a start outside it (never forcing a move);
  the PyTorch reference does not, so the goldens only cover starts inside.

    fit_tracks_to_model.py MODEL_DIR TRACKS_JSON
"""
import json
import math
import os
import sys


def effective_box(f):
    return (max(f["range"][0], f["mean"] - 3 * f["scale"]),
            min(f["range"][1], f["mean"] + 3 * f["scale"]))


def whole_in_valid(f, v):
    valid = f.get("valid", {"min": 0, "max": 1} if f["kind"] == "binary" else {})
    v = float(round(v))
    if "min" in valid:
        lo = math.floor(valid["min"]) + 1 if valid.get("min_exclusive") else math.ceil(valid["min"])
        v = max(v, float(lo))
    if "max" in valid:
        hi = math.ceil(valid["max"]) - 1 if valid.get("max_exclusive") else math.floor(valid["max"])
        v = min(v, float(hi))
    return v


def main():
    model_dir, tracks_path = sys.argv[1:3]
    with open(os.path.join(model_dir, "model.json")) as f:
        spec = json.load(f)
    mode_default = spec.get("nio_defaults", {}).get("mode", "projected")
    features = {f["name"]: f for f in spec["features"] if f["kind"] != "one_hot"}
    default_mutable = [n for n, f in features.items() if f.get("mutable")]
    with open(tracks_path) as f:
        doc = json.load(f)
    for t in doc["tracks"]:
        feats = t.setdefault("features", {})
        for name, f in features.items():
            if f["kind"] in ("integer", "binary"):
                feats[name] = whole_in_valid(f, feats.get(name, f["mean"]))
        opts = t.get("options", {})
        if "mutable_features" in opts:
            kept = [n for n in opts["mutable_features"] if features[n]["kind"] == "numeric"]
            if kept:
                opts["mutable_features"] = kept
            else:
                del opts["mutable_features"]
        if opts.get("mode", mode_default) == "projected":
            for name in opts.get("mutable_features") or default_mutable:
                if name in feats:
                    lo, hi = effective_box(features[name])
                    feats[name] = min(max(feats[name], lo), hi)
    with open(tracks_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
