#!/usr/bin/env python3
"""The training pipeline, one command: data -> baseline MLP, XGBoost teacher,
hybrid student -> the NIO model format with a generated model card.

    /usr/bin/python3 models/training/train.py \
        --data ../shared/data/spotify_tracks.csv --out models/bundled

The original app's pipeline, done properly: the CSV's row index (a leak) is
not a feature, exact duplicate tracks are dropped, the scaler is fit on the
training split only, bad rows are reported with their line numbers. Seeds are
fixed. --fast trains tiny versions (for the end-to-end test on synthetic data).
Runs with /usr/bin/python3 (Debian's python3-torch, -xgboost, -sklearn).
"""
import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import augment  # noqa: E402
import data as data_lib  # noqa: E402
import export_pytorch  # noqa: E402
import model_card  # noqa: E402
import spotify_features as sf  # noqa: E402

HIDDEN = [768, 512, 256, 128]
# Chosen on validation RMSE (student): with standardized genres 17.40 at 0.2,
# 17.21 at 0.3; with 0/1 genres and co-listed genre swaps (1 copy) 16.48 at
# 0.15, 16.37 at 0.3, 16.36 at 0.4; 2 copies at 0.3: 16.28 (the defaults).
DROPOUT = 0.3


def metrics(pred, truth):
    err = pred - truth
    ss_res = float(np.sum(err ** 2))
    ss_tot = float(np.sum((truth - truth.mean()) ** 2))
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0}


def log(msg):
    print(msg, flush=True)


def make_mlp(n_in, dropout=DROPOUT):
    import torch
    layers = []
    sizes = [n_in] + HIDDEN
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
    layers.append(torch.nn.Linear(sizes[-1], 1))
    return torch.nn.Sequential(*layers)  # keys net.0, 3, 6, 9, 12 as the original


