#!/usr/bin/python3
"""Faults against the real nio-server and nio CLI (loopback, bounded in time).

Each check is a function with its own server (tiny test model, --backend cpu,
gRPC and HTTP on port 0; the ports come from its start line), prints one line
with its figures, and the script exits 1 when any check failed:

  a  vanishing clients: children streaming tracks (a Python gRPC stream, a
     `nio batch`, a curl HTTP stream) are SIGKILLed mid-stream, several
     rounds; the server stays up, /metrics drain to 0 (nio_active_slots,
     nio_queued_tracks, nio_caller_streams_open, nio_caller_row_steps_in_flight)
     and a new call is answered.
  b  a stream client that never reads: it sends one-step tracks and reads
     nothing; the server's VmRSS grows by less than --rss_bound_mb while
     another client is answered, and everything drains once it goes.
  c  256 concurrent streams x 20 tracks from one caller (the default
     --max_streams_per_caller): all 256 open at once on the server, every
     track answered exactly once, all OK.
  d  output disk full during `nio batch` (a small tmpfs; SKIP when mount is
     not permitted): a non-zero exit with a clear message and the --resume
     command, then the tmpfs grown and `--resume`: every input key exactly
     once, for a JSONL and a CSV output.
  d_full_resume: `--resume` while the disk is still full (a finished output,
     and one cut by the full disk) fails naming the reason and changes
     neither the saved results nor the manifest (nio before this check
     replaced the manifest with an empty file and left a .resume.tmp), then
     completes once there is room.
  e  SIGTERM during load (gRPC streams and unary calls, HTTP calls and a
     `nio batch` in flight; --drain_timeout_s 3): every call ends OK,
     UNAVAILABLE or CANCELLED (each counted), no stream answers a track twice
     or ends OK with a track unanswered, the server exits 0, and the batch
     rerun with --resume against a fresh server gives every key once.

Waits poll their condition with a deadline (mostly /metrics); nothing sleeps
to wait for something.

  tests/fault_test.py --server build/service/nio-server --cli build/client/nio \\
      --model_dir tests/data/tiny_model [--checks a,b,c,d,d_full_resume,e]

Needs protoc and grpc_python_plugin (protobuf-compiler-grpc), python3-grpcio,
python3-prometheus-client and curl; check d needs root (mount -t tmpfs).
"""
import argparse
import collections
import csv
import faulthandler
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "tools"))
import nio_server_process  # noqa: E402
from nio_server_process import Lines  # noqa: E402
DEFAULT_CHECKS = "a,b,c,d,d_full_resume,e"

pb = None       # nio_pb2
pb_grpc = None  # nio_pb2_grpc
grpc = None


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()


def poll(cond, what, deadline, interval=0.02):
    """cond()'s first true value; Failure once the deadline passes."""
    while True:
        v = cond()
        if v:
            return v
        check(deadline.left() > 0, f"timed out waiting until {what}")
        time.sleep(min(interval, max(0.0, deadline.left())))


def load_stubs(stubs_dir=None):
    global pb, pb_grpc, grpc
    if stubs_dir:
        sys.path.insert(0, stubs_dir)
        from nio.v1 import nio_pb2, nio_pb2_grpc
    else:
        sys.path.insert(0, os.path.join(HERE, "tools"))
        import nio_grpc_stubs
        nio_pb2, nio_pb2_grpc = nio_grpc_stubs.load()
    import grpc as grpc_module
    pb, pb_grpc, grpc = nio_pb2, nio_pb2_grpc, grpc_module
    # The folder holding nio/v1/, for child processes.
    return os.path.dirname(os.path.dirname(os.path.dirname(nio_pb2.__file__)))


# --- processes ----------------------------------------------------------------

class Server(nio_server_process.ServerProcess):
    """The shared server process, failing a check (Failure) when it cannot
    start, with a gRPC stub."""

    def __init__(self, binary, model_dir, deadline, extra=()):
        try:
            super().__init__(binary, model_dir, deadline.left(), extra)
        except nio_server_process.ServerStartError as e:
            raise Failure(str(e)) from None
        self._channel = None

    def stub(self):
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.grpc)
        return pb_grpc.NioStub(self._channel)

    def new_stub(self):
        """A stub on a channel (connection) of its own."""
        return pb_grpc.NioStub(grpc.insecure_channel(self.grpc))

    def stop(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        super().stop()


class Servers:
    """Every server a check starts, stopped at its end whatever happens."""

    def __init__(self, args, deadline):
        self.args, self.deadline, self.all = args, deadline, []

    def start(self, extra=()):
        s = Server(self.args.server, self.args.model_dir, self.deadline, extra)
        self.all.append(s)
        return s

    def stop(self):
        for s in self.all:
            s.stop()


def spawn(cmd, **kw):
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, preexec_fn=nio_server_process.die_with_parent, **kw)


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# --- HTTP and /metrics ----------------------------------------------------------

def http_get(server, path, timeout=10):
    return nio_server_process.http_get(server.url + path, timeout)


