#!/usr/bin/python3
"""Soak: nio-server under a mixed load for N minutes, RSS, errors and
latency over time.

Starts nio-server (the bundled model unless --model-dir; --backend cpu,
gRPC and HTTP on port 0) and runs, all at once, for --minutes:

  - catalog streams (batch class): --streams OptimizeStream clients, each on
    its own channel, sending catalog tracks in messages of 64 with at most
    --stream-window unanswered; every --stream-tracks tracks a stream
    half-closes, is checked (each track answered exactly once, all OK) and a
    new one opens;
  - interactive calls: one-track unary Optimize over gRPC, open loop at
    --interactive-rate per second (each call on time, on a pool of threads;
    latency from its scheduled start);
  - HTTP calls: one-track POST /v1/optimize, open loop at --http-rate.

Tracks are real rows: --catalog (default: ../shared/data/spotify_tracks.csv
when present, else client/demo/demo_catalog.csv), the rows whose features
are valid for the served model and whose genre it knows. Requests carry no
options: the model's defaults answer.

Every --interval seconds (30) it prints a row: elapsed, server RSS (VmRSS),
server CPU (cores), the machine's 1-minute load average, calls OK
(interactive / HTTP / catalog tracks), interactive p50/p99 ms, HTTP p50/p99
ms, catalog tracks/s and errors by code. At the end the
load stops, the server must drain to 0 (nio_active_slots, nio_queued_tracks,
nio_caller_streams_open) and exit 0 on SIGTERM; then a summary: RSS at start,
after the first interval, max and end (and its trend), totals, errors and
latency over the run. Exit 1 on any error, or when RSS grew more than
--rss-growth-mb over the first interval's figure, or the server did not drain
or exit 0.

  bench/soak.py --server build/service/nio-server --minutes 10
  deploy/soak.sh 10          # the same, with the build's binary
"""
import argparse
import collections
import concurrent.futures
import csv
import http.client
import json
import os
import random
import shutil
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import nio_server_process  # noqa: E402
BIG_CATALOG = os.path.join(os.path.dirname(ROOT), "shared", "data", "spotify_tracks.csv")
DEMO_CATALOG = os.path.join(ROOT, "client", "demo", "demo_catalog.csv")
MESSAGE_TRACKS = 64

pb = pb_grpc = grpc = None


# --- the server's /metrics -----------------------------------------------------

def scrape(url):
    """{(name, frozenset(labels)): value} of GET /metrics."""
    status, text = nio_server_process.http_get(url + "/metrics", 30)
    if status != 200:
        raise RuntimeError(f"GET /metrics: HTTP {status}")
    return {(s.name, frozenset(s.labels.items())): s.value
            for s in nio_server_process.metric_samples(text)}


def total(snapshot, name, **labels):
    return sum(v for (n, ls), v in snapshot.items()
               if n == name and all((k, x) in ls for k, x in labels.items()))


# --- tracks -------------------------------------------------------------------

def load_catalog(path, model, limit):
    """Rows of the catalog valid for the model: [(genre, {feature: value})]."""
    features = list(model.features)
    genres = set(model.genres)
    rows, skipped = [], 0

    def valid(f, v):
        if f.HasField("valid_min") and (v < f.valid_min or (f.valid_min_exclusive and v == f.valid_min)):
            return False
        if f.HasField("valid_max") and (v > f.valid_max or (f.valid_max_exclusive and v == f.valid_max)):
            return False
        return f.kind not in ("integer", "binary") or v == int(v)

    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if len(rows) >= limit:
                break
            genre = row.get("track_genre", "")
            feats = {}
            try:
                for f in features:
                    text = row[f.name]
                    v = {"True": 1.0, "False": 0.0}.get(text)
                    v = float(text) if v is None else v
                    if not valid(f, v):
                        raise ValueError(f.name)
                    feats[f.name] = v
            except (KeyError, ValueError, TypeError):
                skipped += 1
                continue
            if genre not in genres:
                skipped += 1
                continue
            rows.append((genre, feats))
    return rows, skipped


