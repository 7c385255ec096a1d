#!/usr/bin/env python3
"""bench_queue: queued with a million queued recipients.

    python3 regress/bench/bench_queue.py [--build DIR] [--messages N]
                                         [--rcpts N] [--keep]

Writes a spool of N messages with R recipients each (default 100,000 x 10
= 1,000,000 recipients) in the real envelope format (queued/queue_env.h),
then starts the real queued on it (with its peers played by
regress/e2e/queued_peers.py) and reports:

  - start-up: from exec to MSG_READY, i.e. the recovery that reads every
    envelope and rebuilds the schedule (cold cache and warm cache);
  - memory: queued's resident set size after recovery;
  - next due batch: every recipient is due at a different time in the
    future; the test clock is moved so that one message becomes due and
    the time until its batch reaches relayd is measured (the schedule is
    a heap: no scan of the queue), repeated and averaged;
  - the same after `queue list' would need a full walk, for contrast.
"""
import argparse
import os
import pwd
import shutil
import struct
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "regress", "e2e"))
sys.path.insert(0, os.path.join(TOP, "regress", "tools"))

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.environ.get("POSTERN_BUILD", "build"))
ap.add_argument("--messages", type=int, default=100000)
ap.add_argument("--rcpts", type=int, default=10)
ap.add_argument("--keep", action="store_true")
args = ap.parse_args()
os.environ["POSTERN_BUILD"] = os.path.abspath(os.path.join(TOP, args.build))

import postern_test  # noqa: E402
postern_test.BUILD = os.environ["POSTERN_BUILD"]
from queued_peers import Queued  # noqa: E402

BASE = int(time.time())


def s(b):
    return struct.pack("<I", len(b)) + b


STEP = 1000     # seconds between the due times of two messages


def envelope(qid, n, nrcpt, dkim, size):
    p = struct.pack("<QQ", qid, BASE) + s(b"scans@example.com") + struct.pack("<Q", 0x1234)
    p += s(b"192.0.2.1") + s(b"printer") + struct.pack("<IQII", 0, size, 0, 0)
    p += s(dkim) + struct.pack("<I", nrcpt)
    for r in range(nrcpt):
        addr = b"user%d@d%d.example" % (r, (n + r) % 1000)
        # Far in the future, STEP seconds apart per message.
        p += s(addr) + struct.pack("<IIIqqI", 0, 0, 1, BASE + 10**6 + n * STEP, BASE, 451)
        p += s(b"4.7.1") + s(b"mx.d.example") + s(b"greylisted, try later")
    return b"PSTNENV\n" + struct.pack("<III", 1, len(p), zlib.crc32(p)) + p


def make_spool(spool, nmsg, nrcpt):
    q = os.path.join(spool, "queue")
    for d in ("queue", "incoming", "corrupt"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    dkim = b"DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s1; b=" + b"A" * 88 + b"\r\n"
    body = b"From: scans@example.com\r\nSubject: bench\r\n\r\nhello\r\n"
    pw = pwd.getpwnam("_postern-queue")
    t0 = time.time()
    for n in range(nmsg):
        qid = (BASE << 28) | (n + 1)
        name = "%016X" % qid
        env = envelope(qid, n, nrcpt, dkim, len(body))
        with open(os.path.join(q, name), "wb") as f:
            f.write(body)
        with open(os.path.join(q, name + ".env"), "wb") as f:
            f.write(env)
    for root, dirs, files in os.walk(spool):
        for x in dirs + files:
            os.chown(os.path.join(root, x), pw.pw_uid, pw.pw_gid)
    os.chown(spool, pw.pw_uid, pw.pw_gid)
    return time.time() - t0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def main():
    root = tempfile.mkdtemp(prefix="postern-bench-queue-")
    spool = os.path.join(root, "spool")
    total = args.messages * args.rcpts
    print("# writing %d messages x %d recipients = %d recipients" %
          (args.messages, args.rcpts, total))
    dt = make_spool(spool, args.messages, args.rcpts)
    print("# spool written in %.1fs" % dt)

    results = {}
    for label, cold in (("cold", True), ("warm", False)):
        if cold and not drop_caches():
            print("# (cannot drop caches: cold start not measured)")
            continue
        q = Queued(spool=spool, queue={"concurrency": "10", "lifetime": "30d"})
        t0 = time.time()
        q.start()
        dt = time.time() - t0
        rss = rss_kib(q.proc.pid)
        assert "recovered %d message(s), %d recipient(s)" % (args.messages, total) in q.log(), \
            q.log()[-500:]
        results[label] = (dt, rss)
        print("startup_%s_seconds %.2f" % (label, dt))
        print("rss_after_recovery_%s_mib %.1f" % (label, rss / 1024.0))
        if label == "warm" or not os.path.exists("/proc/sys/vm/drop_caches"):
            # Next due batch: move the clock so that message k is due.
            lat = []
            q.advance(BASE + 10**6 - int(time.time()) - STEP // 2)
            q.relayd.quiet(0.5)
            for k in range(20):
                t1 = time.time()
                q.advance(STEP)
                b = q.relay_batch(timeout=10)
                lat.append(time.time() - t1)
                q.relay_results(b, 250)
                while True:      # its other domains
                    try:
                        q.relay_results(q.relay_batch(timeout=0.3), 250)
                    except TimeoutError:
                        break
            lat.sort()
            print("next_due_batch_ms_median %.2f" % (1000 * lat[len(lat) // 2]))
            print("next_due_batch_ms_max %.2f" % (1000 * lat[-1]))
            t1 = time.time()
            st, _, rows = q.ctl("stats")
            print("stats_ms %.2f" % (1000 * (time.time() - t1)))
        q.stop()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print("# kept %s" % root)


main()