class Metrics:
    """One scrape of /metrics."""

    def __init__(self, server):
        status, text = http_get(server, "/metrics")
        check(status == 200, f"GET /metrics: HTTP {status}")
        self.samples = nio_server_process.metric_samples(text)

    def total(self, name, **labels):
        """The sum of name's samples whose labels include `labels` (0 if none)."""
        return sum(s.value for s in self.samples if s.name == name
                   and all(s.labels.get(k) == v for k, v in labels.items()))


DRAIN_GAUGES = ("nio_active_slots", "nio_queued_tracks", "nio_caller_streams_open",
                "nio_caller_row_steps_in_flight")


def in_flight(m):
    return {g: m.total(g) for g in DRAIN_GAUGES}


def wait_drained(server, deadline):
    """Polls /metrics until nothing is queued, running or open; seconds it took."""
    t0 = time.monotonic()
    last = {}

    def drained():
        last.update(in_flight(Metrics(server)))
        return all(v == 0 for v in last.values())

    try:
        poll(drained, "the server drained", deadline)
    except Failure:
        raise Failure(f"the server did not drain in time: {last}")
    return time.monotonic() - t0


# --- tracks and calls -------------------------------------------------------------

GENRES = ("chill", "edm", "pop", "sad")


def track(track_id, i=0):
    t = pb.Track(id=track_id, genre=GENRES[i % len(GENRES)])
    t.features["danceability"] = 0.1 + 0.8 * ((i * 37) % 101) / 100.0
    return t


def optimize_ok(server, deadline, steps=20, stub=None):
    """One one-track unary Optimize answered OK; its latency in ms."""
    t0 = time.monotonic()
    r = (stub or server.stub()).Optimize(
        pb.OptimizeRequest(tracks=[track("probe")], options=pb.OptimizeOptions(steps=steps)),
        timeout=max(1.0, min(30.0, deadline.left())))
    check(len(r.results) == 1 and r.results[0].status.code == 0,
          f"a new call was not answered OK: {r}")
    return (time.monotonic() - t0) * 1e3


def tiny_catalog(server, source, path):
    """The demo catalog in the served model's columns (its other features
    dropped) and genres (unknown ones replaced in turn): one key per row."""
    model = server.stub().GetModel(pb.GetModelRequest(), timeout=10)
    names = [f.name for f in model.features]
    genres = list(model.genres)
    keys = []
    with open(source, newline="") as f, open(path, "w", newline="") as out:
        rows = csv.DictReader(f)
        w = csv.writer(out)
        w.writerow(["track_id"] + names + ["track_genre"])
        for i, row in enumerate(rows):
            genre = row["track_genre"] if row["track_genre"] in genres else genres[i % len(genres)]
            w.writerow([row["track_id"]] + [row[n] for n in names] + [genre])
            keys.append((row["track_id"], genre))
    check(len(set(keys)) == len(keys) > 0, f"{source}: no rows, or keys repeat")
    return keys


def output_keys(path):
    """(key -> count, statuses) of a batch output, JSONL or CSV."""
    counts, statuses = collections.Counter(), collections.Counter()
    with open(path, newline="") as f:
        if path.endswith(".csv"):
            for row in csv.DictReader(f):
                counts[(row["id"], row["genre"])] += 1
                statuses[row["status"]] += 1
        else:
            for line in f:
                j = json.loads(line)
                counts[(j["id"], j["genre"])] += 1
                statuses[j["status"]] += 1
    return counts, statuses


def check_exactly_once(path, keys, what):
    counts, statuses = output_keys(path)
    missing = [k for k in keys if counts[k] == 0]
    twice = [k for k, n in counts.items() if n > 1]
    extra = [k for k in counts if k not in set(keys)]
    check(not missing and not twice and not extra,
          f"{what}: {len(missing)} keys missing (e.g. {missing[:3]}), {len(twice)} twice "
          f"(e.g. {twice[:3]}), {len(extra)} not in the input")
    check(set(statuses) == {"ok"}, f"{what}: statuses {dict(statuses)}")
    return len(counts)


def complete_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


# --- child: one gRPC stream, killed by the parent ---------------------------------

def child_stream(args):
    """--child_stream ADDRESS: streams --child_tracks tracks, prints 'event'
    at its first answer and keeps reading until killed."""
    load_stubs(args.stubs)
    stub = pb_grpc.NioStub(grpc.insecure_channel(args.child_stream))
    opts = pb.OptimizeOptions(steps=args.child_steps, progress_every=50)

    def requests():
        for i in range(0, args.child_tracks, 16):
            yield pb.OptimizeStreamRequest(
                tracks=[track(f"c{j}", j) for j in range(i, min(i + 16, args.child_tracks))],
                options=opts)

    first = True
    for _ in stub.OptimizeStream(requests()):
        if first:
            print("event", flush=True)
            first = False
    print("ended", flush=True)
    return 0


# --- the checks -----------------------------------------------------------------