def make_track(track_id, row):
    genre, feats = row
    t = pb.Track(id=track_id, genre=genre)
    for k, v in feats.items():
        t.features[k] = v
    return t


# --- what the clients saw -------------------------------------------------------

class Stats:
    """Counters and latencies per interval and over the run."""

    KINDS = ("interactive", "http", "tracks")

    def __init__(self):
        self.lock = threading.Lock()
        self.interval = self._empty()
        self.run = self._empty()
        self.streams_checked = 0

    @staticmethod
    def _empty():
        return {"ok": collections.Counter(), "errors": collections.Counter(),
                "lat": {"interactive": [], "http": []}}

    def ok(self, kind, latency=None, n=1):
        with self.lock:
            for d in (self.interval, self.run):
                d["ok"][kind] += n
                if latency is not None:
                    d["lat"][kind].append(latency)

    def error(self, key, last=None):
        with self.lock:
            for d in (self.interval, self.run):
                d["errors"][key] += 1
            if last:
                self.last_error = last

    def roll(self):
        with self.lock:
            d, self.interval = self.interval, self._empty()
            return d


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def errors_text(c):
    return ",".join(f"{k}:{n}" for k, n in sorted(c.items())) or "none"


# --- the load -------------------------------------------------------------------

def catalog_stream(k, args, server, rows, stats, stop):
    """One catalog client: streams of --stream-tracks tracks, one after another."""
    channel = grpc.insecure_channel(server.grpc)
    stub = pb_grpc.NioStub(channel)
    rng = random.Random(args.seed * 1000 + k)
    n_stream = 0
    while not stop.is_set():
        window = threading.Semaphore(args.stream_window)
        sent, got = set(), collections.Counter()
        tag = f"s{k}.{n_stream}"
        n_stream += 1

        def requests():
            i = 0
            while i < args.stream_tracks and not stop.is_set():
                n = min(MESSAGE_TRACKS, args.stream_tracks - i)
                taken = 0
                while taken < n and not stop.is_set():
                    if window.acquire(timeout=0.5):
                        taken += 1
                if taken < n:
                    return
                batch = [make_track(f"{tag}-{i + j}", rows[rng.randrange(len(rows))])
                         for j in range(n)]
                sent.update(t.id for t in batch)
                i += n
                yield pb.OptimizeStreamRequest(tracks=batch)

        try:
            for ev in stub.OptimizeStream(requests()):
                if not ev.HasField("result"):
                    continue
                r = ev.result
                got[r.id] += 1
                window.release()
                if r.status.code == 0:
                    stats.ok("tracks")
                else:
                    stats.error(f"track {status_name(r.status.code)}",
                                f"stream {tag} track {r.id}: {r.status.message}")
        except grpc.RpcError as e:
            stats.error(f"stream {e.code().name}", f"stream {tag}: {e.details()}")
            continue
        twice = sum(1 for n in got.values() if n > 1)
        missing = len(sent - set(got))
        extra = len(set(got) - sent)
        if twice or missing or extra:
            stats.error("stream answers not exactly once",
                        f"stream {tag}: {missing} unanswered, {twice} twice, {extra} unknown")
        else:
            with stats.lock:
                stats.streams_checked += 1
    channel.close()


def status_name(code):
    for c in grpc.StatusCode:
        if c.value[0] == code:
            return c.name
    return str(code)


def open_loop(rate, stop, pool, fn):
    """Calls fn(scheduled_time, n) on the pool at `rate` per second, on time."""
    if rate <= 0:
        return
    period = 1.0 / rate
    t0 = time.monotonic()
    n = 0
    while not stop.is_set():
        at = t0 + n * period
        wait = at - time.monotonic()
        if wait > 0 and stop.wait(wait):
            break
        pool.submit(fn, at, n)
        n += 1


