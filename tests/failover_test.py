#!/usr/bin/python3
"""Client-side load balancing and failover against real nio-servers
(loopback, tiny test model, --backend cpu, bounded in time).

  a  round robin: two servers, one `nio batch --server ipv4:A,B --lb
     round_robin`: each server optimized tracks (its
     nio_tracks_optimized_total, printed), every key answered once, all OK.
  b  kill -9 mid-batch: the same job against two servers, one SIGKILLed once
     it has optimized some tracks and holds others: the job exits 0, every
     key once, all OK, each result equal to the undisturbed run of a, and the
     killed server's unanswered tracks were sent again (the job's log says
     how many).
  c  three shard jobs (`--shard i/3`) against three servers, each job with
     all three addresses and round robin: the union of the three outputs
     holds every key exactly once, and every server did work.
  e  a server that hangs (SIGSTOP) mid-batch, --keepalive_s 1: its
     unanswered ping ends its connection, the job exits 0 with every key
     once, each result equal to the undisturbed run of a.
  d  unary calls: `nio info` and `nio optimize` through a target whose first
     address has no server (pick_first moves on; round_robin skips it).

Waits poll their condition with a deadline (/metrics); nothing sleeps to
wait for something. Shares fault_test.py's helpers.

  tests/failover_test.py --server build/service/nio-server --cli build/client/nio \\
      --model_dir tests/data/tiny_model [--checks a,b,c,d]
"""
import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fault_test as ft  # noqa: E402
from fault_test import Failure, check  # noqa: E402

DEFAULT_CHECKS = "a,b,c,d,e"
# Long enough per track that a kill lands while tracks are in flight.
STEPS = "1500"
COPIES = 6


def target(servers):
    """A gRPC target naming every server: ipv4:127.0.0.1:A,127.0.0.1:B."""
    return "ipv4:" + ",".join(s.grpc for s in servers)


def optimized(server):
    """Tracks this server finished optimizing (every class), from /metrics."""
    return ft.Metrics(server).total("nio_tracks_optimized_total")


def records(path):
    """key -> the record, of a JSONL batch output."""
    out = {}
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            out[(j["id"], j["genre"])] = j
    return out


def catalog(ctx, server):
    """The demo catalog in the served model's columns, COPIES times over
    (ids suffixed ~1, ~2, ...): long enough a job that a server stopped once
    it has answered some tracks still has others running, however busy the
    machine (the demo catalog alone runs in under a second). Its keys."""
    small = ctx.catalog + ".demo.csv"
    ft.tiny_catalog(server, ctx.args.catalog, small)
    keys = []
    with open(small, newline="") as f, open(ctx.catalog, "w", newline="") as out:
        rows = list(csv.reader(f))
        w = csv.writer(out)
        w.writerow(rows[0])
        for copy in range(COPIES):
            for row in rows[1:]:
                track_id = row[0] if copy == 0 else f"{row[0]}~{copy}"
                w.writerow([track_id] + row[1:])
                keys.append((track_id, row[-1]))
    check(len(set(keys)) == len(keys) > 0, f"{small}: no rows, or keys repeat")
    return keys


def batch_cmd(ctx, servers, out, extra=()):
    return [ctx.args.cli, "batch", "--server", target(servers), "--lb", "round_robin",
            "--input", ctx.catalog, "--output", out, "--steps", STEPS, "--progress", "none",
            "--window", "256"] + list(extra)


def check_round_robin(ctx, servers, deadline):
    """a: one batch over two servers: both do work, every key once."""
    pair = [servers.start(), servers.start()]
    ctx.keys = catalog(ctx, pair[0])
    out = os.path.join(ctx.tmp, "a.jsonl")
    if os.path.exists(out):
        os.remove(out)
        os.remove(out + ".manifest.json")
    code, log = ft.run_cli(ctx, batch_cmd(ctx, pair, out), deadline)
    check(code == 0, f"nio batch over two servers exited {code}:\n{log}")
    n = ft.check_exactly_once(out, ctx.keys, "round robin")
    counts = [optimized(s) for s in pair]
    check(all(c > 0 for c in counts), f"a server did no work: tracks optimized {counts}")
    check(sum(counts) == n, f"servers optimized {sum(counts)} tracks for {n} keys")
    ctx.reference = records(out)
    return f"{n} keys once each; tracks per server {[int(c) for c in counts]}"