def check_vanishing_clients(ctx, servers, deadline):
    """a: children SIGKILLed mid-stream; the server drains and answers."""
    server = servers.start()
    catalog = os.path.join(ctx.tmp, "a_catalog.csv")
    tiny_catalog(server, ctx.args.catalog, catalog)
    m0 = Metrics(server)
    rounds, killed, drain_s, answer_ms = ctx.args.rounds, collections.Counter(), [], []
    at_kill = []  # tracks running or queued on the server as each round's kill came
    steps = 100000  # long tracks (the most one may ask): mid-way at the kill
    http_body = json.dumps({"tracks": [{"id": f"h{i}", "genre": GENRES[i % 4],
                                        "features": {"danceability": 0.1 + i / 100}}
                                       for i in range(32)],
                            "options": {"steps": steps, "progress_every": 50}})
    body_file = os.path.join(ctx.tmp, "a_http_body.json")
    with open(body_file, "w") as f:
        f.write(http_body)
    for r in range(rounds):
        out = os.path.join(ctx.tmp, f"a_batch_{r}.jsonl")
        children = [
            ("python gRPC stream",
             [sys.executable, os.path.abspath(__file__), "--child_stream", server.grpc,
              "--stubs", ctx.stubs, "--child_tracks", "64", "--child_steps", str(steps)],
             lambda o: any(l.startswith("event") for l in o.lines)),
            ("curl HTTP stream",
             ["curl", "-sSN", "--max-time", "120", "-H", "Content-Type: application/json",
              "--data-binary", f"@{body_file}", server.url + "/v1/optimize/stream"],
             lambda o: len(o.lines) >= 1),
            # The whole catalog sent at once (the default window), more
            # tracks than slots: killed once the first results are written,
            # the rest running or queued.
            ("nio batch",
             [ctx.args.cli, "batch", "--server", server.grpc, "--input", catalog,
              "--output", out, "--steps", "1000", "--progress", "none"],
             lambda o: complete_lines(out) >= 1),
        ]
        procs, outs = [], []
        try:
            # Each child in turn until it has had an answer (mid-stream),
            # then all are killed at once, none having ended.
            for name, cmd, answered in children:
                p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                procs.append(p)
                outs.append(Lines(p.stdout))
                o = outs[-1]
                poll(lambda: answered(o) or p.poll() is not None,
                     f"round {r}: the {name} child has an answer", deadline)
            for (name, _, _), p, o in zip(children, procs, outs):
                check(p.poll() is None, f"round {r}: the {name} child ended before the kill "
                      f"(status {p.returncode}): {o.text(5)[:500]}")
            m = Metrics(server)
            check(m.total("nio_caller_streams_open") >= 3 and m.total("nio_active_slots") > 0,
                  f"round {r}: the streams are not open on the server: {in_flight(m)}")
            at_kill.append(int(m.total("nio_active_slots") + m.total("nio_queued_tracks")))
        finally:
            kill_all(procs)
        killed.update(["python gRPC stream", "nio batch", "curl HTTP stream"])
        check(server.alive(), f"round {r}: the server died: {server.err.text(20)}")
        drain_s.append(wait_drained(server, deadline))
        answer_ms.append(optimize_ok(server, deadline))
    check(server.alive(), "the server died")
    m = Metrics(server)
    cancelled = m.total("nio_tracks_ended_total", reason="cancelled") - \
        m0.total("nio_tracks_ended_total", reason="cancelled")
    check(cancelled > 0, "nio_tracks_ended_total{reason=cancelled} did not grow")
    return (f"{sum(killed.values())} children SIGKILLed mid-stream in {rounds} rounds "
            f"({', '.join(f'{n} {k}' for k, n in killed.items())}); tracks running or queued at "
            f"each kill {at_kill}, {cancelled:.0f} ended cancelled; drained to 0 (slots, queue, streams, row-steps) in "
            f"{max(drain_s) * 1e3:.0f} ms at most; the next call answered in "
            f"{max(answer_ms):.1f} ms at most; server up")