def train_mlp(name, x_train, targets_train, x_val, y_val, cfg, teacher_train=None,
              x_extra=None, teacher_extra=None):
    """Trains an MLP on standardized targets. Loss per row: MSE(true) or, with
    a teacher, alpha * MSE(true) + (1 - alpha) * MSE(teacher); the extra rows
    (teacher-labelled inputs without a true label) count MSE(teacher) alone.
    AdamW, plateau LR schedule, early stopping on validation RMSE. Returns
    (model, y_mean, y_std, history)."""
    import torch
    torch.manual_seed(cfg["seed"])
    y_mean, y_std = float(targets_train.mean()), float(targets_train.std())
    n_real = len(x_train)
    alpha = np.full(n_real, 1.0 if teacher_train is None else cfg["alpha"])
    targets = np.asarray(targets_train, np.float64)
    teacher = targets if teacher_train is None else np.asarray(teacher_train, np.float64)
    x_all = x_train
    if x_extra is not None and len(x_extra):
        x_all = np.concatenate([x_train, x_extra])
        alpha = np.concatenate([alpha, np.zeros(len(x_extra))])
        targets = np.concatenate([targets, np.zeros(len(x_extra))])
        teacher = np.concatenate([teacher, teacher_extra])
    xt = torch.tensor(x_all, dtype=torch.float32)
    yt = torch.tensor((targets - y_mean) / y_std, dtype=torch.float32)
    tt = torch.tensor((teacher - y_mean) / y_std, dtype=torch.float32)
    at = torch.tensor(alpha, dtype=torch.float32)
    xv = torch.tensor(x_val, dtype=torch.float32)
    model = make_mlp(x_train.shape[1], cfg["dropout"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=cfg["plateau_patience"])
    best, best_state, bad_epochs, history = float("inf"), None, 0, []
    gen = torch.Generator().manual_seed(cfg["seed"])
    for epoch in range(1, cfg["epochs"] + 1):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), cfg["batch"]):
            b = perm[i:i + cfg["batch"]]
            pred = model(xt[b]).squeeze(1)
            a = at[b]
            loss = torch.mean(a * (pred - yt[b]) ** 2 + (1 - a) * (pred - tt[b]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        model.eval()
        with torch.no_grad():
            val_pred = model(xv).squeeze(1).numpy() * y_std + y_mean
        val_rmse = metrics(val_pred, y_val)["rmse"]
        sched.step(val_rmse)
        history.append({"epoch": epoch, "train_loss": total / len(xt), "val_rmse": val_rmse})
        log(f"[{name}] epoch {epoch:3d}  train loss {total / len(xt):.4f}  val RMSE {val_rmse:.3f}  "
            f"lr {opt.param_groups[0]['lr']:.2e}  {time.time() - t0:.1f}s")
        if val_rmse < best - 1e-4:
            best, bad_epochs = val_rmse, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= cfg["early_stop_patience"]:
                log(f"[{name}] early stop after epoch {epoch} (best val RMSE {best:.3f})")
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, y_mean, y_std, history


def predict_mlp(model, x, y_mean, y_std):
    import torch
    with torch.no_grad():
        return model(torch.tensor(x, dtype=torch.float32)).squeeze(1).numpy().astype(np.float64) * y_std + y_mean


def train_teacher(x_train, y_train, x_val, y_val, grid, cfg):
    import xgboost as xgb
    best = None
    for params in grid:
        t0 = time.time()
        model = xgb.XGBRegressor(n_estimators=cfg["xgb_rounds"], tree_method="hist", n_jobs=cfg["threads"],
                                 random_state=42, early_stopping_rounds=cfg["xgb_early_stop"],
                                 eval_metric="rmse", **params)
        model.fit(x_train, y_train, eval_set=[(x_val, y_val)], verbose=False)
        rmse = metrics(model.predict(x_val).astype(np.float64), y_val)["rmse"]
        log(f"[xgboost] {params}: best iteration {model.best_iteration}, val RMSE {rmse:.3f}  "
            f"{time.time() - t0:.1f}s")
        if best is None or rmse < best[0]:
            best = (rmse, params, model)
    log(f"[xgboost] best {best[1]} val RMSE {best[0]:.3f}")
    return best[2], best[1]


def folded_state_dict(model, y_mean, y_std):
    """The student's weights with the target standardization folded into the
    last layer, so the exported network outputs popularity directly."""
    state = {k: v.detach().numpy().astype(np.float32).copy() for k, v in model.state_dict().items()}
    last = max((k for k in state if k.endswith(".weight")), key=lambda k: int(k.split(".")[-2]))
    bias = last[:-len("weight")] + "bias"
    state[last] = (state[last] * y_std).astype(np.float32)
    state[bias] = (state[bias] * y_std + y_mean).astype(np.float32)
    return state


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True,
                    help="CSV in the Spotify tracks layout; when the file does not exist and "
                         "--seed-model is given, the student is distilled from the seed model")
    ap.add_argument("--seed-model", help="the original app's model directory (nio_model_hybrid.pth, "
                                         "nio_scaler.pkl, nio_feature_names.pkl): the teacher "
                                         "when --data does not exist")
    ap.add_argument("--draws-per-genre", type=int, default=1000,
                    help="distillation: training draws per genre (validation and held-out: a sixth each)")
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--name", default="spotify-popularity-hybrid")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--fast", action="store_true", help="tiny grid and few epochs (tests)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--min-genre-rows", type=int, default=20,
                    help="genres with fewer rows are reported as unknown")
    ap.add_argument("--check-out", help="also write scaled test inputs + PyTorch predictions here (tests)")
    ap.add_argument("--dropout", type=float, default=DROPOUT, help="MLP dropout")
    ap.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    ap.add_argument("--epochs", type=int, default=100, help="most student epochs")
    ap.add_argument("--early-stop-patience", type=int, default=10)
    ap.add_argument("--genre-swaps", choices=["none", "uniform", "colisted"], default="colisted",
                    help="hybrid student: one teacher-labelled copy of each training row under "
                         "another genre (see augment.py)")
    ap.add_argument("--genre-swap-copies", type=int, default=2,
                    help="swapped copies of each training row")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    started = time.time()
    cfg = {"seed": 42, "threads": args.threads, "batch": 512, "lr": 1e-3,
           "weight_decay": args.weight_decay, "dropout": args.dropout,
           "alpha": 0.6, "plateau_patience": 3, "early_stop_patience": args.early_stop_patience,
           "epochs": args.epochs, "genre_swaps": args.genre_swaps,
           "genre_swap_copies": args.genre_swap_copies,
           "baseline_epochs": 40, "xgb_rounds": 2000, "xgb_early_stop": 50}
    grid = [{"max_depth": d, "learning_rate": lr, "subsample": 0.8, "colsample_bytree": 0.8}
            for d in (6, 8, 10) for lr in (0.05, 0.1)]
    if args.fast:
        cfg.update(epochs=4, baseline_epochs=2, xgb_rounds=60, early_stop_patience=3)
        grid = [{"max_depth": 4, "learning_rate": 0.2}]

    if not os.path.exists(args.data):
        if not args.seed_model:
            sys.exit(f"train.py: {args.data}: no such file (give --seed-model to distil from the "
                     "original app's model instead)")
        log(f"{args.data} does not exist: distilling the student from the seed model {args.seed_model}")
        distill(args, cfg, started)
        return
    train_on_data(args, cfg, grid, started)


