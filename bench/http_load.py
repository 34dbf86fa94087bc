#!/usr/bin/python3
"""HTTP load: N concurrent clients of POST /v1/optimize, back to back.

Each client is a thread with its own keep-alive connection (http.client)
that POSTs one track per request, as soon as the previous answer came, for
--duration seconds. The tracks are varied and real-looking, drawn from the
served model's GET /v1/model: its presets (jittered) and draws around each
feature's training mean (its scale as the spread, clipped to the feature's
box; integer and binary features whole), in random genres; reproducible
with --seed. Requests carry no options: the model's defaults answer
(the bundled model: L-BFGS, 8 starts x 30 steps, projected).

Starts nio-server itself (the bundled model, --backend cpu, both ports on
0) unless --url names a running server. Reports requests, errors (every
non-200 answer or failed connection, by code), throughput (req/s, tracks/s),
latency percentiles, and what the server's /metrics say over the run:
nio_formed_batch_rows' mean per class (rows sharing one step), the step
count and the server's CPU.

  bench/http_load.py --server build/service/nio-server [--clients 64] [--duration 20]
  bench/http_load.py --url http://127.0.0.1:8080
"""
import argparse
import ctypes
import http.client
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
START_LINE = re.compile(r"http://(?P<host>[^\s:]+):(?P<port>\d+) \(HTTP\)")


# --- the server ---------------------------------------------------------------

def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_server(binary, extra, timeout=60):
    cmd = [binary, "--listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
           "--backend", "cpu"] + extra
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
    lines = queue.Queue()

    def read():
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    end = time.monotonic() + timeout
    seen = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            proc.kill()
            sys.exit("nio-server gave no start line; stderr:\n" + "".join(seen))
        seen.append(line)
        m = START_LINE.search(line)
        if m:
            # Keep draining stderr (the reader thread does) so it never blocks.
            return proc, f"http://{m.group('host')}:{m.group('port')}", line.strip()


def stop_server(proc):
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- tracks -------------------------------------------------------------------

def make_tracks(model, count, rng):
    """Varied tracks in the model's features: presets jittered, and draws."""
    features = model["features"]
    genres = model["genres"]
    presets = [p["track"] for p in model.get("presets", []) if p["track"].get("features")]

    def whole(f, v):
        lo = f.get("valid_min", f["box_min"])
        hi = f.get("valid_max", f["box_max"])
        return float(min(max(round(v), max(lo, round(f["box_min"]))), min(hi, round(f["box_max"]))))

    def draw(f, around=None, spread=1.0):
        if f["kind"] == "binary":
            if around is not None and rng.random() < 0.8:
                return float(around)
            return 1.0 if rng.random() < f["mean"] else 0.0
        center = f["mean"] if around is None else around
        v = rng.gauss(center, spread * f["scale"])
        if f["kind"] == "integer":
            return whole(f, v)
        v = min(max(v, f["box_min"]), f["box_max"])
        # An exclusive bound (tempo > 0) never sits at the box here: the box
        # lies inside the realistic range.
        return float(f"{v:.6g}")

    tracks = []
    for i in range(count):
        if presets and rng.random() < 0.25:
            p = rng.choice(presets)
            feats = {f["name"]: draw(f, p["features"][f["name"]], 0.25)
                     for f in features if f["name"] in p["features"]}
            # The preset's other features at random, so no two are alike.
            feats.update({f["name"]: draw(f) for f in features if f["name"] not in feats})
            genre = p.get("genre") if rng.random() < 0.5 else rng.choice(genres)
        else:
            feats = {f["name"]: draw(f) for f in features}
            genre = rng.choice(genres)
        tracks.append({"genre": genre, "features": feats})
    return tracks