def check_kill_mid_batch(ctx, servers, deadline):
    """b: one of two servers SIGKILLed mid-batch: every key once, same values."""
    if ctx.reference is None:
        check_round_robin(ctx, servers, deadline)
    victim, survivor = servers.start(), servers.start()
    out = os.path.join(ctx.tmp, "b.jsonl")
    job = ft.spawn(batch_cmd(ctx, [victim, survivor], out), stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True)
    try:
        # Killed once it has answered some tracks and is running others.
        ft.poll(lambda: optimized(victim) >= 32 and
                ft.Metrics(victim).total("nio_active_slots") > 0,
                "the victim has answered 32 tracks and runs more", deadline)
        victim.kill()
        log, _ = job.communicate(timeout=max(1.0, deadline.left()))
    finally:
        ft.kill_all([job])
    check(job.returncode == 0, f"nio batch with a server killed exited {job.returncode}:\n{log}")
    n = ft.check_exactly_once(out, ctx.keys, "after kill -9")
    got = records(out)
    differ = [k for k in ctx.keys if comparable(got[k]) != comparable(ctx.reference[k])]
    check(not differ, f"{len(differ)} results differ from the undisturbed run, e.g. "
          f"{differ[:1]}: {got[differ[0]] if differ else ''} vs "
          f"{ctx.reference[differ[0]] if differ else ''}")
    resent = [l for l in log.splitlines() if "sent again" in l]
    check(resent, f"the job's log does not say it sent tracks again:\n{log}")
    return (f"{n} keys once each, equal to the undisturbed run; survivor optimized "
            f"{int(optimized(survivor))}; \"{resent[0].strip()}\"")


