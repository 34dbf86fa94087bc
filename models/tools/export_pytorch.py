#!/usr/bin/env python3
"""Exports a PyTorch MLP state_dict + sklearn StandardScaler + feature-name list
into the NIO model format (model.json + weights.safetensors, see
models/README.md).

    /usr/bin/python3 models/tools/export_pytorch.py \
        --state-dict ../shared/seed-model/nio_model_hybrid.pth \
        --scaler ../shared/seed-model/nio_scaler.pkl \
        --feature-names ../shared/seed-model/nio_feature_names.pkl \
        --out /tmp/seed-model --name original-hybrid --version 1

The state_dict's 2-D '*.weight' tensors are taken as the Linear layers in the
order of their numeric key index (net.0, net.3, ...), each followed by its
'*.bias'. One-hot genre columns are the names starting with 'track_genre_';
the reference (dropped) genre is given with --reference-genre.
"""
import argparse
import json
import os
import re
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402
import spotify_features as sf  # noqa: E402

FORMAT_VERSION = 1


def linear_layers(state_dict):
    """[(weight, bias)] in layer order from a state_dict of numpy arrays."""
    def order(key):
        numbers = [int(n) for n in re.findall(r"\d+", key)]
        return numbers, key
    weights = sorted((k for k, v in state_dict.items() if k.endswith(".weight") and v.ndim == 2), key=order)
    if not weights:
        raise ValueError("state_dict has no 2-D '.weight' tensors")
    layers = []
    for wk in weights:
        bk = wk[: -len("weight")] + "bias"
        if bk not in state_dict:
            raise ValueError(f"state_dict has {wk} but no {bk}")
        layers.append((np.asarray(state_dict[wk], np.float32), np.asarray(state_dict[bk], np.float32)))
    for i in range(1, len(layers)):
        if layers[i][0].shape[1] != layers[i - 1][0].shape[0]:
            raise ValueError(f"layer {i} input {layers[i][0].shape[1]} != layer {i-1} output {layers[i-1][0].shape[0]}")
    if layers[-1][0].shape[0] != 1:
        raise ValueError("the last layer must have one output")
    return layers


def build_model_json(feature_names, mean, scale, layer_sizes, name, version, description,
                     reference_genre, extra=None, nio_defaults=None):
    """nio_defaults: the model's default NIO options; the original app's
    semantics (sf.NIO_DEFAULTS_REFERENCE) unless given."""
    genres = [n[len(sf.GENRE_PREFIX):] for n in feature_names if n.startswith(sf.GENRE_PREFIX)]
    if reference_genre in genres:
        raise ValueError(f"reference genre {reference_genre!r} has its own column")
    all_genres = sorted(genres + [reference_genre])
    if all_genres[0] != reference_genre:
        raise ValueError(f"get_dummies(drop_first=True) drops the first genre alphabetically, "
                         f"{all_genres[0]!r}, not {reference_genre!r}")
    features = []
    for i, fname in enumerate(feature_names):
        entry = {"name": fname, "mean": float(mean[i]), "scale": float(scale[i])}
        if fname.startswith(sf.GENRE_PREFIX):
            entry.update(kind="one_hot", category=fname[len(sf.GENRE_PREFIX):],
                         description=f"Genre is {fname[len(sf.GENRE_PREFIX):]}")
        elif fname in sf.FEATURES:
            kind, rng, mutable, text = sf.FEATURES[fname]
            entry.update(kind=kind, range=list(rng), valid=dict(sf.VALID[fname]), mutable=mutable,
                         description=text)
        else:
            entry.update(kind="numeric", range=[float(mean[i] - 3 * scale[i]), float(mean[i] + 3 * scale[i])],
                         mutable=False, description=fname)
        features.append(entry)
    known = set(feature_names)
    presets = []
    for p in sf.PRESETS:
        if p["genre"] not in all_genres:
            continue
        presets.append(dict(p, features={k: v for k, v in p["features"].items() if k in known}))
    model = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "description": description,
        "output_name": "popularity",
        "network": {"layer_sizes": layer_sizes, "activation": "relu"},
        "categorical": {"name": sf.GENRE_COLUMN, "values": all_genres, "reference": reference_genre},
        "features": features,
        "nio_defaults": dict(nio_defaults or sf.NIO_DEFAULTS_REFERENCE),
        "presets": presets,
    }
    if extra:
        model.update(extra)
    return model


def export(state_dict, mean, scale, feature_names, out_dir, name, version, description,
           reference_genre="acoustic", extra=None, nio_defaults=None):
    """state_dict: name -> numpy array. Writes out_dir/model.json and weights.safetensors.
    nio_defaults: see build_model_json (reference mode unless given)."""
    layers = linear_layers(state_dict)
    feature_names = [str(n) for n in feature_names]
    if len(feature_names) != layers[0][0].shape[1]:
        raise ValueError(f"{len(feature_names)} feature names, first layer takes {layers[0][0].shape[1]}")
    if len(mean) != len(feature_names) or len(scale) != len(feature_names):
        raise ValueError("scaler size != feature count")
    for arrays in layers:
        for a in arrays:
            if not np.all(np.isfinite(a)):
                raise ValueError("non-finite weights")
    layer_sizes = [int(layers[0][0].shape[1])] + [int(w.shape[0]) for w, _ in layers]
    os.makedirs(out_dir, exist_ok=True)
    tensors = {}
    for i, (w, b) in enumerate(layers):
        tensors[f"layers.{i}.weight"] = w
        tensors[f"layers.{i}.bias"] = b
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), tensors,
                      {"format": "nio", "name": name, "version": version})
    model = build_model_json(feature_names, mean, scale, layer_sizes, name, version, description,
                             reference_genre, extra, nio_defaults)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(model, f, indent=1)
        f.write("\n")
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state-dict", required=True, help="PyTorch state_dict (.pth)")
    ap.add_argument("--scaler", required=True, help="joblib-pickled sklearn StandardScaler")
    ap.add_argument("--feature-names", required=True, help="joblib-pickled list of column names")
    ap.add_argument("--out", required=True, help="output model directory")
    ap.add_argument("--name", default="original-hybrid")
    ap.add_argument("--version", default="1")
    ap.add_argument("--description", default="The original app's hybrid MLP, converted")
    ap.add_argument("--reference-genre", default="acoustic")
    args = ap.parse_args()

    import joblib
    import torch
    warnings.filterwarnings("ignore", message=".*unpickle estimator.*")
    state = torch.load(args.state_dict, map_location="cpu", weights_only=True)
    state = {k: v.detach().cpu().numpy() for k, v in state.items()}
    scaler = joblib.load(args.scaler)
    names = list(joblib.load(args.feature_names))
    export(state, scaler.mean_, scaler.scale_, names, args.out, args.name, args.version,
           args.description, args.reference_genre)
    print(f"wrote {args.out}/model.json and weights.safetensors ({len(names)} features)")


if __name__ == "__main__":
    main()
