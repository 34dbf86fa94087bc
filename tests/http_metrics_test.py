#!/usr/bin/python3
"""GET /metrics of the real nio-server, read with the real Prometheus parser.

Starts the server binary (tiny test model, CPU backend, gRPC and HTTP both on
port 0; the ports come from its start line on stderr) and checks, over HTTP
with stdlib clients and curl:

  - /healthz, /readyz and /v1/model answer;
  - /metrics parses (prometheus_client's text parser): every expected family
    is there once with its type, no sample falls outside a declared family,
    every histogram's buckets rise, end with +Inf and +Inf == _count;
    nio_ready, nio_build_info and nio_model_info are 1 with their labels;
  - two clients sharing a step move the formed-batch histogram: client A
    POSTs one 100000-step track (Adam, 1 start: the tiny model's default);
    once /metrics shows it in the interactive block (nio_active_slots 1),
    client B POSTs the same; then the interactive histogram's (1, 2] bucket
    has grown;
  - nio_requests_total{method="Optimize"} and nio_http_requests_total
    {route="/v1/optimize"} count those calls (code OK / status 200) and a
    bad request sent with curl (INVALID_ARGUMENT / 400).

The overlap has no sleep in it: the client waits on /metrics (each poll
also ends early when A answers). A answers only after its 100000 steps
(0.2-1 s here), and B is admitted a few milliseconds after A is seen (within
5-40 of A's steps in the runs here), so a missed
overlap needs A to finish inside that gap; if it happens anyway (a starved
machine), the round is repeated, at most --rounds times, then the test
fails saying so.

  tests/http_metrics_test.py --server build/service/nio-server \\
      --model_dir tests/data/tiny_model

Exit status 0 on success, 1 with a message on the first failed check.
"""
import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
import nio_server_process  # noqa: E402

COUNTERS = [
    "nio_requests_total", "nio_http_requests_total", "nio_tracks_submitted_total",
    "nio_tracks_optimized_total", "nio_tracks_ended_total", "nio_steps_total",
    "nio_track_steps_total", "nio_backend_busy_seconds_total", "process_cpu_seconds_total",
]
GAUGES = [
    "nio_build_info", "nio_model_info", "nio_ready", "nio_backend_broken",
    "nio_track_steps_per_second", "nio_active_slots", "nio_queued_tracks", "nio_slots",
    "process_virtual_memory_bytes", "process_resident_memory_bytes", "process_threads",
    "process_start_time_seconds", "process_open_fds", "process_max_fds",
]
HISTOGRAMS = [
    "nio_request_duration_seconds", "nio_http_request_duration_seconds",
    "nio_formed_batch_rows", "nio_step_seconds",
]
CLASSES = ("interactive", "batch")
LONG_STEPS = 100000  # the API's maximum


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()


# --- the server ---------------------------------------------------------------

def start_server(binary, model_dir, deadline):
    try:
        return nio_server_process.ServerProcess(binary, model_dir, deadline.left())
    except nio_server_process.ServerStartError as e:
        raise Failure(str(e)) from None


# --- HTTP clients -------------------------------------------------------------

def http_get(server, path, timeout=10):
    """(status, body) of a GET with urllib."""
    return nio_server_process.http_get(server.url + path, timeout)


def curl(server, method, path, body=None, timeout=10):
    """(status, body) of one request made by curl."""
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-X", method, "-o", "-",
           "-w", "\n%{http_code}", server.url + path]
    if body is not None:
        cmd[1:1] = ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    p = subprocess.run(cmd, input=body, capture_output=True, text=True, timeout=timeout + 5)
    check(p.returncode == 0, f"curl {method} {path} failed ({p.returncode}): {p.stderr.strip()}")
    text, _, code = p.stdout.rpartition("\n")
    return int(code), text


def track(track_id, genre="pop", danceability=0.5):
    return {"id": track_id, "genre": genre, "features": {"danceability": danceability}}


