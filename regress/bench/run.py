#!/usr/bin/env python3
"""run.py: postern's benchmarks (make bench) and the side-by-side run
against Postfix, OpenSMTPD and Exim (make bench-peers).

    python3 regress/bench/run.py [--build DIR] [--runs 5] [--seconds 30]
                                 [--warmup 5] [--quick] [--peers]

Each throughput figure is the median of --runs steady-state runs of
--seconds after --warmup, by regress/bench/loadgen against a daemon
started as in the tests (its own root, loopback address and ports),
relaying to regress/bench/benchsink.  A run ends only when every accepted
message has reached the sink, and one delivered message is checked with
python3-dkim.  The CPU each process spends per message, over one run of
each workload, says where the time goes.  Prints one table; figures are
also written as JSON to build/bench.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BenchSink, Progress, dkim_verify, parse_kv, wait_for
import postern_test
from postern_test import Postern

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--seconds", type=int, default=30)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--quick", action="store_true", help="1 run of 10 s: a smoke test of the harness")
ap.add_argument("--peers", action="store_true")
ap.add_argument("--only", default=None, help="comma list of sections")
args = ap.parse_args()
if args.quick:
    args.runs, args.seconds, args.warmup = 1, 10, 2
BUILD = os.path.abspath(os.path.join(TOP, args.build))
os.environ["POSTERN_BUILD"] = BUILD
postern_test.BUILD = BUILD
LOADGEN = os.path.join(BUILD, "regress", "bench", "loadgen")
results = {}
rows = []


def want(section):
    return args.only is None or section in args.only.split(",")


def loadgen(ip, port, sessions, msgs, size, mode="starttls", user=None,
            token=None, seconds=0, warmup=0, pipelining=False, rcpt="sink@dest.test"):
    cmd = [LOADGEN, "-H", ip, "-p", str(port), "-c", str(sessions), "-m",
           str(msgs), "-z", str(size), "-t", mode, "-r", rcpt]
    if user:
        cmd += ["-u", user, "-k", token]
    if seconds:
        cmd += ["-d", str(seconds), "-w", str(warmup)]
    if pipelining:
        cmd.append("-P")
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=seconds + warmup + 300)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    kv = parse_kv(line)
    kv["_raw"] = line + r.stderr[-500:]
    return kv


def median_of(runs, key):
    vals = [float(r[key]) for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def dkim_check(path, records):
    """Both signatures of a delivered message, checked with python3-dkim:
    (all verified, how many)."""
    import dkim
    checks = dkim_verify(dkim, path, records)
    return bool(checks) and all(ok for _, ok in checks), len(checks)


BENCH_DOMAIN = ('domain "example.com" {\n'
                '\tdkim selector brsa algorithm rsa\n'
                '\tdkim selector bed algorithm ed25519\n'
                '}\n')


def postern_instance(sink):
    """postern as the peers are set up: STARTTLS submission, AUTH required,
    dual DKIM (RSA-2048 + Ed25519), everything relayed to the sink.  All
    sessions come from one address, so the per-client limit is raised as
    for the peers."""
    p = Postern(plain=True, starttls=True, relay='"smtp://%s:%d"' % (sink.ip, sink.port),
                verbose=False, test_clock=False, domains=(), conf_extra=BENCH_DOMAIN,
                limits={"sessions": 20000, "sessions-per-client": 20000})
    p.start()
    for sel, alg in (("brsa", "rsa"), ("bed", "ed25519")):
        p.ctl("dkim", "keygen", "example.com", "--selector", sel, "--algorithm", alg)
    records = {}
    for it in p.ctl_json("dkim", "dns", "example.com").get("items", []):
        records[it.get("name", "")] = it.get("record", "")
    tok, _ = p.add_token("bench@example.com", "bench")
    return p, tok, records


def throughput(size, label):
    runs = []
    dk = None
    for i in range(args.runs):
        sink = BenchSink(BUILD)
        p, tok, records = postern_instance(sink)
        try:
            progress = Progress(sink)
            r = loadgen(p.ip, p.ports["starttls"], 50, 20, size, "starttls",
                        "bench@example.com", tok, args.seconds, args.warmup)
            accepted = int(r.get("accepted", r.get("messages", 0)))
            # Every message accepted (also outside the measured window)
            # must arrive before the run counts.
            wait_for(lambda: progress.last >= accepted, 600, "the sink to get every message",
                     interval=0.1)
            time.sleep(0.3)         # the count file is rewritten every 100 ms
            progress.stop()
            r["e2e_msgs_per_s"], r["drain_s"] = progress.end_to_end(args.warmup + args.seconds)
            runs.append(r)
            if dk is None and os.path.exists(sink.saved):
                dk = dkim_check(sink.saved, records)
            sys.stderr.write("  %s run %d: %s e2e=%.1f drain_s=%.1f\n" %
                             (label, i + 1, r["_raw"][:200], r["e2e_msgs_per_s"], r["drain_s"]))
        finally:
            p.cleanup()
            sink.stop()
    res = {k: median_of(runs, k) for k in ("msgs_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                                           "e2e_msgs_per_s", "drain_s")}
    res["dkim_verified"] = dk
    results[label] = res
    rows.append((label, "%.0f msg/s" % res["msgs_per_s"],
                 "p50 %.1f ms, p90 %.1f, p99 %.1f, max %.1f; end to end %.0f msg/s, "
                 "drain %.1f s; DKIM %s" %
                 (res["p50_ms"], res["p90_ms"], res["p99_ms"], res["max_ms"],
                  res["e2e_msgs_per_s"], res["drain_s"],
                  "verified (%d sigs)" % dk[1] if dk and dk[0] else "NOT verified")))


def cpu_seconds(pid):
    """utime + stime of a process, all its threads, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(size, label):
    """Where the time goes: CPU per accepted message of each postern
    process, of the load generator and of the sink, over one run of the
    workload (warm-up included, every message delivered)."""
    sink = BenchSink(BUILD)
    p, tok, _ = postern_instance(sink)
    try:
        procs = dict(p.children())
        procs["posternd"] = p.proc.pid
        procs["benchsink"] = sink.proc.pid
        before = {n: cpu_seconds(pid) for n, pid in procs.items()}
        cmd = [LOADGEN, "-H", p.ip, "-p", str(p.ports["starttls"]), "-c", "50", "-m", "20",
               "-z", str(size), "-t", "starttls", "-r", "sink@dest.test",
               "-u", "bench@example.com", "-k", tok, "-d", str(args.seconds),
               "-w", str(args.warmup)]
        lg = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out = lg.stdout.read()
        lg.stdout.close()
        _, _, ru = os.wait4(lg.pid, 0)
        lg.returncode = 0
        kv = parse_kv(out.strip().splitlines()[-1] if out.strip() else "")
        accepted = int(kv.get("accepted", 0))
        if accepted == 0:
            rows.append(("CPU per message, " + label, "no figure", out[-200:]))
            return
        wait_for(lambda: sink.count() >= accepted, 600, "the sink to get every message",
                 interval=0.1)
        used = {n: cpu_seconds(pid) - before[n] for n, pid in procs.items()}
    finally:
        p.cleanup()
        sink.stop()
    used["loadgen"] = ru.ru_utime + ru.ru_stime
    per = {n: v / accepted * 1e6 for n, v in used.items()}
    server = sum(v for n, v in per.items() if n not in ("loadgen", "benchsink"))
    results["cpu_" + label] = {"accepted": accepted, "us_per_msg": per}
    rows.append(("CPU per message, " + label, "%.0f us server" % server,
                 ", ".join("%s %.0f" % (n, v) for n, v in
                           sorted(per.items(), key=lambda kv: -kv[1]))))


