#!/usr/bin/python3
"""Oracle test of the projected L-BFGS: scipy's L-BFGS-B (the reference
L-BFGS-B) on the same NIO objective, box and start as `nio optimize --local
--optimizer lbfgs --starts 1`, track by track.

The objective is the NIO loss in scaled terms, -f(x(p)) + lambda * mean_j
(p_j - p0_j)^2 over the moving features, f the model in float64 (torch); the
box is each moving feature's effective box as `nio info` reports it, widened
to hold the track's value, as projected mode builds it. Two checks:
  - near-local optimality: L-BFGS-B started at our reported point lowers
    the objective by at most --local-tolerance on at least --min-share of
    the tracks. The ReLU network makes the objective piecewise smooth: both
    methods stall at kinks where the gradient jumps, so "stationary" is
    judged by what the reference can still gain, not by a gradient norm;
  - from the same start (the track): the median of our objective minus the
    oracle's is at most --tolerance. The objective is not convex and the
    line searches differ (L-BFGS-B's first step goes to the generalized
    Cauchy point, often far across the box, ours is a step of length 1), so
    single starts land in different minima on some tracks (then L-BFGS-B's
    is often far better: the largest gaps are 30-50 points); the shares
    within 0.25, 0.5, 1 and 5 are printed, and more than half must be
    within 1 point. Measured: the bundled model 52% / 56% / 58% / 69%, the
    original app's model (96 tracks) 67% / 71% / 75% / 85%.
And every reported point lies in the box. Exit 0 when all hold, 1 when not.

  lbfgs_oracle.py --nio build/client/nio --model-dir models/bundled
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from scipy.optimize import minimize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from reference_nio import ReferenceModel, random_tracks  # noqa: E402


def nio_json(nio, args):
    out = subprocess.run([nio] + args, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nio", required=True, help="the nio CLI binary")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--count", type=int, default=48)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100, help="our L-BFGS steps")
    ap.add_argument("--tolerance", type=float, default=0.25,
                    help="objective units (popularity points) ours may exceed the oracle's")
    ap.add_argument("--local-tolerance", type=float, default=1.0,
                    help="objective units L-BFGS-B may still gain from our answer")
    ap.add_argument("--min-share", type=float, default=0.75)
    args = ap.parse_args()

    model = ReferenceModel.from_model_dir(args.model_dir)
    net = model.net.double()
    lam = float(model.spec.get("nio_defaults", {}).get("lambda", 0.1))
    info = nio_json(args.nio, ["info", "--local", "--model-dir", args.model_dir,
                               "--format", "json"])
    boxes = {f["name"]: (f["box_min"], f["box_max"]) for f in info["features"]
             if f.get("mutable_by_default")}
    tracks = random_tracks(model, args.count, args.seed)
    integer = {f["name"] for f in model.features if f["kind"] == "integer"}
    for t in tracks:
        for name in integer & set(t["features"]):
            t["features"][name] = float(round(t["features"][name]))
        t["options"] = {"optimizer": "lbfgs", "starts": 1, "steps": args.steps,
                        "mode": "projected"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tracks.json")
        with open(path, "w") as f:
            json.dump({"tracks": tracks}, f)
        ours = nio_json(args.nio, ["optimize", "--local", "--model-dir", args.model_dir,
                                   "--input", path, "--format", "json"])
    names = [n for n in model.movable_names() if n in boxes]
    idx = [model.names.index(n) for n in names]
    within = 0
    local = 0
    worst = []
    for track, result in zip(tracks, ours):
        if result["status"] != "ok":
            print(f"{track['id']}: {result['error']}")
            return 1
        x0 = model.featurize(track).astype(np.float64)
        p0 = x0[idx].copy()
        lo = np.empty(len(idx))
        hi = np.empty(len(idx))
        for j, (n, i) in enumerate(zip(names, idx)):
            b_lo, b_hi = boxes[n]
            lo[j] = np.float32((b_lo - model.mean[i]) / model.scale[i])
            hi[j] = np.float32((b_hi - model.mean[i]) / model.scale[i])
            lo[j], hi[j] = min(lo[j], p0[j]), max(hi[j], p0[j])

        def objective(p):
            x = torch.tensor(x0, dtype=torch.float64)
            pt = torch.tensor(p, dtype=torch.float64, requires_grad=True)
            x = x.index_put((torch.tensor(idx),), pt)
            loss = -net(x.unsqueeze(0)).reshape(()) + lam * ((pt - torch.tensor(p0)) ** 2).mean()
            loss.backward()
            return loss.item(), pt.grad.numpy().copy()

        oracle = minimize(objective, p0, jac=True, method="L-BFGS-B",
                          bounds=list(zip(lo, hi)), options={"maxiter": 500})
        # Our reported point, in scaled terms, and its objective in float64.
        changes = {c["name"]: c["optimized"] for c in result["changes"]}
        p = p0.copy()
        for j, (n, i) in enumerate(zip(names, idx)):
            if n in changes:
                p[j] = (changes[n] - model.mean[i]) / model.scale[i]
        in_box = bool(np.all(p >= lo - 1e-5) and np.all(p <= hi + 1e-5))
        if not in_box:
            print(f"{track['id']}: reported point outside the box")
            return 1
        mine, _ = objective(p)
        gap = mine - oracle.fun
        worst.append((gap, track["id"], mine, oracle.fun))
        within += gap <= args.tolerance
        refined = minimize(objective, p, jac=True, method="L-BFGS-B",
                           bounds=list(zip(lo, hi)), options={"maxiter": 500})
        local += mine - refined.fun <= args.local_tolerance
    worst.sort(reverse=True)
    n = len(tracks)
    gaps = np.array([w[0] for w in worst])
    print(f"{n} tracks, {args.steps} L-BFGS steps vs scipy L-BFGS-B:")
    print(f"  from our answer, L-BFGS-B gains at most {args.local_tolerance} on {local} "
          f"({local / n:.0%}; required {args.min_share:.0%})")
    print(f"  from the same start: within {args.tolerance} of the oracle's objective or "
          f"lower on {within} ({within / n:.0%}); median gap {np.median(gaps):+.4f} "
          f"(required <= {args.tolerance}), mean {gaps.mean():+.4f} (negative: ours lower)")
    for t in (0.5, 1.0, 5.0):
        print(f"  from the same start, within {t}: {np.mean(gaps <= t):.0%}"
              + (" (required > 50%)" if t == 1.0 else ""))
    for gap, tid, mine, theirs in worst[:3]:
        print(f"  largest: {tid}: ours {mine:.4f} oracle {theirs:.4f} gap {gap:+.4f}")
    # Most tracks land within a point of the reference's own answer.
    within_point = np.mean(gaps <= 1.0)
    ok = (local / n >= args.min_share and np.median(gaps) <= args.tolerance
          and within_point > 0.5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
