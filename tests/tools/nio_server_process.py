"""A nio-server child process for the Python tests and benchmarks
(tests/fault_test.py, tests/http_metrics_test.py, bench/soak.py).

The server listens on loopback ports the kernel picks; its start line gives
them. Its stderr is read on a thread for its whole life, so it never blocks on
a full pipe, and the lines are kept for error messages. It gets SIGKILL if this
process dies first, however it dies (ctest's timeout kills with SIGKILL, which
no finally block sees).
"""

import ctypes
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

START_LINE = re.compile(
    r"listening on (?P<grpc>\S+) \(gRPC\), http://(?P<host>[^\s:]+):(?P<port>\d+) \(HTTP\)")


class ServerStartError(Exception):
    """The server exited, or printed no start line in time."""


def die_with_parent():
    """A preexec_fn: the child gets SIGKILL when this process dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Lines:
    """Reads a text pipe on a thread until EOF and keeps its lines."""

    def __init__(self, pipe):
        self.lines = []
        self._q = queue.Queue()
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe):
        for line in pipe:
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def next(self, timeout_s):
        """The next line, or None at EOF; TimeoutError if none comes in time."""
        try:
            return self._q.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            raise TimeoutError("no line in time") from None

    def text(self, n=None):
        """The lines read so far (the last n), or "(nothing)"."""
        lines = list(self.lines)
        return "".join(lines if n is None else lines[-n:]) or "(nothing)\n"


class ServerProcess:
    """nio-server --listen 127.0.0.1:0 --http_listen 127.0.0.1:0 --backend cpu.

    After the constructor: grpc (the gRPC address), host, port, url (the HTTP
    port's), start_line (without the log prefix), err (a Lines of stderr).
    """

    def __init__(self, binary, model_dir=None, timeout_s=60, extra=()):
        cmd = [binary, "--listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
               "--backend", "cpu"] + (["--model_dir", model_dir] if model_dir else []) + list(extra)
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True, preexec_fn=die_with_parent)
        except OSError as e:
            raise ServerStartError(f"cannot start {binary}: {e}") from None
        self.pid = self.proc.pid
        self.err = Lines(self.proc.stderr)
        end = time.monotonic() + timeout_s
        while True:
            try:
                line = self.err.next(end - time.monotonic())
            except TimeoutError:
                self.kill()
                raise ServerStartError("the server printed no start line in time; stderr:\n"
                                       + self.err.text(30)) from None
            if line is None:
                raise ServerStartError(f"the server exited (status {self.proc.wait()}) before "
                                       "its start line; stderr:\n" + self.err.text(30))
            m = START_LINE.search(line)
            if m:
                self.start_line = line.strip().split("] ", 1)[-1]
                self.grpc = m.group("grpc")
                self.host, self.port = m.group("host"), int(m.group("port"))
                self.url = f"http://{self.host}:{self.port}"
                return

    def rss_mb(self):
        """Resident memory now (MB), NaN once it has exited."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def cpu_s(self):
        """User + system CPU seconds so far, NaN once it has exited."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout_s=15):
        """SIGTERM (a drain), then its exit status; None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode


def http_get(url, timeout_s=10):
    """(status, body) of a GET with urllib; HTTP errors are statuses too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric_samples(text):
    """Every sample of a /metrics page, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples]