def write_outputs(args, state, mean, scale, names, description, report, check_x, check_pred=None):
    """Exports the student, writes training_report.json and the card, and with
    --check-out scaled inputs + the exported network's PyTorch predictions."""
    os.makedirs(args.out, exist_ok=True)
    # Our models default to projected mode; only the original's converted
    # model keeps the original's (reference) semantics.
    export_pytorch.export(state, mean, scale, names, args.out, args.name, args.version, description,
                          reference_genre=report["reference_genre"],
                          nio_defaults=sf.NIO_DEFAULTS_PROJECTED)
    report["timings"]["total_s"] = time.time() - report.pop("_started")
    with open(os.path.join(args.out, "training_report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(model_card.render(report))
    log(f"wrote {args.out} (model.json, weights.safetensors, training_report.json, README.md) "
        f"in {report['timings']['total_s']:.0f}s")
    if args.check_out:
        import torch
        net = make_mlp(len(names), report["config"]["dropout"])
        net.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        net.eval()
        with torch.no_grad():
            pred = net(torch.tensor(check_x, dtype=torch.float32)).squeeze(1).numpy()
        with open(args.check_out, "w") as f:
            json.dump({"x": check_x.astype(np.float32).tolist(), "prediction": pred.tolist(),
                       "bad_rows": report["data"].get("bad_row_examples", [])}, f)


def distill(args, cfg, started):
    """The bundled model without the data set: the original app's model is
    the teacher, the inputs are draws (distill_seed.py), the loss is MSE
    against the teacher alone (there are no true labels)."""
    import distill_seed
    seed = distill_seed.SeedModel(args.seed_model)
    genres = distill_seed.genres_of(seed.names, "acoustic")
    per_genre = 20 if args.fast else args.draws_per_genre
    rng = np.random.default_rng(cfg["seed"])
    draws = {}
    for part, count in (("train", per_genre), ("validation", max(1, per_genre // 6)),
                        ("held_out", max(1, per_genre // 6))):
        x_raw, _ = distill_seed.draw_inputs(seed, genres, count, rng)
        draws[part] = (x_raw, seed.predict(x_raw))
    log(f"draws: train {len(draws['train'][1])}, validation {len(draws['validation'][1])}, "
        f"held-out {len(draws['held_out'][1])} ({len(genres)} genres); teacher labels from the seed model")
    # The student's inputs: every column but the row index; numeric ones scaled
    # as the seed did, genres 0/1.
    names = seed.names[1:]
    mean, scale = data_lib.input_scaling(seed.mean[1:], seed.scale[1:], names)
    x = {part: (x_raw[:, 1:] - mean) / scale for part, (x_raw, _) in draws.items()}
    t = {part: labels for part, (_, labels) in draws.items()}
    t0 = time.time()
    student, s_mean, s_std, history = train_mlp("distilled", x["train"], t["train"], x["validation"],
                                                t["validation"], cfg)
    student_s = time.time() - t0
    agreement = metrics(predict_mlp(student, x["held_out"], s_mean, s_std), t["held_out"])
    results = {"student_vs_seed_teacher": agreement}
    log(f"held-out {'student_vs_seed_teacher':28s} RMSE {agreement['rmse']:.3f}  "
        f"MAE {agreement['mae']:.3f}  R^2 {agreement['r2']:.3f}")
    report = {
        "name": args.name, "version": args.version, "mode": "distilled_from_seed",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "reference_genre": genres[0],
        "data": {"path": None, "missing": os.path.basename(args.data),
                 "seed_model_sha256": data_lib.sha256_of(os.path.join(args.seed_model,
                                                                      "nio_model_hybrid.pth")),
                 "features": len(names), "genres": len(genres)},
        "draws": {"train": len(t["train"]), "validation": len(t["validation"]),
                  "held_out": len(t["held_out"]), "per_genre_train": per_genre,
                  "method": "each numeric feature ~ N(mean, scale) of the seed scaler, clipped to its "
                            "realistic range, binary/integer features rounded; every genre equally; the "
                            "teacher's row index drawn inside the genre's 1000-row block of the file"},
        "config": dict(cfg, hidden=HIDDEN, alpha=None, loss="MSE against the seed teacher",
                       fast=args.fast),
        "metrics": results,
        "student_epochs": len(history),
        "timings": {"student_s": student_s},
        "_started": started,
    }
    write_outputs(args, folded_state_dict(student, s_mean, s_std), mean, scale, names,
                  "Predicts a track's Spotify popularity (0-100) from its audio features and genre; "
                  "MLP distilled from the original app's model (no data set; no row-index input)",
                  report, x["held_out"][:64])


def train_on_data(args, cfg, grid, started):
    log(f"reading {args.data}")
    sha = data_lib.sha256_of(args.data)
    ds = data_lib.read_csv(args.data, min_genre_rows=args.min_genre_rows)
    log(f"rows: {ds.total_rows} read, {len(ds.bad_rows)} bad, {ds.duplicates} exact duplicates dropped, "
        f"{len(ds.rows)} kept")
    for line, reason in ds.bad_rows[:50]:
        log(f"  bad row at line {line}: {reason}")
    if len(ds.bad_rows) > 50:
        log(f"  ... and {len(ds.bad_rows) - 50} more")

    x_raw, y, names, genres = data_lib.featurize(ds)
    train, val, test = data_lib.split(len(y))
    log(f"split: train {len(train)}, validation {len(val)}, test {len(test)}; "
        f"{len(names)} features ({len(genres)} genres)")
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(x_raw[train])
    mean, scale = data_lib.input_scaling(scaler.mean_, scaler.scale_, names)
    x = (x_raw - mean) / scale

    timings = {}
    t0 = time.time()
    baseline_cfg = dict(cfg, epochs=cfg["baseline_epochs"])
    baseline, b_mean, b_std, _ = train_mlp("baseline", x[train], y[train], x[val], y[val], baseline_cfg)
    timings["baseline_s"] = time.time() - t0

    t0 = time.time()
    teacher, teacher_params = train_teacher(x[train], y[train], x[val], y[val], grid, cfg)
    teacher_pred = teacher.predict(x).astype(np.float64)
    timings["teacher_s"] = time.time() - t0

    t0 = time.time()
    x_extra = teacher_extra = None
    if cfg["genre_swaps"] != "none":
        rng = np.random.default_rng(cfg["seed"])
        swapped_raw = np.concatenate([
            augment.genre_swaps(x_raw[train], len(data_lib.NUMERIC), cfg["genre_swaps"], rng,
                                np.asarray(ds.track_ids)[train])
            for _ in range(cfg["genre_swap_copies"])])
        x_extra = (swapped_raw - mean) / scale
        teacher_extra = teacher.predict(x_extra).astype(np.float64)
        log(f"[hybrid] {len(x_extra)} teacher-labelled genre swaps ({cfg['genre_swaps']}, "
            f"{cfg['genre_swap_copies']} per training row)")
    student, s_mean, s_std, history = train_mlp("hybrid", x[train], y[train], x[val], y[val], cfg,
                                                teacher_train=teacher_pred[train], x_extra=x_extra,
                                                teacher_extra=teacher_extra)
    timings["student_s"] = time.time() - t0
    student_pred = predict_mlp(student, x, s_mean, s_std)
    baseline_pred = predict_mlp(baseline, x, b_mean, b_std)

    results = {
        "baseline_mlp": metrics(baseline_pred[test], y[test]),
        "xgboost_teacher": metrics(teacher_pred[test], y[test]),
        "hybrid_student": metrics(student_pred[test], y[test]),
        "hybrid_student_vs_teacher": metrics(student_pred[test], teacher_pred[test]),
    }
    for k, v in results.items():
        log(f"test {k:28s} RMSE {v['rmse']:.3f}  MAE {v['mae']:.3f}  R^2 {v['r2']:.3f}")
    # The test rows whose track (by id) is also in the training split under
    # another genre, apart from the tracks the models never saw: the split is
    # by row, as the original's, so the two kinds behave very differently.
    ids = np.asarray(ds.track_ids)
    seen = np.isin(ids[test], ids[train])
    by_kind = {}
    for kind, rows in (("track_in_training_split", test[seen]), ("unseen_track", test[~seen])):
        if len(rows) == 0:
            continue
        by_kind[kind] = {"rows": int(len(rows)),
                         "xgboost_teacher": metrics(teacher_pred[rows], y[rows]),
                         "hybrid_student": metrics(student_pred[rows], y[rows])}
        log(f"test {kind}: {len(rows)} rows, teacher RMSE {by_kind[kind]['xgboost_teacher']['rmse']:.3f}, "
            f"student RMSE {by_kind[kind]['hybrid_student']['rmse']:.3f}")

    report = {
        "name": args.name, "version": args.version, "mode": "trained_on_data",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "reference_genre": genres[0],
        "data": {"path": os.path.basename(args.data), "sha256": sha, "rows_read": ds.total_rows,
                 "bad_rows": len(ds.bad_rows), "bad_row_examples": ds.bad_rows[:20],
                 "exact_duplicates_dropped": ds.duplicates, "rows_used": len(y),
                 "features": len(names), "genres": len(genres)},
        "split": {"train": len(train), "validation": len(val), "test": len(test),
                  "method": "train_test_split: 15% test, then 17.65% of the rest validation, random_state 42"},
        "config": dict(cfg, hidden=HIDDEN, xgb_grid=grid, xgb_best=teacher_params,
                       fast=args.fast),
        "metrics": results,
        "metrics_by_track_kind": by_kind,
        "student_epochs": len(history),
        "timings": timings,
        "_started": started,
    }
    write_outputs(args, folded_state_dict(student, s_mean, s_std), mean, scale, names,
                  "Predicts a track's Spotify popularity (0-100) from its audio features and genre; "
                  "hybrid MLP distilled from an XGBoost teacher (no row-index leak)",
                  report, x[test[:64]])


if __name__ == "__main__":
    main()
