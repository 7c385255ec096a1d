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
  - commits: messages per second acknowledged by queued (signing answered
    at once by the fake signd) with 1, 10 and 100 transactions in flight,
    next to the disk's own rate of fsync() and syncfs() calls: group
    commit is what lets the first pass the second.
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
ap.add_argument("--commit-seconds", type=float, default=3.0,
                help="per concurrency level of the commit test (0: skip)")
ap.add_argument("--skip-million", action="store_true")
args = ap.parse_args()
os.environ["POSTERN_BUILD"] = os.path.abspath(os.path.join(TOP, args.build))

import postern_test  # noqa: E402
postern_test.BUILD = os.environ["POSTERN_BUILD"]
import select  # noqa: E402
from queued_peers import (Queued, MSG_Q_OPEN, MSG_Q_OPEN_RES,  # noqa: E402
                          MSG_Q_COMMIT_RES, MSG_SIGN, MSG_SIGN_RES, R, W)

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


def disk_sync_rates(d, seconds=2.0):
    """(fsync/s of a 4 KiB write, syncfs/s) in directory d."""
    path = os.path.join(d, "bench-sync")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    n, t0 = 0, time.time()
    while time.time() - t0 < seconds:
        os.pwrite(fd, b"x" * 4096, (n % 256) * 4096)
        os.fsync(fd)
        n += 1
    fsyncs = n / (time.time() - t0)
    n, t0 = 0, time.time()
    libc = __import__("ctypes").CDLL(None, use_errno=True)
    while time.time() - t0 < seconds:
        os.pwrite(fd, b"y" * 4096, (n % 256) * 4096)
        libc.syncfs(fd)
        n += 1
    syncfss = n / (time.time() - t0)
    os.close(fd)
    os.unlink(path)
    return fsyncs, syncfss


def commit_rate(q, inflight, seconds):
    """Messages/s acknowledged with `inflight' transactions at once."""
    data = b"From: scans@example.com\r\nSubject: x\r\n\r\n" + b"y" * 2000 + b"\r\n"
    done = 0
    t0 = time.time()
    end = t0 + seconds

    def open_one():
        q.session += 1
        q.smtpd.send(MSG_Q_OPEN, W().u64(q.session).str("scans@example.com").u64(0)
                     .bytes(b"").str("192.0.2.1").str("bench"))
    for _ in range(inflight):
        open_one()
    outstanding = inflight
    while outstanding > 0:
        r, _, _ = select.select([q.smtpd.sock, q.signd.sock], [], [], 10)
        if not r:
            raise AssertionError("commit bench stalled")
        for ch in (q.smtpd, q.signd):
            while True:
                try:
                    t, _, p, fd = ch.recv(0.0005)
                except TimeoutError:
                    break
                if t == MSG_Q_OPEN_RES:
                    rr = R(p)
                    rr.u64()
                    assert rr.u32() == 0
                    q.send_message(rr.u64(), ["a@example.org"], data)
                elif t == MSG_SIGN:
                    os.close(fd)
                    q.signd.send(MSG_SIGN_RES, W().u64(R(p).u64()).u32(0).str("")
                                 .bytes(b"DKIM-Signature: v=1; b=x\r\n"))
                elif t == MSG_Q_COMMIT_RES:
                    outstanding -= 1
                    done += 1
                    if time.time() < end:
                        open_one()
                        outstanding += 1
    return done / (time.time() - t0)


def commit_bench(seconds):
    root = tempfile.mkdtemp(prefix="postern-bench-commit-")
    # One batch at a time to the fake relayd, which never answers: the
    # figure is the commit path alone.
    q = Queued(spool=os.path.join(root, "spool"), queue={"concurrency": "1"})
    q.start()
    try:
        fsyncs, syncfss = disk_sync_rates(root)
        print("disk_fsync_per_second %.0f" % fsyncs)
        print("disk_syncfs_per_second %.0f" % syncfss)
        for c in (1, 10, 100):
            syncs0 = int(q.ctl("stats")[2][0]["syncs"])
            rate = commit_rate(q, c, seconds)
            syncs = int(q.ctl("stats")[2][0]["syncs"]) - syncs0
            print("commits_per_second_%d %.0f (syncs %d)" % (c, rate, syncs))
    finally:
        q.stop()
        shutil.rmtree(root, ignore_errors=True)


def main():
    if args.commit_seconds > 0:
        commit_bench(args.commit_seconds)
    if args.skip_million:
        return
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
