#!/usr/bin/env python3
"""PyTorch reference of NIO in the original app's "reference" mode, per track
(as the original app runs it: one Adam per track) and batched (one Adam over a
(B, k) parameter, which gives each row exactly its per-track result).

Used to make golden fixtures for the C++ tests and as the benchmark anchor.
Runs with /usr/bin/python3 (Debian's python3-torch, python3-sklearn).

  # goldens for a model in the NIO format, tracks from a JSON file
  reference_nio.py golden --model-dir DIR --tracks tracks.json --out golden.json
  # the same straight from the original app's artifacts (no exporter involved)
  reference_nio.py golden --seed-dir ../shared/seed-model --tracks t.json --out g.json
  # random varied tracks for a model
  reference_nio.py tracks --model-dir DIR --count 64 --seed 1 --out tracks.json
  # speed: tracks/s of the per-track and the batched reference
  reference_nio.py bench --model-dir DIR --tracks t.json --per-track 8 --batch 4096

Tracks JSON: {"tracks": [{"id": "a", "genre": "pop", "features": {"energy": 0.5},
"options": {"steps": 300, "lr": 0.05, "lambda": 0.1, "mutable_features": [...],
"mode": "reference"|"projected"}}]}. Missing features take the training mean.
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "tools"))
from safetensors_io import read_safetensors  # noqa: E402

CLAMP = 3.0


class ReferenceModel:
    """The MLP, the scaler and the feature metadata in model order."""

    def __init__(self, layers, spec):
        self.spec = spec
        modules = []
        for i, (w, b) in enumerate(layers):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.asarray(w, np.float32)))
                lin.bias.copy_(torch.from_numpy(np.asarray(b, np.float32)))
            modules.append(lin)
            if i + 1 < len(layers):
                modules += [torch.nn.ReLU(), torch.nn.Dropout(0.2)]
        self.net = torch.nn.Sequential(*modules).eval()
        for param in self.net.parameters():
            param.requires_grad_(False)
        self.features = spec["features"]
        self.names = [f["name"] for f in self.features]
        self.mean = np.array([f["mean"] for f in self.features], np.float64)
        self.scale = np.array([f["scale"] for f in self.features], np.float64)
        self.movable = [i for i, f in enumerate(self.features) if f["kind"] != "one_hot"]
        self.default_mutable = [f["name"] for f in self.features if f.get("mutable")]

    @staticmethod
    def from_model_dir(path):
        with open(os.path.join(path, "model.json")) as f:
            spec = json.load(f)
        tensors = read_safetensors(os.path.join(path, "weights.safetensors"))
        n = len(spec["network"]["layer_sizes"]) - 1
        layers = [(tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"]) for i in range(n)]
        return ReferenceModel(layers, spec)

    @staticmethod
    def from_seed_dir(path):
        """The original artifacts, without going through the exporter's output."""
        import warnings
        import joblib
        sys.path.insert(0, os.path.join(HERE, "..", "models", "tools"))
        import export_pytorch
        warnings.filterwarnings("ignore")
        state = torch.load(os.path.join(path, "nio_model_hybrid.pth"), map_location="cpu", weights_only=True)
        state = {k: v.numpy() for k, v in state.items()}
        scaler = joblib.load(os.path.join(path, "nio_scaler.pkl"))
        names = list(joblib.load(os.path.join(path, "nio_feature_names.pkl")))
        layers = export_pytorch.linear_layers(state)
        sizes = [layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers]
        spec = export_pytorch.build_model_json(names, scaler.mean_, scaler.scale_, sizes,
                                               "original-hybrid", "1", "", "acoustic")
        model = ReferenceModel(layers, spec)
        model.mean = np.asarray(scaler.mean_, np.float64)
        model.scale = np.asarray(scaler.scale_, np.float64)
        return model

    def featurize(self, track):
        raw = np.array([0.0 if f["kind"] == "one_hot" else f["mean"] for f in self.features])
        for name, value in track.get("features", {}).items():
            raw[self.names.index(name)] = float(value)
        genre = track["genre"]
        if genre != self.spec["categorical"]["reference"]:
            col = [i for i, f in enumerate(self.features) if f.get("category") == genre]
            raw[col[0]] = 1.0
        return ((raw - self.mean) / self.scale).astype(np.float32)

    def problem(self, track):
        """(x0, mutable indices, lo, hi, steps, lr, lam, raw ranges) of a track."""
        opts = track.get("options", {})
        d = self.spec.get("nio_defaults", {})
        names = opts.get("mutable_features") or self.default_mutable
        idx = [self.names.index(n) for n in self.movable_names() if n in names]
        mode = opts.get("mode", d.get("mode", "reference"))
        ranges = np.array([self.features[i]["range"] for i in idx], np.float64).reshape(-1, 2)
        lo = np.full(len(idx), -CLAMP, np.float32)
        hi = np.full(len(idx), CLAMP, np.float32)
        if mode == "projected":
            s_lo = ((ranges[:, 0] - self.mean[idx]) / self.scale[idx]).astype(np.float32)
            s_hi = ((ranges[:, 1] - self.mean[idx]) / self.scale[idx]).astype(np.float32)
            lo = np.maximum(lo, s_lo)
            hi = np.minimum(hi, s_hi)
            lo = np.minimum(lo, hi)
        return dict(x0=self.featurize(track), idx=idx, lo=lo, hi=hi, ranges=ranges,
                    steps=int(opts.get("steps", d.get("steps", 300))),
                    lr=float(opts.get("lr", d.get("lr", 0.05))),
                    lam=float(opts.get("lambda", d.get("lambda", 0.1))))

    def movable_names(self):
        return [self.names[i] for i in self.movable]

    def predict(self, x):
        with torch.no_grad():
            return self.net(torch.as_tensor(np.asarray(x, np.float32))).reshape(-1).numpy()