# --- metrics ------------------------------------------------------------------

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def scrape(url):
    """{(name, frozenset(labels)): value} of GET /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(snapshot, name, **labels):
    return snapshot.get((name, frozenset(labels.items())), 0.0)


# --- the load -----------------------------------------------------------------

class Client(threading.Thread):
    def __init__(self, index, host, port, tracks, start, timeout, options):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index, self.host, self.port = index, host, port
        self.tracks, self.start_at, self.timeout = tracks, start, timeout
        self.stop_at = None  # set before start_at is
        self.options = options
        self.latencies = []  # seconds, answered 200
        self.errors = {}     # code or exception name -> count
        self.ok_tracks = 0
        self.last_error = None

    def run(self):
        conn = None
        n = 0
        self.start_at.wait()
        while time.monotonic() < self.stop_at:
            t = self.tracks[(self.index * 7919 + n) % len(self.tracks)]
            request = {"tracks": [dict(t, id=f"c{self.index}-{n}")]}
            if self.options:
                request["options"] = self.options
            body = json.dumps(request)
            n += 1
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            t0 = time.monotonic()
            try:
                conn.request("POST", "/v1/optimize", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                text = r.read()
                dt = time.monotonic() - t0
            except (OSError, http.client.HTTPException) as e:
                key = type(e).__name__
                self.errors[key] = self.errors.get(key, 0) + 1
                self.last_error = f"{key}: {e}"
                conn.close()
                conn = None
                continue
            if r.status == 200:
                results = json.loads(text).get("results", [])
                bad = [x for x in results if x.get("status", {}).get("code", 0) != 0]
                if bad:
                    key = f"200 with track code {bad[0]['status']['code']}"
                    self.errors[key] = self.errors.get(key, 0) + 1
                    self.last_error = json.dumps(bad[0]["status"])
                else:
                    self.latencies.append(dt)
                    self.ok_tracks += len(results)
            else:
                key = str(r.status)
                self.errors[key] = self.errors.get(key, 0) + 1
                self.last_error = text[:300].decode(errors="replace")
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


def machine_busy_s():
    """CPU seconds all processes of this machine have used (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.path.join(ROOT, "build", "service", "nio-server"),
                    help="the nio-server binary to start (default: %(default)s)")
    ap.add_argument("--url", help="a running server's HTTP address instead (http://host:port)")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra flag for the started server (repeatable), e.g. --model_dir=DIR")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--duration", type=float, default=20, help="seconds")
    ap.add_argument("--tracks", type=int, default=1024, help="distinct tracks drawn")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120, help="per request, seconds")
    ap.add_argument("--priority", choices=["interactive", "batch"],
                    help="send options.priority (default: none, so one-track calls are "
                         "interactive)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    proc = None
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    try:
        if args.url:
            url, start_line = args.url.rstrip("/"), None
        else:
            proc, url, start_line = start_server(args.server, args.server_arg)
            print(start_line)
        parsed = urllib.parse.urlparse(url)
        with urllib.request.urlopen(url + "/v1/model", timeout=30) as r:
            model = json.loads(r.read())
        tracks = make_tracks(model, args.tracks, random.Random(args.seed))
        opts = model.get("default_options", {})
        print(f"model {model['name']} {model['version']}; backend {model.get('backend')}; "
              f"defaults {opts.get('optimizer')} {opts.get('starts')} starts x "
              f"{opts.get('steps')} steps, {opts.get('mode')}")
        print(f"{args.clients} clients x {args.duration:g} s, one track per request, "
              f"{len(tracks)} distinct tracks"
              + (f", priority {args.priority}" if args.priority else ""))

        before = scrape(url)
        machine0, self0 = machine_busy_s(), time.process_time()
        go = threading.Event()
        options = {"priority": f"PRIORITY_{args.priority.upper()}"} if args.priority else {}
        clients = [Client(i, parsed.hostname, parsed.port, tracks, go, args.timeout, options) for i in range(args.clients)]
        for c in clients:
            c.start()
        t0 = time.monotonic()
        for c in clients:
            c.stop_at = t0 + args.duration
        go.set()
        for c in clients:
            c.join()
        elapsed = time.monotonic() - t0
        machine1, self1 = machine_busy_s(), time.process_time()
        after = scrape(url)
    finally:
        stop_server(proc)

    lat = sorted(x for c in clients for x in c.latencies)
    errors = {}
    for c in clients:
        for k, v in c.errors.items():
            errors[k] = errors.get(k, 0) + v
    n_err = sum(errors.values())
    ok = len(lat)
    ok_tracks = sum(c.ok_tracks for c in clients)

    def d(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    rows = {}
    for cls in ("interactive", "batch"):
        count = d("nio_formed_batch_rows_count", **{"class": cls})
        total = d("nio_formed_batch_rows_sum", **{"class": cls})
        rows[cls] = (total / count if count else None, count,
                     d("nio_backend_busy_seconds_total", **{"class": cls}))
    cpu = d("process_cpu_seconds_total")
    served = d("nio_requests_total", method="Optimize", code="OK", caller="anonymous")

    figures = {
        "clients": args.clients, "duration_s": args.duration, "elapsed_s": elapsed,
        "requests": ok + n_err, "ok": ok, "errors": n_err, "error_codes": errors,
        "req_per_s": ok / elapsed, "tracks_per_s": ok_tracks / elapsed,
        "p50_ms": percentile(lat, 0.5) * 1e3, "p90_ms": percentile(lat, 0.9) * 1e3,
        "p99_ms": percentile(lat, 0.99) * 1e3, "max_ms": (lat[-1] if lat else float("nan")) * 1e3,
        "formed_batch_rows_mean": {k: v[0] for k, v in rows.items()},
        "steps": {k: v[1] for k, v in rows.items()},
        "backend_busy_s": {k: v[2] for k, v in rows.items()},
        "server_cpu_s": cpu, "server_optimize_ok": served,
        "server": start_line or url,
    }
    err_text = ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"
    print()
    print("| | figure |")
    print("|---|---|")
    print(f"| requests (answered 200 / errors) | {ok + n_err} ({ok} / {n_err}) |")
    print(f"| errors by code | {err_text} |")
    print(f"| throughput | {ok / elapsed:.1f} req/s, {ok_tracks / elapsed:.1f} tracks/s "
          f"({elapsed:.1f} s) |")
    print(f"| latency p50 / p90 / p99 / max | {figures['p50_ms']:.1f} / {figures['p90_ms']:.1f} / "
          f"{figures['p99_ms']:.1f} / {figures['max_ms']:.1f} ms |")
    for cls, (mean, count, busy) in rows.items():
        if count:
            print(f"| nio_formed_batch_rows mean, {cls} | {mean:.1f} rows ({count:.0f} steps, "
                  f"backend busy {busy:.1f} s) |")
    print(f"| server CPU (process_cpu_seconds_total) | {cpu:.1f} s = {cpu / elapsed:.2f} cores |")
    if machine0 is not None:
        machine, me = machine1 - machine0, self1 - self0
        others = machine - me - (cpu if proc is not None else 0)
        figures.update(machine_cpu_s=machine, client_cpu_s=me)
        print(f"| machine CPU busy | {machine / elapsed:.2f} cores (this client {me / elapsed:.2f}"
              + (f", other processes {others / elapsed:.2f}" if proc is not None else "")
              + f", {os.cpu_count()} cores) |")
    print(f"| server's Optimize OK count (nio_requests_total) | {served:.0f} |")
    if n_err:
        last = next(c.last_error for c in clients if c.last_error)
        print(f"\nlast error: {last}")
    if args.json:
        def plain(v):  # NaN (no answers) as null: strict JSON
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return None if isinstance(v, float) and v != v else v
        with open(args.json, "w") as f:
            json.dump(plain(figures), f, indent=1)
    return 1 if n_err else 0


if __name__ == "__main__":
    sys.exit(main())