def check_never_reading_client(ctx, servers, deadline):
    """b: a stream client that sends and never reads: RSS stays bounded."""
    server = servers.start()
    # Warm up (the slot buffers, the stream path), then the baseline.
    optimize_ok(server, deadline)
    for _ in server.stub().OptimizeStream(iter([pb.OptimizeStreamRequest(
            tracks=[track(f"w{i}", i) for i in range(64)], options=pb.OptimizeOptions(steps=1))]),
            timeout=30):
        pass
    wait_drained(server, deadline)
    taken0 = Metrics(server).total("nio_tracks_submitted_total")
    rss0 = server.rss_mb()
    n = ctx.args.unread_tracks
    sent = [0]
    stop = threading.Event()

    def requests():
        opts = pb.OptimizeOptions(steps=1)
        for i in range(0, n, 8):
            if stop.is_set():
                return
            batch = [track(f"u{j}", j) for j in range(i, min(i + 8, n))]
            sent[0] += len(batch)
            yield pb.OptimizeStreamRequest(tracks=batch, options=opts)
        stop.wait()  # hold the stream open, unread, until the check ends

    call = server.new_stub().OptimizeStream(requests())  # never read
    peak = rss0
    t0 = time.monotonic()
    try:
        # Until the client sent everything or the server stopped taking
        # tracks (no progress for 2 s: flow control holds the client).
        last = [0, time.monotonic()]

        def sent_all_or_held():
            nonlocal peak
            peak = max(peak, server.rss_mb())
            if sent[0] != last[0]:
                last[:] = [sent[0], time.monotonic()]
            return sent[0] >= n or time.monotonic() - last[1] > 2.0
        poll(sent_all_or_held, f"the never-reading client sent {n} tracks or was held",
             deadline, interval=0.05)
        send_s = time.monotonic() - t0
        m = Metrics(server)
        # Another client is answered while the unread stream is open.
        other_ms = optimize_ok(server, deadline, stub=server.new_stub())
        peak = max(peak, server.rss_mb())
        if call.done():
            raise Failure(f"the unread stream ended by itself: {call.code()}")
    finally:
        stop.set()
        call.cancel()
    growth = peak - rss0
    check(growth < ctx.args.rss_bound_mb,
          f"server RSS grew {growth:.1f} MB (from {rss0:.1f} to {peak:.1f}) under a client "
          f"that never reads, bound {ctx.args.rss_bound_mb:g} MB")
    drain = wait_drained(server, deadline)
    check(server.alive(), "the server died")
    return (f"RSS {rss0:.1f} MB -> peak {peak:.1f} MB (+{growth:.1f}, bound "
            f"{ctx.args.rss_bound_mb:g}) while the client sent {sent[0]} of {n} one-step tracks "
            f"unread in {send_s:.1f} s ({'held by flow control' if sent[0] < n else 'all out'}; "
            f"the server took {m.total('nio_tracks_submitted_total') - taken0:.0f} of them, "
            f"{m.total('nio_queued_tracks') + m.total('nio_active_slots'):.0f} queued or "
            f"running); another client answered in {other_ms:.1f} ms; drained in "
            f"{drain * 1e3:.0f} ms after the cancel")


def check_many_streams(ctx, servers, deadline):
    """c: 256 concurrent streams x 20 tracks, one caller."""
    server = servers.start()
    streams, per = ctx.args.streams, 20
    release = threading.Event()
    results = [None] * streams
    codes = [None] * streams
    durations = [0.0] * streams
    stub = server.stub()
    opts = pb.OptimizeOptions(steps=50)

    def one(s):
        def requests():
            for j in range(per):
                yield pb.OptimizeStreamRequest(tracks=[track(f"s{s}-t{j}", s + j)], options=opts)
            release.wait(max(1.0, deadline.left()))  # half-close once all are open
        got = collections.Counter()
        bad = []
        t0 = time.monotonic()
        try:
            for ev in stub.OptimizeStream(requests(), timeout=max(1.0, deadline.left())):
                if ev.HasField("result"):
                    got[ev.result.id] += 1
                    if ev.result.status.code != 0:
                        bad.append(f"{ev.result.id}: {ev.result.status.message}")
            codes[s] = "OK" if not bad else f"track errors: {bad[:2]}"
        except grpc.RpcError as e:
            codes[s] = f"{e.code().name}: {e.details()}"
        durations[s] = time.monotonic() - t0
        results[s] = got

    threads = [threading.Thread(target=one, args=(s,), daemon=True) for s in range(streams)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    max_open = [0]
    try:
        def all_open():
            max_open[0] = max(max_open[0], int(Metrics(server).total("nio_caller_streams_open")))
            return max_open[0] >= streams
        poll(all_open, f"{streams} streams are open on the server", deadline, interval=0.05)
        # One more is beyond --max_streams_per_caller (256 by default).
        extra = "not tried"
        if streams == 256:
            try:
                for _ in stub.OptimizeStream(iter([pb.OptimizeStreamRequest(
                        tracks=[track("extra")], options=opts)]), timeout=30):
                    pass
                extra = "OK"
            except grpc.RpcError as e:
                extra = e.code().name
                check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                      and "--max_streams_per_caller" in (e.details() or ""),
                      f"a 257th stream: {e.code().name}: {e.details()}")
            check(extra != "OK", "a 257th stream of the caller was taken")
    finally:
        release.set()
    for t in threads:
        t.join(max(0.0, deadline.left()))
    elapsed = time.monotonic() - t0
    check(all(not t.is_alive() for t in threads), "some streams did not end in time")
    not_ok = [(s, c) for s, c in enumerate(codes) if c != "OK"]
    check(not not_ok, f"{len(not_ok)} streams did not end OK, e.g. stream {not_ok[:3]}")
    wrong = []
    for s, got in enumerate(results):
        want = {f"s{s}-t{j}" for j in range(per)}
        if set(got) != want or any(n != 1 for n in got.values()):
            wrong.append(s)
    check(not wrong, f"{len(wrong)} streams did not get each of their {per} tracks exactly "
          f"once, e.g. stream {wrong[0] if wrong else ''}: {results[wrong[0]] if wrong else ''}")
    drain = wait_drained(server, deadline)
    d = sorted(durations)
    return (f"{streams} streams x {per} tracks = {streams * per} tracks, {max_open[0]} open at "
            f"once on the server (a 257th: {extra}), every track answered exactly once, all OK; "
            f"{elapsed:.1f} s "
            f"({streams * per / elapsed:.0f} tracks/s); stream time p50 {d[len(d) // 2]:.2f} s, "
            f"max {d[-1]:.2f} s; drained in {drain * 1e3:.0f} ms")


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip(f"mount -t tmpfs not permitted here ({p.stderr.strip() or p.returncode})")