def nio_loop(model, x0, idx, lo, hi, steps, lr, lam, dtype=torch.float32):
    """NIO on a (B, n_in) batch sharing options: the original app's loop (in
    float32; float64 for the conditioning check)."""
    net = model.net if dtype == torch.float32 else copy.deepcopy(model.net).to(dtype)
    x0t = torch.as_tensor(np.asarray(x0, np.float32)).to(dtype)
    idx_t = torch.as_tensor(idx, dtype=torch.long)
    lo_t = torch.as_tensor(lo).to(dtype)
    hi_t = torch.as_tensor(hi).to(dtype)
    p0 = x0t[:, idx_t].clone()
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        x = x0t.clone()
        x[:, idx_t] = p
        pred = net(x).reshape(-1)
        # Summing rows keeps each row's gradient its own per-track gradient.
        loss = -pred.sum() + lam * ((p - p0) ** 2).mean(dim=1).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            p.copy_(torch.maximum(torch.minimum(p, hi_t), lo_t))
    return p.detach().to(torch.float32).numpy()


def finish(model, prob, p_final):
    """Post-hoc clamp to the realistic ranges and the three predictions."""
    idx = prob["idx"]
    x0 = prob["x0"]
    x_raw = x0.copy()
    x_raw[idx] = p_final
    raw = p_final.astype(np.float64) * model.scale[idx] + model.mean[idx]
    raw = np.clip(raw, prob["ranges"][:, 0], prob["ranges"][:, 1])
    x_clamped = x0.copy()
    x_clamped[idx] = ((raw - model.mean[idx]) / model.scale[idx]).astype(np.float32)
    before, after_raw, after = model.predict(np.stack([x0, x_raw, x_clamped]))
    return dict(prediction_before=float(before), prediction_raw=float(after_raw),
                prediction_after=float(after), p_final=[float(v) for v in p_final],
                mutable_columns=idx, x0=[float(v) for v in x0],
                x_clamped=[float(v) for v in x_clamped])


# A track whose final features move by more than this when its inputs are
# perturbed by 1e-6, or when the loop runs in double precision, is
# ill-conditioned: its trajectory hangs on float rounding (a ReLU kink, a
# gradient near 0 under Adam's normalisation), and no two float
# implementations (PyTorch alone vs batched, two summation orders) need agree
# on it. Perturbing the inputs alone misses tracks that only a different
# rounding of the products tips over; the double-precision run finds them.
CONDITIONING_PERTURBATION = 1e-6
CONDITIONING_LIMIT = 1e-4
CONDITIONING_REPLICAS = 3


def conditioning_spread(model, x0, idx, lo, hi, steps, lr, lam, p_base, seed=0):
    """Max change of each row's final features over perturbed replicas and a
    double-precision run."""
    rng = np.random.default_rng(seed)
    spread = np.zeros(len(x0))
    for _ in range(CONDITIONING_REPLICAS):
        xp = np.array(x0, np.float32)
        xp[:, idx] += rng.normal(0, CONDITIONING_PERTURBATION, (len(xp), len(idx))).astype(np.float32)
        p = nio_loop(model, xp, idx, lo, hi, steps, lr, lam)
        spread = np.maximum(spread, np.abs(p - p_base).max(axis=1))
    p = nio_loop(model, x0, idx, lo, hi, steps, lr, lam, dtype=torch.float64)
    spread = np.maximum(spread, np.abs(p - p_base).max(axis=1))
    return spread