class OptimizeClient(threading.Thread):
    """One POST /v1/optimize on its own keep-alive connection and thread."""

    def __init__(self, server, name, body, timeout):
        super().__init__(name=name, daemon=True)
        self.server, self.body, self.timeout = server, json.dumps(body), timeout
        self.status = None
        self.response = None
        self.error = None
        self.done = threading.Event()

    def run(self):
        try:
            conn = http.client.HTTPConnection(self.server.host, self.server.port,
                                              timeout=self.timeout)
            conn.request("POST", "/v1/optimize", body=self.body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            self.status, text = r.status, r.read().decode()
            self.response = json.loads(text) if text else None
            conn.close()
        except Exception as e:  # reported by the main thread
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.done.set()

    def result(self):
        check(self.error is None, f"client {self.name}: {self.error}")
        check(self.status == 200, f"client {self.name}: HTTP {self.status}: {self.response}")
        results = self.response.get("results", [])
        check(len(results) == 1 and results[0].get("status", {}).get("code", 0) == 0,
              f"client {self.name}: not one OK result: {json.dumps(self.response)[:400]}")
        return results[0]


# --- /metrics -----------------------------------------------------------------

class Metrics:
    """One scrape of /metrics, parsed by prometheus_client."""

    def __init__(self, server):
        status, self.text = http_get(server, "/metrics")
        check(status == 200, f"GET /metrics: HTTP {status}")
        self.families = {}
        for fam in text_string_to_metric_families(self.text):
            check(fam.name not in self.families, f"/metrics: family {fam.name} appears twice")
            self.families[fam.name] = fam

    def family(self, name):
        # The parser names a counter family without its _total suffix.
        fam = self.families.get(name) or self.families.get(re.sub(r"_total$", "", name))
        check(fam is not None, f"/metrics: no family {name}")
        return fam

    def value(self, sample_name, default=None, **labels):
        family = re.sub(r"_(bucket|sum|count)$", "", sample_name)
        fam = self.families.get(family) or self.families.get(re.sub(r"_total$", "", family))
        matches = []
        if fam is not None:
            matches = [s.value for s in fam.samples
                       if s.name == sample_name and s.labels == labels]
        if not matches and default is not None:
            return default
        check(len(matches) == 1,
              f"/metrics: {len(matches)} samples {sample_name}{labels}, expected one")
        return matches[0]


def check_families(m):
    untyped = [f.name for f in m.families.values() if f.type == "untyped"]
    check(not untyped, f"/metrics: samples outside a declared family: {untyped}")
    for names, typ in ((COUNTERS, "counter"), (GAUGES, "gauge"), (HISTOGRAMS, "histogram")):
        for name in names:
            fam = m.family(name)
            check(fam.type == typ, f"/metrics: {name} is a {fam.type}, expected a {typ}")
    for fam in m.families.values():
        for s in fam.samples:
            check(not math.isnan(s.value), f"/metrics: {s.name}{s.labels} is NaN")
            if fam.type == "counter":
                check(s.value >= 0, f"/metrics: counter {s.name}{s.labels} = {s.value}")
        if fam.type == "histogram":
            check_histogram(fam)


def check_histogram(fam):
    series = {}
    for s in fam.samples:
        labels = {k: v for k, v in s.labels.items() if k != "le"}
        key = tuple(sorted(labels.items()))
        series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if s.name == fam.name + "_bucket":
            check("le" in s.labels, f"{fam.name}: a bucket without le: {s.labels}")
            series[key]["buckets"].append((s.labels["le"], s.value))
        elif s.name == fam.name + "_sum":
            series[key]["sum"] = s.value
        elif s.name == fam.name + "_count":
            series[key]["count"] = s.value
    for key, h in series.items():
        where = f"{fam.name}{dict(key)}"
        b = h["buckets"]
        check(b, f"{where}: no buckets")
        check(h["sum"] is not None and h["count"] is not None, f"{where}: no _sum or _count")
        les = [float(le) for le, _ in b]
        check(all(x < y for x, y in zip(les, les[1:])), f"{where}: le not increasing: {les}")
        check(b[-1][0] == "+Inf", f"{where}: last bucket is le={b[-1][0]}, not +Inf")
        counts = [v for _, v in b]
        check(all(x <= y for x, y in zip(counts, counts[1:])),
              f"{where}: buckets not cumulative: {counts}")
        check(counts[-1] == h["count"], f"{where}: +Inf bucket {counts[-1]} != _count {h['count']}")
        check(h["sum"] >= 0, f"{where}: _sum {h['sum']} < 0")


def check_info(m):
    check(m.value("nio_ready") == 1, "nio_ready is not 1")
    check(m.value("nio_backend_broken") == 0, "nio_backend_broken is not 0")
    for name, keys in (("nio_build_info", ("version", "build_type", "backends")),
                       ("nio_model_info", ("model", "model_version", "backend"))):
        samples = m.family(name).samples
        check(len(samples) == 1, f"{name}: {len(samples)} samples, expected one")
        s = samples[0]
        check(s.value == 1, f"{name} is {s.value}, not 1")
        check(set(s.labels) == set(keys), f"{name}: labels {sorted(s.labels)}, expected {keys}")
        empty = [k for k in keys if not s.labels[k]]
        check(not empty, f"{name}: empty labels {empty}")
    model = m.family("nio_model_info").samples[0].labels
    check(model["model"] == "tiny-random" and model["model_version"] == "1",
          f"nio_model_info names {model['model']} {model['model_version']}, not tiny-random 1")
    check(model["backend"].startswith("cpu"), f"nio_model_info backend: {model['backend']}")
    for c in CLASSES:
        check(m.value("nio_slots", **{"class": c}) > 0, f"nio_slots{{class={c}}} is not > 0")
    # One scrape is one snapshot of the scheduler: its figures agree.
    for c in CLASSES:
        cls = {"class": c}
        steps = m.value("nio_steps_total", **cls)
        check(m.value("nio_formed_batch_rows_count", **cls) == steps,
              f"nio_formed_batch_rows_count{cls} != nio_steps_total")
        check(m.value("nio_formed_batch_rows_sum", **cls) == m.value("nio_track_steps_total", **cls),
              f"nio_formed_batch_rows_sum{cls} != nio_track_steps_total")
        check(m.value("nio_step_seconds_count", **cls) == steps,
              f"nio_step_seconds_count{cls} != nio_steps_total")


def wait_until(server, cond, what, deadline, stop=None):
    """Polls /metrics until cond(metrics); stop (an Event) ends the wait early."""
    while True:
        m = Metrics(server)
        if cond(m):
            return m
        if stop is not None and stop.is_set():
            return None
        check(deadline.left() > 0, f"timed out waiting until {what}")
        if stop is not None:
            stop.wait(0.002)  # a poll interval; returns at once when stop is set


# --- the checks ---------------------------------------------------------------

def interactive(name, m, **extra):
    return m.value(name, default=0.0, **{"class": "interactive"}, **extra)


def two_row_steps(m):
    return (interactive("nio_formed_batch_rows_bucket", m, le="2")
            - interactive("nio_formed_batch_rows_bucket", m, le="1"))


def overlap_round(server, deadline, timeout):
    """One round of A then B; returns (their results, whether 2-row steps ran)."""
    body = lambda i: {"tracks": [track(i)], "options": {"steps": LONG_STEPS}}
    before = wait_until(server, lambda m: interactive("nio_active_slots", m) == 0
                        and interactive("nio_queued_tracks", m) == 0,
                        "the interactive block is empty", deadline)
    t0 = time.monotonic()
    a = OptimizeClient(server, "A", body("a"), timeout)
    a.start()
    seen = wait_until(server, lambda m: interactive("nio_active_slots", m) == 1,
                      "client A's track is in the interactive block", deadline, stop=a.done)
    t_seen = time.monotonic() - t0
    b = None
    if seen is not None:
        b = OptimizeClient(server, "B", body("b"), timeout)
        b.start()
    clients = [a] + ([b] if b else [])
    for c in clients:
        c.join(max(0.0, deadline.left()))
        check(c.done.is_set(), f"client {c.name}: no answer in time")
    results = [c.result() for c in clients]
    after = Metrics(server)
    print(f"  round: A seen in the block after {t_seen * 1e3:.1f} ms; both answered after "
          f"{time.monotonic() - t0:.2f} s")
    shared = two_row_steps(after) - two_row_steps(before)
    if b is None:
        print("  A answered before it was seen in the interactive block")
    return results, shared > 0, before, after


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the nio-server binary")
    ap.add_argument("--model_dir", required=True, help="the tiny test model's directory")
    ap.add_argument("--timeout", type=float, default=60, help="for the whole test, seconds")
    ap.add_argument("--rounds", type=int, default=3,
                    help="overlap attempts before the test fails")
    args = ap.parse_args()
    check(shutil.which("curl") is not None, "curl is not installed (the test uses it)")
    deadline = Deadline(args.timeout)
    # SIGTERM/SIGINT end the test through the finally below, killing the server.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))

    server = start_server(args.server, args.model_dir, deadline)
    try:
        print(server.start_line)
        run_checks(server, args, deadline)
    except Failure:
        print("server stderr (last lines):\n" + server.err.text(30), file=sys.stderr)
        raise
    finally:
        server.stop()
    print("PASS")


def run_checks(server, args, deadline):
    # The plain endpoints, one of them with curl.
    status, body = curl(server, "GET", "/healthz")
    check(status == 200 and json.loads(body).get("status") == "ok", f"/healthz: {status} {body}")
    status, body = http_get(server, "/readyz")
    check(status == 200 and json.loads(body).get("status") == "SERVING", f"/readyz: {status} {body}")
    status, body = http_get(server, "/v1/model")
    check(status == 200, f"/v1/model: HTTP {status}: {body}")
    genres = json.loads(body).get("genres", [])
    check({"chill", "edm", "pop", "sad"} <= set(genres), f"/v1/model genres: {genres}")

    m0 = Metrics(server)
    check_families(m0)
    check_info(m0)
    print(f"/metrics: {len(m0.families)} families, types and histograms OK")

    # Two clients share a step.
    results = []
    for attempt in range(1, args.rounds + 1):
        got, shared, before, after = overlap_round(server, deadline, args.timeout)
        results += got
        if shared:
            break
        print(f"  round {attempt}: A and B never shared a step; trying again")
    check(shared, f"nio_formed_batch_rows{{class=\"interactive\"}}: no step with 2 rows in "
          f"{args.rounds} rounds of two overlapping {LONG_STEPS}-step clients")
    print(f"two clients: {two_row_steps(after) - two_row_steps(before):.0f} steps with 2 rows; "
          f"the (1, 2] bucket moved")
    for r in results:
        check(r.get("steps_run") == LONG_STEPS, f"track {r['id']}: steps_run {r.get('steps_run')}")

    # A bad request, with curl: an unknown feature.
    bad = json.dumps({"tracks": [{"id": "x", "genre": "pop", "features": {"no_such_feature": 1}}]})
    status, body = curl(server, "POST", "/v1/optimize", bad)
    check(status == 400, f"unknown feature: HTTP {status}, expected 400: {body}")
    check(json.loads(body).get("status") == "INVALID_ARGUMENT",
          f"unknown feature: body {body}, expected status INVALID_ARGUMENT")

    # The counters count exactly what this test sent.
    m = Metrics(server)
    check_families(m)
    check_info(m)
    ok_calls = len(results)
    expect = [
        ("nio_requests_total", {"method": "Optimize", "code": "OK", "caller": "anonymous"}, ok_calls),
        ("nio_requests_total", {"method": "Optimize", "code": "INVALID_ARGUMENT", "caller": "anonymous"}, 1),
        ("nio_http_requests_total", {"route": "/v1/optimize", "status": "200"}, ok_calls),
        ("nio_http_requests_total", {"route": "/v1/optimize", "status": "400"}, 1),
        ("nio_request_duration_seconds_count", {"method": "Optimize", "class": "interactive"},
         ok_calls),
        ("nio_http_request_duration_seconds_count", {"route": "/v1/optimize"}, ok_calls + 1),
        ("nio_tracks_submitted_total", {"class": "interactive"}, ok_calls),
        ("nio_tracks_optimized_total", {"class": "interactive"}, ok_calls),
        ("nio_track_steps_total", {"class": "interactive"}, ok_calls * LONG_STEPS),
    ]
    for name, labels, want in expect:
        got = m.value(name, default=0.0, **labels) - m0.value(name, default=0.0, **labels)
        check(got == want, f"{name}{labels} grew by {got:g}, expected {want}")
    check(m.value("nio_http_requests_total", route="/metrics", status="200")
          > m0.value("nio_http_requests_total", default=0.0, route="/metrics", status="200"),
          "nio_http_requests_total{route=\"/metrics\"} did not count the scrapes")
    for reason in ("cancelled", "deadline_exceeded", "failed", "queue_full"):
        check(m.value("nio_tracks_ended_total", reason=reason) == 0,
              f"nio_tracks_ended_total{{reason={reason}}} is not 0")
    print(f"counters: {ok_calls} Optimize calls OK / 200, one INVALID_ARGUMENT / 400")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