def remount(path, size):
    p = subprocess.run(["mount", "-o", f"remount,size={size}", path], capture_output=True,
                       text=True)
    check(p.returncode == 0, f"remount {path} size={size}: {p.stderr.strip()}")


def umount(path):
    if subprocess.run(["umount", path], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True)  # busy: detach it


def run_cli(ctx, cmd, deadline):
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=max(1.0, deadline.left()))
    return p.returncode, p.stdout + p.stderr


def disk_full_message_ok(log):
    """The CLI says the output could not be written, why, and how to go on."""
    return ("cannot write" in log and ("No space left on device" in log or "disk full" in log)
            and "results are saved in" in log and "--resume" in log)


def check_disk_full(ctx, servers, deadline):
    """d: the output's disk fills during `nio batch`; --resume completes once."""
    server = servers.start()
    catalog = os.path.join(ctx.tmp, "d_catalog.csv")
    keys = tiny_catalog(server, ctx.args.catalog, catalog)
    mnt = os.path.join(ctx.tmp, "d_tmpfs")
    mount_tmpfs(mnt, "256k")
    figures = []
    try:
        for ext in ("jsonl", "csv"):
            out = os.path.join(mnt, f"results.{ext}")
            cmd = [ctx.args.cli, "batch", "--server", server.grpc, "--input", catalog,
                   "--output", out, "--steps", "50", "--progress", "none"]
            remount(mnt, "256k")
            code, log = run_cli(ctx, cmd, deadline)
            saved = complete_lines(out) - (ext == "csv")
            check(code != 0, f"{ext}: nio batch on a full disk exited 0:\n{log}")
            check(disk_full_message_ok(log), f"{ext}: no clear disk-full message (exit {code}):\n{log}")
            check(0 < saved < len(keys), f"{ext}: {saved} of {len(keys)} results saved on 256k")
            message = next((l for l in log.splitlines() if "stopped early" in l or
                            "cannot write" in l), "")
            counts, _ = output_keys_prefix(out)
            check(max(counts.values(), default=1) == 1, f"{ext}: a key written twice on the full disk")
            remount(mnt, "16m")
            code2, log2 = run_cli(ctx, cmd + ["--resume"], deadline)
            check(code2 == 0, f"{ext}: --resume after growing the tmpfs exited {code2}:\n{log2}")
            n = check_exactly_once(out, keys, f"{ext} after --resume")
            check(os.path.getsize(out + ".manifest.json") > 0, f"{ext}: the manifest is empty")
            figures.append(f"{ext}: exit {code}, {saved} of {len(keys)} saved, \"{message.strip()}\"; "
                           f"--resume exit 0, {n} keys once each")
            os.remove(out)
            os.remove(out + ".manifest.json")
    finally:
        umount(mnt)
    return "256k tmpfs: " + "; ".join(figures)


def output_keys_prefix(path):
    """output_keys of the complete lines only (the last may be cut short)."""
    counts = collections.Counter()
    with open(path, "rb") as f:
        data = f.read()
    lines = data[:data.rfind(b"\n") + 1].decode().splitlines()
    if path.endswith(".csv"):
        for row in csv.DictReader(lines):
            counts[(row["id"], row["genre"])] += 1
    else:
        for line in lines:
            j = json.loads(line)
            counts[(j["id"], j["genre"])] += 1
    return counts, None