def loadgen_ceiling():
    sink = BenchSink(BUILD, "starttls")
    try:
        r = loadgen(sink.ip, sink.port, 50, 20, 2048, "starttls", "x@example.com",
                    "t", args.seconds, args.warmup)
    finally:
        sink.stop()
    results["loadgen_ceiling"] = r
    rows.append(("loadgen vs trivial TLS sink, 2 KB", "%s msg/s" % r.get("msgs_per_s"),
                 "the harness's own ceiling on this machine"))


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def idle_sessions(n):
    sink = BenchSink(BUILD)
    p, tok, _ = postern_instance(sink)
    try:
        smtpd = p.children()["smtpd"]
        before = pss_kb(smtpd)
        lg = subprocess.Popen([LOADGEN, "-H", p.ip, "-p", str(p.ports["starttls"]), "-c", str(n),
                               "-t", "starttls", "-u", "bench@example.com", "-k", tok, "-I"],
                              stdout=subprocess.PIPE, text=True)
        import select
        ready, _, _ = select.select([lg.stdout], [], [], 300)
        line = lg.stdout.readline() if ready else ""
        ok = line.startswith("idle=%d failed=0" % n)
        time.sleep(1)
        after = pss_kb(smtpd)
        lg.kill()
        lg.wait(30)
        per = (after - before) / n if ok else float("nan")
        results["idle_%d" % n] = {"held": ok, "pss_before_kb": before, "pss_after_kb": after,
                                  "kb_per_session": per}
        rows.append(("%d idle authenticated TLS sessions" % n,
                     "%.1f KB/session" % per if ok else "NOT held",
                     "smtpd PSS %d KB -> %d KB" % (before, after)))
    finally:
        p.cleanup()
        sink.stop()