def interactive_call(stub, rows, stats, rng_lock, rng):
    def call(at, n):
        with rng_lock:
            row = rows[rng.randrange(len(rows))]
        try:
            r = stub.Optimize(pb.OptimizeRequest(tracks=[make_track(f"i{n}", row)]), timeout=30)
            if len(r.results) == 1 and r.results[0].status.code == 0:
                stats.ok("interactive", time.monotonic() - at)
            else:
                code = r.results[0].status.code if r.results else -1
                stats.error(f"interactive track {status_name(code)}",
                            r.results[0].status.message if r.results else "no result")
        except grpc.RpcError as e:
            stats.error(f"interactive {e.code().name}", e.details())
    return call


def http_call(server, rows, stats, rng_lock, rng):
    def call(at, n):
        with rng_lock:
            genre, feats = rows[rng.randrange(len(rows))]
        body = json.dumps({"tracks": [{"id": f"h{n}", "genre": genre, "features": feats}]})
        try:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=35)
            conn.request("POST", "/v1/optimize", body=body,
                         headers={"Content-Type": "application/json", "grpc-timeout": "30S"})
            resp = conn.getresponse()
            text = resp.read()
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            stats.error(f"http {type(e).__name__}", str(e))
            return
        if resp.status != 200:
            stats.error(f"http {resp.status}", text[:200].decode(errors="replace"))
            return
        res = json.loads(text).get("results", [])
        if len(res) == 1 and res[0].get("status", {}).get("code", 0) == 0:
            stats.ok("http", time.monotonic() - at)
        else:
            stats.error("http 200 with a track error", text[:200].decode(errors="replace"))
    return call