def check_disk_full_resume(ctx, servers, deadline):
    """d_full_resume: --resume on a disk that is still full changes nothing."""
    server = servers.start()
    catalog = os.path.join(ctx.tmp, "d2_catalog.csv")
    keys = tiny_catalog(server, ctx.args.catalog, catalog)
    mnt = os.path.join(ctx.tmp, "d2_tmpfs")
    mount_tmpfs(mnt, "16m")
    figures = []
    try:
        out = os.path.join(mnt, "results.jsonl")
        manifest = out + ".manifest.json"
        cmd = [ctx.args.cli, "batch", "--server", server.grpc, "--input", catalog,
               "--output", out, "--steps", "50", "--progress", "none"]
        # 1. A finished output, then the disk filled by something else.
        code, log = run_cli(ctx, cmd, deadline)
        check(code == 0, f"nio batch exited {code}:\n{log}")
        with open(manifest) as f:
            manifest_text = f.read()
        with open(out, "rb") as f:
            out_bytes = f.read()
        filler = os.path.join(mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True)
        code, log = run_cli(ctx, cmd + ["--resume"], deadline)
        with open(manifest) as f:
            now = f.read()
        check(now == manifest_text, f"--resume on a full disk changed the manifest "
              f"({len(manifest_text)} -> {len(now)} bytes; exit {code}):\n{log}")
        with open(out, "rb") as f:
            check(f.read() == out_bytes, "--resume on a full disk changed the output")
        figures.append(f"complete output, full disk: --resume exit {code}, manifest and output "
                       "intact")
        os.remove(filler)
        os.remove(out)
        os.remove(manifest)
        # 2. The disk fills during the job; --resume before there is room.
        remount(mnt, "64k")
        code, log = run_cli(ctx, cmd, deadline)
        check(code != 0 and disk_full_message_ok(log), f"no clear disk-full error:\n{log}")
        with open(manifest) as f:
            manifest_text = f.read()
        saved = output_keys_prefix(out)[0]
        code, log = run_cli(ctx, cmd + ["--resume"], deadline)
        check(code != 0, f"--resume on a full disk exited 0:\n{log}")
        check("No space left on device" in log, f"--resume on a full disk: no clear reason "
              f"(exit {code}):\n{log}")
        with open(manifest) as f:
            check(f.read() == manifest_text, "--resume on a full disk changed the manifest")
        check(output_keys_prefix(out)[0] == saved, "--resume on a full disk lost saved results")
        left = sorted(set(os.listdir(mnt)) - {"results.jsonl", "results.jsonl.manifest.json"})
        check(not left, f"--resume on a full disk left files behind: {left}")
        figures.append(f"disk full mid-job ({len(saved)} saved), --resume still full: exit {code}, "
                       f"\"{log.strip().splitlines()[-1]}\", nothing changed")
        remount(mnt, "16m")
        code, log = run_cli(ctx, cmd + ["--resume"], deadline)
        check(code == 0, f"--resume with room exited {code}:\n{log}")
        n = check_exactly_once(out, keys, "after --resume")
        figures.append(f"with room: --resume exit 0, {n} keys once each")
    finally:
        umount(mnt)
    return "; ".join(figures)