def check_hung_server(ctx, servers, deadline):
    """e: one of two servers stopped (SIGSTOP) mid-batch: every key once."""
    if ctx.reference is None:
        check_round_robin(ctx, servers, deadline)
    hung, survivor = servers.start(), servers.start()
    out = os.path.join(ctx.tmp, "e.jsonl")
    job = ft.spawn(batch_cmd(ctx, [hung, survivor], out, ["--keepalive_s", "1"]),
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = None
    try:
        ft.poll(lambda: optimized(hung) >= 32 and
                ft.Metrics(hung).total("nio_active_slots") > 0,
                "the server to stop has answered 32 tracks and runs more", deadline)
        os.kill(hung.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        log, _ = job.communicate(timeout=max(1.0, deadline.left()))
        took = time.monotonic() - t0
    finally:
        os.kill(hung.pid, signal.SIGCONT)
        ft.kill_all([job])
    check(job.returncode == 0, f"nio batch with a server stopped exited {job.returncode}:\n{log}")
    n = ft.check_exactly_once(out, ctx.keys, "after SIGSTOP")
    got = records(out)
    differ = [k for k in ctx.keys if comparable(got[k]) != comparable(ctx.reference[k])]
    check(not differ, f"{len(differ)} results differ from the undisturbed run")
    resent = [l for l in log.splitlines() if "sent again" in l]
    check(resent, f"the job's log does not say it sent tracks again:\n{log}")
    return (f"{n} keys once each, equal to the undisturbed run; the job ended {took:.1f} s "
            f"after the SIGSTOP; \"{resent[0].strip()}\"")


def comparable(record):
    """A record without what depends on the run rather than the track."""
    return {k: v for k, v in record.items() if k not in ("seconds", "ms", "server")}


def check_three_shards(ctx, servers, deadline):
    """c: three shard jobs over three servers: the union holds each key once."""
    trio = [servers.start() for _ in range(3)]
    keys = catalog(ctx, trio[0])
    outs = [os.path.join(ctx.tmp, f"c-shard-{i}.jsonl") for i in range(3)]
    jobs = [ft.spawn(batch_cmd(ctx, trio, outs[i], ["--shard", f"{i}/3"]),
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(3)]
    logs = []
    try:
        for j in jobs:
            logs.append(j.communicate(timeout=max(1.0, deadline.left()))[0])
    finally:
        ft.kill_all(jobs)
    for i, j in enumerate(jobs):
        check(j.returncode == 0, f"shard {i}/3 exited {j.returncode}:\n{logs[i]}")
    union = os.path.join(ctx.tmp, "c-union.jsonl")
    sizes = []
    with open(union, "w") as u:
        for o in outs:
            with open(o) as f:
                text = f.read()
            sizes.append(text.count("\n"))
            u.write(text)
    n = ft.check_exactly_once(union, keys, "the union of three shards")
    counts = [int(optimized(s)) for s in trio]
    check(all(c > 0 for c in counts), f"a server did no work: tracks optimized {counts}")
    return f"{n} keys once each over shards of {sizes}; tracks per server {counts}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_dead_first_address(ctx, servers, deadline):
    """d: unary calls reach the live server past a dead first address."""
    live = servers.start()
    dead = f"127.0.0.1:{free_port()}"
    figures = []
    for lb in ("pick_first", "round_robin"):
        for cmd in (["info"], ["optimize", "--preset", "chill", "--steps", "20"]):
            code, log = ft.run_cli(ctx, [ctx.args.cli] + cmd + ["--server", f"ipv4:{dead},{live.grpc}",
                                                    "--lb", lb, "--format", "json"], deadline)
            check(code == 0, f"nio {cmd[0]} --lb {lb} past a dead address exited {code}:\n{log}")
            figures.append(f"{cmd[0]}/{lb} ok")
    code, log = ft.run_cli(ctx, [ctx.args.cli, "info", "--server", live.grpc, "--lb", "random"], deadline)
    check(code == 1 and "--lb" in log, f"--lb random: exit {code}:\n{log}")
    return ", ".join(figures) + "; --lb random is a usage error"


CHECKS = {
    "a": ("two servers, round robin", check_round_robin),
    "b": ("kill -9 one server mid-batch", check_kill_mid_batch),
    "c": ("three shards over three servers", check_three_shards),
    "d": ("a dead first address", check_dead_first_address),
    "e": ("a server that hangs mid-batch", check_hung_server),
}


class Context:
    reference = None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the nio-server binary")
    ap.add_argument("--cli", required=True, help="the nio binary")
    ap.add_argument("--model_dir", default=os.path.join(HERE, "data", "tiny_model"),
                    help="the tiny test model's directory")
    ap.add_argument("--catalog", default=os.path.join(os.path.dirname(HERE), "client", "demo",
                                                      "demo_catalog.csv"),
                    help="catalog CSV the batches run")
    ap.add_argument("--checks", default=DEFAULT_CHECKS,
                    help=f"comma-separated, of {','.join(CHECKS)} (default {DEFAULT_CHECKS})")
    ap.add_argument("--timeout", type=float, default=240, help="for the whole script, seconds")
    args = ap.parse_args()
    names = [c for c in args.checks.split(",") if c]
    unknown = [c for c in names if c not in CHECKS]
    if unknown:
        ap.error(f"unknown checks {unknown}: pick from {','.join(CHECKS)}")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    ctx = Context()
    ctx.args = args
    ctx.tmp = tempfile.mkdtemp(prefix="nio-failover-")
    ctx.catalog = os.path.join(ctx.tmp, "catalog.csv")
    ft.load_stubs()
    deadline = ft.Deadline(args.timeout)
    failed = []
    for name in names:
        title, fn = CHECKS[name]
        servers = ft.Servers(args, deadline)
        t0 = time.monotonic()
        try:
            figures = fn(ctx, servers, deadline)
            print(f"PASS {name} ({title}, {time.monotonic() - t0:.1f} s): {figures}", flush=True)
        except (Failure, subprocess.TimeoutExpired) as e:
            failed.append(name)
            tails = "".join(f"\n  server {s.pid} stderr (last lines):\n{s.err.text(8)}"
                            for s in servers.all)
            print(f"FAIL {name} ({title}, {time.monotonic() - t0:.1f} s): {e}{tails}", flush=True)
        finally:
            servers.stop()
    print(f"failover_test: {len(names) - len(failed)} of {len(names)} checks passed"
          + (f"; failed: {','.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
