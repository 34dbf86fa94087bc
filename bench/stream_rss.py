#!/usr/bin/python3
"""Server memory under a stream client that sends but never reads.

Starts nio-server (tiny test model: one-step tracks are cheap), opens one
OptimizeStream with a stock grpcio client, sends --tracks one-step tracks
as fast as the server takes them and never reads an answer, and samples the
server's resident memory (VmRSS) until the client has sent everything or
--seconds pass. A server that bounds what it holds per stream stops reading
(gRPC flow control then blocks the client's writes), so both its RSS and the
tracks it took stay flat.

  bench/stream_rss.py --server build/service/nio-server [--tracks 102400]

Needs protoc and grpc_python_plugin (Debian's protobuf-compiler-grpc) to make
the Python stubs, and python3-grpcio.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the nio-server binary")
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "tests", "data", "tiny_model"))
    ap.add_argument("--tracks", type=int, default=102400)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--window", type=int, default=4096, help="the server's --stream_window")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
    import nio_grpc_stubs
    nio_pb2, nio_pb2_grpc = nio_grpc_stubs.load()
    import grpc

    server = subprocess.Popen([args.server, "--model_dir", args.model_dir, "--listen",
                               "127.0.0.1:0", "--http_listen", "", "--backend", "cpu",
                               "--stream_window", str(args.window)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    address = None
    for line in server.stdout:
        m = re.search(r"listening on ([0-9.]+:[0-9]+)", line)
        if m:
            address = m.group(1)
            break
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
    if not address:
        print("stream_rss: the server did not start", file=sys.stderr)
        return 2
    start_rss = rss_mb(server.pid)
    sent = [0]

    def requests():
        for i in range(args.tracks):
            m = nio_pb2.OptimizeStreamRequest()
            t = m.tracks.add()
            t.id = f"t{i}"
            t.genre = "pop"
            m.options.steps = 1
            sent[0] += 1
            yield m

    channel = grpc.insecure_channel(address)
    stub = nio_pb2_grpc.NioStub(channel)
    call = stub.OptimizeStream(requests())  # never read
    peak = start_rss
    begin = time.time()
    samples = []
    while time.time() - begin < args.seconds and sent[0] < args.tracks:
        time.sleep(1.0)
        peak = max(peak, rss_mb(server.pid))
        samples.append((round(time.time() - begin), sent[0], round(rss_mb(server.pid), 1)))
    end_rss = rss_mb(server.pid)
    call.cancel()
    server.terminate()
    server.wait(timeout=30)
    print(f"server RSS: {start_rss:.1f} MB at start, {end_rss:.1f} MB after, peak {peak:.1f} MB; "
          f"the client got {sent[0]} of {args.tracks} tracks out in {time.time() - begin:.0f} s")
    for s, n, r in samples[-5:]:
        print(f"  t={s:>3}s sent {n:>7} rss {r} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