# --- the run --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.path.join(ROOT, "build", "service", "nio-server"))
    ap.add_argument("--model-dir", default="", help="default: the server's bundled model")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=30, help="seconds between rows")
    ap.add_argument("--catalog", default=BIG_CATALOG if os.path.exists(BIG_CATALOG) else DEMO_CATALOG)
    ap.add_argument("--catalog-rows", type=int, default=20000, help="rows read at most")
    ap.add_argument("--streams", type=int, default=3, help="catalog streams at once")
    ap.add_argument("--stream-window", type=int, default=256, help="unanswered tracks per stream")
    ap.add_argument("--stream-tracks", type=int, default=2048, help="tracks per stream")
    ap.add_argument("--interactive-rate", type=float, default=5, help="gRPC calls per second")
    ap.add_argument("--http-rate", type=float, default=2, help="HTTP calls per second")
    ap.add_argument("--rss-growth-mb", type=float, default=64,
                    help="fail when RSS rises more than this over the first row's")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the rows and the summary here")
    args = ap.parse_args()

    global pb, pb_grpc, grpc
    import nio_grpc_stubs
    pb, pb_grpc = nio_grpc_stubs.load()
    import grpc as grpc_module
    grpc = grpc_module
    stubs_dir = os.path.dirname(os.path.dirname(os.path.dirname(pb.__file__)))

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    try:
        server = nio_server_process.ServerProcess(args.server, args.model_dir or None)
    except nio_server_process.ServerStartError as e:
        sys.exit(f"soak: {e}")
    stop = threading.Event()
    failures = []
    rows_out = []
    exit_status = None
    try:
        print(server.start_line, flush=True)
        channel = grpc.insecure_channel(server.grpc)
        stub = pb_grpc.NioStub(channel)
        model = stub.GetModel(pb.GetModelRequest(), timeout=30)
        rows, skipped = load_catalog(args.catalog, model, args.catalog_rows)
        if not rows:
            sys.exit(f"soak: no row of {args.catalog} is valid for model {model.name}")
        d = model.default_options
        print(f"model {model.name} {model.version} ({pb.Optimizer.Name(d.optimizer)} "
              f"{d.starts} starts x {d.steps} steps); {len(rows)} catalog rows of "
              f"{os.path.relpath(args.catalog)} ({skipped} skipped); load: {args.streams} catalog "
              f"streams (window {args.stream_window}), {args.interactive_rate:g} interactive gRPC "
              f"calls/s, {args.http_rate:g} HTTP calls/s; {args.minutes:g} min, a row every "
              f"{args.interval:g} s", flush=True)
        rss_start = server.rss_mb()
        stats = Stats()
        rng, rng_lock = random.Random(args.seed), threading.Lock()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=48)
        threads = [threading.Thread(target=catalog_stream, daemon=True,
                                    args=(k, args, server, rows, stats, stop))
                   for k in range(args.streams)]
        threads.append(threading.Thread(target=open_loop, daemon=True, args=(
            args.interactive_rate, stop, pool, interactive_call(stub, rows, stats, rng_lock, rng))))
        threads.append(threading.Thread(target=open_loop, daemon=True, args=(
            args.http_rate, stop, pool, http_call(server, rows, stats, rng_lock, rng))))
        header = (f"{'elapsed':>7} {'rss_MB':>7} {'cpu':>4} {'load1':>5} {'ok_int':>6} {'ok_http':>7} "
                  f"{'ok_trk':>7} {'int_p50':>7} {'int_p99':>7} {'http_p50':>8} {'http_p99':>8} "
                  f"{'trk/s':>6}  errors")
        print(header, flush=True)
        t0 = time.monotonic()
        cpu0 = server.cpu_s()
        me0 = time.process_time()
        for t in threads:
            t.start()
        end = t0 + args.minutes * 60
        next_row = t0 + args.interval
        while True:
            now = time.monotonic()
            if next_row > end + 1e-6:
                next_row = end
            if now < next_row:
                time.sleep(next_row - now)  # the row's clock, not a wait for the server
                continue
            d = stats.roll()
            cpu1 = server.cpu_s()
            span = args.interval if not rows_out else next_row - rows_out[-1]["t_abs"]
            row = {"t_abs": next_row, "elapsed_s": round(next_row - t0, 1),
                   "rss_mb": server.rss_mb(), "cpu_cores": (cpu1 - cpu0) / span,
                   "ok": dict(d["ok"]), "errors": dict(d["errors"]),
                   "int_p50_ms": pct(d["lat"]["interactive"], 0.5) * 1e3,
                   "int_p99_ms": pct(d["lat"]["interactive"], 0.99) * 1e3,
                   "http_p50_ms": pct(d["lat"]["http"], 0.5) * 1e3,
                   "http_p99_ms": pct(d["lat"]["http"], 0.99) * 1e3,
                   "tracks_per_s": d["ok"]["tracks"] / span}
            cpu0 = cpu1
            rows_out.append(row)
            row["load1"] = os.getloadavg()[0]
            print(f"{row['elapsed_s']:>6.0f}s {row['rss_mb']:>7.1f} {row['cpu_cores']:>4.2f} "
                  f"{row['load1']:>5.1f} "
                  f"{d['ok']['interactive']:>6} {d['ok']['http']:>7} {d['ok']['tracks']:>7} "
                  f"{row['int_p50_ms']:>7.1f} {row['int_p99_ms']:>7.1f} "
                  f"{row['http_p50_ms']:>8.1f} {row['http_p99_ms']:>8.1f} "
                  f"{row['tracks_per_s']:>6.1f}  {errors_text(d['errors'])}", flush=True)
            if next_row >= end:
                break
            next_row += args.interval
        load_s = time.monotonic() - t0
        me_s = time.process_time() - me0

        # The load stops: calls in flight finish, streams half-close.
        stop.set()
        pool.shutdown(wait=True)
        for t in threads:
            t.join(timeout=120)
        if any(t.is_alive() for t in threads):
            failures.append("some clients did not finish within 120 s of the end")
        tail = stats.roll()  # what finished after the last row
        drained, last = False, {}
        drain_end = time.monotonic() + 60
        while time.monotonic() < drain_end:
            snap = scrape(server.url)
            last = {g: total(snap, g) for g in ("nio_active_slots", "nio_queued_tracks",
                                               "nio_caller_streams_open")}
            if all(v == 0 for v in last.values()):
                drained = True
                break
            time.sleep(0.1)  # a poll interval
        if not drained:
            failures.append(f"the server did not drain to 0 after the load: {last}")
        snap = scrape(server.url)
        rss_end = server.rss_mb()
        channel.close()
        exit_status = server.stop(60)
        if exit_status != 0:
            failures.append(f"nio-server exited {exit_status} after SIGTERM (expected 0)")
    finally:
        stop.set()
        if server.proc.poll() is None:
            server.stop()
        shutil.rmtree(stubs_dir, ignore_errors=True)

    # --- the summary ----------------------------------------------------------
    run = stats.run
    rss_first = rows_out[0]["rss_mb"]
    rss_max = max(r["rss_mb"] for r in rows_out)
    xs = [r["elapsed_s"] / 60 for r in rows_out]
    ys = [r["rss_mb"] for r in rows_out]
    slope = 0.0
    if len(xs) > 1:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0
    growth = max(rss_max, rss_end) - rss_first
    n_err = sum(run["errors"].values())
    li, lh = run["lat"]["interactive"], run["lat"]["http"]
    if n_err:
        failures.append(f"{n_err} errors: {errors_text(run['errors'])}; last: "
                        f"{getattr(stats, 'last_error', '')}")
    if growth > args.rss_growth_mb:
        failures.append(f"RSS grew {growth:.1f} MB over the first row's {rss_first:.1f} MB "
                        f"(bound {args.rss_growth_mb:g})")
    by_code = collections.Counter()
    for (n, ls), v in snap.items():
        if n == "nio_requests_total":
            by_code[dict(ls)["code"]] += v
    ended = {dict(ls)["reason"]: v for (n, ls), v in snap.items()
             if n == "nio_tracks_ended_total" and v}
    print()
    print(f"summary after {load_s / 60:.1f} min of load:")
    print(f"  RSS MB: start {rss_start:.1f}, first row {rss_first:.1f}, max {rss_max:.1f}, end "
          f"{rss_end:.1f} (growth over the first row {growth:+.1f}, bound "
          f"{args.rss_growth_mb:g}; trend {slope:+.2f} MB/min)")
    print(f"  OK: {run['ok']['interactive']} interactive calls, {run['ok']['http']} HTTP calls, "
          f"{run['ok']['tracks']} catalog tracks ({stats.streams_checked} streams checked "
          f"exactly once; {tail['ok']['tracks']} tracks after the last row)")
    print(f"  errors: {n_err} ({errors_text(run['errors'])})")
    print(f"  interactive latency: p50 {pct(li, 0.5) * 1e3:.1f}, p90 {pct(li, 0.9) * 1e3:.1f}, "
          f"p99 {pct(li, 0.99) * 1e3:.1f}, max {max(li, default=float('nan')) * 1e3:.1f} ms "
          f"({len(li)} calls)")
    print(f"  HTTP latency: p50 {pct(lh, 0.5) * 1e3:.1f}, p99 {pct(lh, 0.99) * 1e3:.1f}, max "
          f"{max(lh, default=float('nan')) * 1e3:.1f} ms ({len(lh)} calls)")
    rates = [r["tracks_per_s"] for r in rows_out]
    print(f"  catalog tracks/s: mean {run['ok']['tracks'] / load_s:.1f}, rows min "
          f"{min(rates):.1f} max {max(rates):.1f}")
    loads = [r["load1"] for r in rows_out]
    print(f"  machine: {os.cpu_count()} cores, 1-min load average {min(loads):.1f}-"
          f"{max(loads):.1f} over the rows (the server's CPU column is its share); this client "
          f"used {me_s / load_s:.2f} cores")
    print(f"  server: nio_requests_total by code {dict(sorted(by_code.items()))}; "
          f"nio_tracks_ended_total {ended}; process_cpu_seconds_total "
          f"{total(snap, 'process_cpu_seconds_total'):.0f}; drained to 0: "
          f"{'yes' if drained else 'no'}; exit status after SIGTERM: {exit_status}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows_out, "failures": failures, "rss_start": rss_start,
                       "rss_max": rss_max, "rss_end": rss_end, "errors": dict(run["errors"])},
                      f, indent=1, default=str)
    if failures:
        for f in failures:
            print(f"FAIL: {f}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