def run_golden(model, tracks, check_conditioning=True):
    """Every track runs alone, as the original app runs it: that is the golden
    result. Tracks sharing options also run batched and perturbed; a track
    whose batched or perturbed results differ from its own by more than
    CONDITIONING_LIMIT is marked ill-conditioned."""
    probs = [model.problem(t) for t in tracks]
    results = []
    for prob in probs:
        idx = prob["idx"]
        if idx:
            p = nio_loop(model, prob["x0"][None], idx, prob["lo"][None], prob["hi"][None],
                         prob["steps"], prob["lr"], prob["lam"])[0]
        else:
            p = np.zeros(0, np.float32)
        r = finish(model, prob, p)
        r["ran"] = "per-track"
        r["conditioning_spread"] = 0.0
        results.append(r)
    if check_conditioning:
        groups = {}
        for i, prob in enumerate(probs):
            if prob["idx"]:
                groups.setdefault((tuple(prob["idx"]), prob["steps"], prob["lr"], prob["lam"]), []).append(i)
        for (idx, steps, lr, lam), members in groups.items():
            idx = list(idx)
            x0 = np.stack([probs[i]["x0"] for i in members])
            lo = np.stack([probs[i]["lo"] for i in members])
            hi = np.stack([probs[i]["hi"] for i in members])
            alone = np.stack([np.array(results[i]["p_final"], np.float32) for i in members])
            batched = nio_loop(model, x0, idx, lo, hi, steps, lr, lam)
            spread = np.maximum(np.abs(batched - alone).max(axis=1),
                                conditioning_spread(model, x0, idx, lo, hi, steps, lr, lam, alone))
            for row, i in enumerate(members):
                results[i]["conditioning_spread"] = float(spread[row])
    for t, r in zip(tracks, results):
        r["id"] = t["id"]
        r["well_conditioned"] = bool(r["conditioning_spread"] < CONDITIONING_LIMIT)
    return results


def random_tracks(model, count, seed):
    """Varied tracks: random genres, some features missing, some at the range
    edges, a few with non-default options (projected mode, other steps/lr/lambda,
    other mutable sets)."""
    rng = np.random.default_rng(seed)
    genres = model.spec["categorical"]["values"]
    movable = [model.features[i] for i in model.movable]
    tracks = []
    for n in range(count):
        feats = {}
        for f in movable:
            lo, hi = f["range"]
            kind = rng.random()
            if kind < 0.15:
                continue  # missing: the training mean
            if f["kind"] == "binary":
                feats[f["name"]] = float(rng.integers(0, 2))
            elif kind < 0.22:
                feats[f["name"]] = float(lo if rng.random() < 0.5 else hi)
            else:
                v = rng.normal(f["mean"], f["scale"])
                feats[f["name"]] = float(np.clip(v, lo, hi))
        track = {"id": f"t{n:03d}", "genre": str(genres[rng.integers(len(genres))]), "features": feats}
        r = n % 8
        if r == 5:
            track["options"] = {"mode": "projected"}
        elif r == 6:
            track["options"] = {"steps": int(rng.integers(1, 120)), "lr": 0.1, "lambda": 0.5}
        elif r == 7:
            names = [model.names[i] for i in model.movable]
            pick = rng.choice(len(names), size=min(4, len(names)), replace=False)
            track["options"] = {"mutable_features": [names[i] for i in sorted(pick)], "lambda": 0.0}
        tracks.append(track)
    return tracks


def load_model(args):
    if args.seed_dir:
        return ReferenceModel.from_seed_dir(args.seed_dir)
    return ReferenceModel.from_model_dir(args.model_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["golden", "tracks", "bench"])
    ap.add_argument("--model-dir")
    ap.add_argument("--seed-dir")
    ap.add_argument("--tracks", help="tracks JSON (input)")
    ap.add_argument("--out", help="output JSON")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-track", type=int, default=8, help="bench: tracks timed alone")
    ap.add_argument("--batch", type=int, default=4096, help="bench: batched size")
    ap.add_argument("--steps", type=int, default=300, help="bench: steps")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    if not args.model_dir and not args.seed_dir:
        ap.error("give --model-dir or --seed-dir")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_model(args)

    if args.command == "tracks":
        out = {"tracks": random_tracks(model, args.count, args.seed)}
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
        return
    with open(args.tracks) as f:
        tracks = json.load(f)["tracks"]
    if args.command == "golden":
        results = run_golden(model, tracks)
        with open(args.out, "w") as f:
            json.dump({"tracks": results}, f)
        print(f"wrote {len(results)} golden results to {args.out}")
        return
    # bench: reference-mode defaults, every track's default options.
    probs = [model.problem({"id": t["id"], "genre": t["genre"], "features": t.get("features", {})}) for t in tracks]
    idx, lo, hi = probs[0]["idx"], probs[0]["lo"], probs[0]["hi"]
    x0 = np.stack([p["x0"] for p in probs])
    n_alone = min(args.per_track, len(probs))
    t0 = time.perf_counter()
    for i in range(n_alone):
        nio_loop(model, x0[i:i + 1], idx, lo[None], hi[None], args.steps, 0.05, 0.1)
    per_track_rate = n_alone / (time.perf_counter() - t0)
    reps = int(np.ceil(args.batch / len(probs)))
    xb = np.concatenate([x0] * reps)[: args.batch]
    t0 = time.perf_counter()
    nio_loop(model, xb, idx, np.tile(lo, (len(xb), 1)), np.tile(hi, (len(xb), 1)), args.steps, 0.05, 0.1)
    batched_rate = len(xb) / (time.perf_counter() - t0)
    print(json.dumps({"torch_threads": torch.get_num_threads(), "steps": args.steps,
                      "per_track_tracks_per_s": per_track_rate, "per_track_tracks": n_alone,
                      "batched_tracks_per_s": batched_rate, "batched_size": len(xb)}))


if __name__ == "__main__":
    main()