def group_commit():
    """Messages/s committed with 1, 10 and 100 concurrent submitters on
    the plain test listener (no TLS: the figure is the queue's), and the
    disk's own sync rate."""
    d = tempfile.mkdtemp(prefix="postern-sync-", dir="/var/tmp")
    path = os.path.join(d, "f")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    n, t0 = 0, time.time()
    while time.time() - t0 < 3:
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
        n += 1
    os.close(fd)
    os.unlink(path)
    os.rmdir(d)
    rate = n / (time.time() - t0)
    results["disk_fsync_per_s"] = rate
    rows.append(("disk: write 4 KB + fsync", "%.0f syncs/s" % rate, "the floor for one-flush-per-message"))
    for c in (1, 10, 100):
        sink = BenchSink(BUILD)
        p = Postern(plain=True, relay='"smtp://%s:%d"' % (sink.ip, sink.port), verbose=False,
                    test_clock=False)
        p.start()
        try:
            r = loadgen(p.ip, p.ports["plain"], c, 50, 2048, "plain", seconds=min(args.seconds, 15),
                        warmup=2, rcpt="sink@dest.test")
            results["commit_c%d" % c] = r
            rows.append(("commit, %d concurrent submitters, plain, 2 KB" % c,
                         "%s msg/s" % r.get("msgs_per_s"), "p50 %s ms, p99 %s ms" %
                         (r.get("p50_ms"), r.get("p99_ms"))))
        finally:
            p.cleanup()
            sink.stop()


def native(prog, label):
    path = os.path.join(BUILD, "regress", "bench", prog)
    if not os.path.exists(path):
        rows.append((label, "missing", path))
        return
    r = subprocess.run([path], capture_output=True, text=True, timeout=1800)
    for line in r.stdout.strip().splitlines():
        rows.append((label, "", line.strip()))
    results[prog] = r.stdout


if want("ceiling"):
    loadgen_ceiling()
if want("tput"):
    throughput(2048, "50x20, 2 KB, STARTTLS+AUTH, dual DKIM, to sink")
    throughput(100 * 1024, "50x20, 100 KB, STARTTLS+AUTH, dual DKIM, to sink")
if want("cpu"):
    cpu_split(2048, "2 KB workload")
    cpu_split(100 * 1024, "100 KB workload")
if want("idle"):
    idle_sessions(1000)
    idle_sessions(10000)
if want("commit"):
    group_commit()
if want("dkim"):
    native("bench_dkim", "DKIM signing")
if want("tokens"):
    native("bench_tokens", "token check, 1,000,000 tokens")
if want("queue"):
    r = subprocess.run([sys.executable, os.path.join(HERE, "bench_queue.py"), "--build", BUILD],
                       capture_output=True, text=True, timeout=3600)
    for line in r.stdout.strip().splitlines():
        rows.append(("queue, 1,000,000 recipients", "", line.strip()))
    results["bench_queue"] = r.stdout

w = max(len(r[0]) for r in rows) if rows else 10
print("\npostern benchmarks (%d run(s) of %d s after %d s warm-up, median)" %
      (args.runs, args.seconds, args.warmup))
for a, b, c in rows:
    print("%-*s  %-16s  %s" % (w, a, b, c))
sys.stdout.flush()
# Written before the peers run: peers.py reads postern's figures from it.
with open(os.path.join(BUILD, "bench.json"), "w") as f:
    json.dump(results, f, indent=1, default=str)

if args.peers:
    peers = os.path.join(HERE, "peers.py")
    subprocess.run([sys.executable, peers, "--build", BUILD, "--runs", str(args.runs),
                    "--seconds", str(args.seconds), "--warmup", str(args.warmup)])