def check_sigterm(ctx, servers, deadline):
    """e: SIGTERM during load: every call OK, UNAVAILABLE or CANCELLED."""
    drain_timeout = 3.0
    server = servers.start(["--drain_timeout_s", str(drain_timeout)])
    catalog = os.path.join(ctx.tmp, "e_catalog.csv")
    keys = tiny_catalog(server, ctx.args.catalog, catalog)
    stop = threading.Event()
    sigterm_at = [None]
    lock = threading.Lock()
    unary = []    # (start, end, code)
    http_calls = []
    streams = []  # dicts

    def unary_loop(i):
        stub = server.new_stub()
        n = 0
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = stub.Optimize(pb.OptimizeRequest(
                    tracks=[track(f"u{i}-{n}", n)], options=pb.OptimizeOptions(steps=3000)),
                    timeout=30)
                ok = len(r.results) == 1 and r.results[0].status.code == 0
                code = "OK" if ok else f"track error {r.results[0].status.code}"
            except grpc.RpcError as e:
                code = e.code().name
            with lock:
                unary.append((t0, time.monotonic(), code))
            n += 1
            if code != "OK":
                break  # the server is going: a client would retry elsewhere

    def http_loop(i):
        n = 0
        while not stop.is_set():
            body = json.dumps({"tracks": [{"id": f"h{i}-{n}", "genre": "pop"}],
                               "options": {"steps": 3000}})
            t0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
                conn.request("POST", "/v1/optimize", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                text = resp.read()
                conn.close()
                code = str(resp.status)
                if resp.status == 200:
                    res = json.loads(text)["results"]
                    if len(res) != 1 or res[0].get("status", {}).get("code", 0) != 0:
                        code = "200 with a track error"
            except (OSError, http.client.HTTPException) as e:
                code = type(e).__name__
            with lock:
                http_calls.append((t0, time.monotonic(), code))
            n += 1
            if code != "200":
                break

    def stream_one(i, tracks, steps):
        rec = {"sent": set(), "got": collections.Counter(), "code": None, "start": time.monotonic()}
        streams.append(rec)
        stub = server.new_stub()

        def requests():
            opts = pb.OptimizeOptions(steps=steps, progress_every=100)
            for j in range(0, tracks, 8):
                batch = [track(f"s{i}-{k}", k) for k in range(j, min(j + 8, tracks))]
                rec["sent"].update(t.id for t in batch)
                yield pb.OptimizeStreamRequest(tracks=batch, options=opts)
        try:
            for ev in stub.OptimizeStream(requests(), timeout=60):
                if ev.HasField("result"):
                    rec["got"][ev.result.id] += 1
                    if ev.result.status.code != 0:
                        rec.setdefault("track_errors", []).append(ev.result.status.code)
            rec["code"] = "OK"
        except grpc.RpcError as e:
            rec["code"] = e.code().name
        rec["end"] = time.monotonic()

    threads = [threading.Thread(target=unary_loop, args=(i,), daemon=True) for i in range(4)]
    threads += [threading.Thread(target=http_loop, args=(i,), daemon=True) for i in range(2)]
    # Short streams (done within the drain) and long ones (cut by it).
    threads += [threading.Thread(target=stream_one, args=(i, 32, 1000), daemon=True)
                for i in range(3)]
    threads += [threading.Thread(target=stream_one, args=(10 + i, 32, 50000), daemon=True)
                for i in range(2)]
    out = os.path.join(ctx.tmp, "e_batch.jsonl")
    batch_cmd = [ctx.args.cli, "batch", "--server", server.grpc, "--input", catalog,
                 "--output", out, "--steps", "2000", "--window", "256", "--progress", "none"]
    batch = spawn(batch_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    batch_log = Lines(batch.stdout)
    try:
        for t in threads:
            t.start()

        def loaded():
            with lock:
                ok_unary = sum(1 for *_, c in unary if c == "OK")
                ok_http = sum(1 for *_, c in http_calls if c == "200")
            m = Metrics(server)
            return (ok_unary >= 4 and ok_http >= 2 and complete_lines(out) >= 1
                    and m.total("nio_active_slots", **{"class": "interactive"}) > 0
                    and m.total("nio_active_slots", **{"class": "batch"}) > 0
                    and m.total("nio_caller_streams_open") >= 3)
        t_load = time.monotonic()
        poll(loaded, "unary calls, HTTP calls, streams and the batch are all in flight",
             deadline, interval=0.05)
        load_s = time.monotonic() - t_load
        saved_before = complete_lines(out)
        sigterm_at[0] = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            status = server.proc.wait(timeout=drain_timeout + 20)
        except subprocess.TimeoutExpired:
            raise Failure(f"the server did not exit within {drain_timeout + 20:g} s of SIGTERM")
        exit_s = time.monotonic() - sigterm_at[0]
        check(status == 0, f"the server exited {status} after SIGTERM: {server.err.text(10)}")
        stop.set()
        for t in threads:
            t.join(max(0.0, min(30.0, deadline.left())))
        check(all(not t.is_alive() for t in threads), "some clients did not end")
        try:
            batch_code = batch.wait(timeout=max(1.0, min(30.0, deadline.left())))
        except subprocess.TimeoutExpired:
            raise Failure("nio batch did not end after the server went")
    finally:
        stop.set()
        kill_all([batch])
    saved_at_exit = complete_lines(out)
    t_term = sigterm_at[0]
    allowed = {"OK", "UNAVAILABLE", "CANCELLED"}

    def tally(calls, ok="OK"):
        inflight = collections.Counter(c for s, e, c in calls if s < t_term <= e)
        after = collections.Counter(c for s, e, c in calls if s >= t_term)
        return inflight, after, collections.Counter(c for *_, c in calls)

    u_in, u_after, u_all = tally(unary)
    h_in, h_after, h_all = tally(http_calls)
    bad = {c for c in u_all if c not in allowed}
    check(not bad, f"unary calls ended with {dict(u_all)}: not only OK/UNAVAILABLE/CANCELLED")
    # In flight at SIGTERM: answered (200) or refused as the server drains
    # (503). Sent later: 503, or no connection once the port has closed.
    bad = {c for c in h_in if c not in {"200", "503"}}
    check(not bad, f"HTTP calls in flight at SIGTERM ended {dict(h_in)}: not only 200/503")
    bad = {c for c in h_after if c not in {"503", "ConnectionRefusedError"}}
    check(not bad, f"HTTP calls sent after SIGTERM ended {dict(h_after)}")
    bad = {c for s, e, c in http_calls if e < t_term and c != "200"}
    check(not bad, f"HTTP calls before SIGTERM failed: {bad}")
    bad = {c for s, e, c in unary if e < t_term and c != "OK"}
    check(not bad, f"unary calls before SIGTERM failed: {bad}")
    s_codes = collections.Counter()
    unanswered = 0
    for rec in streams:
        check(rec["code"] in allowed, f"a stream ended {rec['code']}")
        s_codes[rec["code"]] += 1
        twice = [k for k, n in rec["got"].items() if n > 1]
        check(not twice, f"a stream answered tracks twice: {twice[:3]}")
        check(set(rec["got"]) <= rec["sent"], "a stream answered a track it was never sent")
        check(not rec.get("track_errors"), f"a stream's tracks failed: {rec.get('track_errors')}")
        missing = len(rec["sent"] - set(rec["got"]))
        if rec["code"] == "OK":
            check(missing == 0, f"a stream ended OK with {missing} tracks unanswered")
        unanswered += missing
    check(batch_code != 0 or saved_at_exit == len(keys),
          f"nio batch exited 0 with {saved_at_exit} of {len(keys)} results")
    check(batch_code in (0, 3, 4), f"nio batch exited {batch_code}: {batch_log.text(5)}")
    # The rest of the batch against a fresh server.
    fresh = servers.start()
    resume_cmd = batch_cmd[:]
    resume_cmd[resume_cmd.index("--server") + 1] = fresh.grpc
    t_resume = time.monotonic()
    code, log = run_cli(ctx, resume_cmd + ["--resume"], deadline)
    resume_s = time.monotonic() - t_resume
    check(code == 0, f"nio batch --resume against a fresh server exited {code}:\n{log}")
    n = check_exactly_once(out, keys, "the batch after --resume")

    def fmt(c):
        return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"
    batch_line = next((l.strip() for l in batch_log.lines if "stopped early" in l), "")
    stopped = next((l.split("] ", 1)[-1].strip() for l in server.err.lines
                    if "stopped:" in l), "no 'stopped' line")
    return (f"SIGTERM {load_s:.1f} s into a load of 4 unary, 2 HTTP, 5 stream clients and a "
            f"nio batch, all in flight; exit 0 "
            f"after {exit_s:.2f} s (drain timeout {drain_timeout:g} s; \"{stopped}\"). "
            f"unary in flight at "
            f"SIGTERM: {fmt(u_in)}, sent after: {fmt(u_after)}; HTTP in flight: {fmt(h_in)}, "
            f"after: {fmt(h_after)}; streams: {fmt(s_codes)} ({unanswered} tracks unanswered in "
            f"the streams cut, none twice); nio batch exit {batch_code} with {saved_at_exit} "
            f"of {len(keys)} saved ({saved_before} at SIGTERM)"
            f"{': ' + batch_line if batch_line else ''}; --resume on a fresh server: exit 0 in "
            f"{resume_s:.1f} s, {n} keys once each")


CHECKS = collections.OrderedDict([
    ("a", ("vanishing clients", check_vanishing_clients)),
    ("b", ("a stream client that never reads", check_never_reading_client)),
    ("c", ("256 concurrent streams x 20 tracks", check_many_streams)),
    ("d", ("output disk full during nio batch", check_disk_full)),
    ("d_full_resume", ("--resume on a disk still full", check_disk_full_resume)),
    ("e", ("SIGTERM during load", check_sigterm)),
])


class Context:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", help="the nio-server binary")
    ap.add_argument("--cli", help="the nio binary")
    ap.add_argument("--model_dir", default=os.path.join(HERE, "data", "tiny_model"),
                    help="the tiny test model's directory")
    ap.add_argument("--catalog", default=os.path.join(ROOT, "client", "demo", "demo_catalog.csv"),
                    help="catalog CSV whose ids the batch checks use")
    ap.add_argument("--checks", default=DEFAULT_CHECKS,
                    help=f"comma-separated, of {','.join(CHECKS)} (default {DEFAULT_CHECKS})")
    ap.add_argument("--timeout", type=float, default=170, help="for the whole script, seconds")
    ap.add_argument("--rounds", type=int, default=3, help="check a: kill rounds")
    ap.add_argument("--unread_tracks", type=int, default=96000,
                    help="check b: one-step tracks sent, 8 a message")
    ap.add_argument("--rss_bound_mb", type=float, default=40,
                    help="check b: bound on the server's RSS growth, MB")
    ap.add_argument("--streams", type=int, default=256, help="check c: concurrent streams")
    # A child of check a (internal).
    ap.add_argument("--child_stream", help=argparse.SUPPRESS)
    ap.add_argument("--stubs", help=argparse.SUPPRESS)
    ap.add_argument("--child_tracks", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--child_steps", type=int, default=100000, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_stream:
        return child_stream(args)
    if not args.server or not args.cli:
        ap.error("--server and --cli are required")
    names = [c for c in args.checks.split(",") if c]
    unknown = [c for c in names if c not in CHECKS]
    if unknown:
        ap.error(f"unknown checks {unknown}: pick from {','.join(CHECKS)}")
    for tool in ("curl", "protoc"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} is not installed (the test uses it)", file=sys.stderr)
            return 1
    # SIGTERM/SIGINT end the script through the finally blocks (servers
    # stopped, tmpfs unmounted).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: where it waits
    ctx = Context()
    ctx.args = args
    ctx.tmp = tempfile.mkdtemp(prefix="nio-fault-")
    ctx.stubs = load_stubs()
    deadline = Deadline(args.timeout)
    failed = []
    t_all = time.monotonic()
    try:
        for name in names:
            title, fn = CHECKS[name]
            servers = Servers(args, deadline)
            t0 = time.monotonic()
            try:
                figures = fn(ctx, servers, deadline)
                print(f"PASS {name} ({title}, {time.monotonic() - t0:.1f} s): {figures}", flush=True)
            except Skip as e:
                print(f"SKIP {name} ({title}): {e}", flush=True)
            except Failure as e:
                failed.append(name)
                tails = "".join(f"\n  server {s.pid} stderr (last lines):\n{s.err.text(8)}"
                                for s in servers.all)
                print(f"FAIL {name} ({title}, {time.monotonic() - t0:.1f} s): {e}{tails}",
                      flush=True)
            finally:
                servers.stop()
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
        shutil.rmtree(ctx.stubs, ignore_errors=True)
    print(f"{'FAIL' if failed else 'PASS'}: {len(names) - len(failed)} of {len(names)} checks "
          f"passed in {time.monotonic() - t_all:.1f} s" + (f" (failed: {','.join(failed)})"
                                                           if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
