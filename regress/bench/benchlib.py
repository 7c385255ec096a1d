"""benchlib: what run.py (make bench) and peers.py (make bench-peers)
share, so that postern and the peers are measured by the same code: the
counting sink, the watch on its count that tells when a run ended end to
end, the load generator's key=value line, and the DKIM check of a
delivered message.  Addresses, ports and stopping processes come from
the test harness (regress/e2e/postern_test.py).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from postern_test import (free_port, pick_ip, stop_process, tls_files,  # noqa: E402,F401
                          wait_for, wait_listening)


def parse_kv(line):
    """loadgen's (and bench_*'s) one line of key=value figures."""
    return dict(re.findall(r"(\w+)=(\S+)", line))


class BenchSink:
    """regress/bench/benchsink on a loopback address of its own: counts
    what it is sent (the count file is rewritten every 100 ms) and keeps
    the first message.  mode: plain, starttls or tls (the harness's
    self-signed certificate)."""

    def __init__(self, build, mode="plain"):
        self.ip = pick_ip()
        self.port = free_port(self.ip)
        self.dir = tempfile.mkdtemp(prefix="postern-bsink-", dir="/var/tmp")
        self.counter = os.path.join(self.dir, "count")
        self.saved = os.path.join(self.dir, "first.eml")
        cmd = [os.path.join(build, "regress", "bench", "benchsink"), "-H", self.ip,
               "-p", str(self.port), "-t", mode, "-o", self.counter, "-s", self.saved]
        if mode != "plain":
            cert, key = tls_files()
            cmd += ["-c", cert, "-k", key]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        wait_listening(self.ip, self.port, self.proc, "benchsink")
        wait_for(lambda: os.path.exists(self.counter), 10, "benchsink's count file")

    def count(self):
        """Messages received so far."""
        try:
            with open(self.counter) as f:
                text = f.read().strip()
        except OSError:
            return 0
        return int(text) if text.isdigit() else 0

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Progress(threading.Thread):
    """Watches a sink's count from the start of the load: when it last
    changed is the end of the run, end to end."""

    def __init__(self, sink):
        super().__init__(daemon=True)
        self.sink, self.t0 = sink, time.time()
        self.last, self.t_last = 0, self.t0
        self.stopping = threading.Event()
        self.start()

    def run(self):
        while not self.stopping.wait(0.1):
            n = self.sink.count()
            if n != self.last:
                self.last, self.t_last = n, time.time()

    def end_to_end(self, load_seconds):
        """(messages/s delivered from the start of the load to the last
        delivery, seconds that last delivery came after load_seconds)."""
        span = self.t_last - self.t0
        return (self.last / span if span > 0 else 0.0,
                max(0.0, span - load_seconds))

    def stop(self):
        self.stopping.set()
        self.join(5)


def dkim_verify(dkim, path, records):
    """Checks every DKIM-Signature of a delivered message with python3-dkim
    (the module, passed in), keys from `records' (name -> TXT record);
    returns the list of (algorithm, verified)."""
    def dnsfunc(name, timeout=5):
        n = (name.decode() if isinstance(name, bytes) else name).rstrip(".")
        return records.get(n, "").encode()
    with open(path, "rb") as f:
        msg = f.read()
    d = dkim.DKIM(msg)
    out = []
    for i in range(len(re.findall(rb"(?mi)^DKIM-Signature:", msg))):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception as e:  # noqa: BLE001 (a verifier error is a failure)
            sys.stderr.write("dkim verify %d: %s\n" % (i, e))
            ok = False
        alg = (d.signature_fields or {}).get(b"a", b"?").decode()
        out.append((alg, bool(ok)))
    return out
