#!/usr/bin/env python3
"""run.py: run postern's whole test suite and count.

    python3 regress/run.py [--build DIR] [-k SUBSTRING] [-j N]

Runs, in order: the unit test binaries (build/regress/unit/test_*), then
the protocol transcripts (regress/smtp/*.t, through
regress/smtp/run_transcripts.py) and the whole-daemon tests
(regress/e2e/test_*.py, each file in its own process through
regress/e2e/harness.py).  Every test prints "ok - NAME" or
"not ok - NAME"; a program that dies without saying counts as one failure.
The last line is "N passed, N failed" and the exit status is non-zero if
anything failed.
"""
import argparse
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OK = re.compile(r"^ok - (.*)$")
NOTOK = re.compile(r"^not ok - (.*)$")

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("-k", default=None, help="only tests whose file name contains this")
ap.add_argument("-j", type=int, default=int(os.environ.get("POSTERN_TEST_JOBS", "3")))
ap.add_argument("--timeout", type=int, default=600, help="per test file, seconds")
args = ap.parse_args()
build = os.path.abspath(os.path.join(TOP, args.build) if not os.path.isabs(args.build) else args.build)


def run_one(label, cmd, env=None):
    t0 = time.time()
    try:
        r = subprocess.run(cmd, cwd=TOP, capture_output=True, text=True,
                           timeout=args.timeout, env=env, errors="replace")
        out, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\nnot ok - %s (timed out after %ds)\n" % (label, args.timeout)
        rc = -1
    return label, out, rc, time.time() - t0


def count(label, out, rc):
    passed = failed = 0
    for line in out.splitlines():
        if OK.match(line):
            passed += 1
        elif NOTOK.match(line):
            failed += 1
    if rc != 0 and failed == 0:
        # It died without saying which test: that is a failure too.
        failed += 1
        out += "\nnot ok - %s (exit status %d)\n" % (label, rc)
    return passed, failed, out


def selected(path):
    return args.k is None or args.k in os.path.basename(path)


def sanitized(bindir):
    """Is this an AddressSanitizer build?"""
    try:
        with open(os.path.join(bindir, "bin", "smtpd"), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


jobs = []
# Tests use Debian's python3 and tools (python3-aiosmtpd, python3-dkim),
# whatever else comes first in the caller's PATH.
env = dict(os.environ, POSTERN_BUILD=build, PYTHONDONTWRITEBYTECODE="1",
           PATH="/usr/sbin:/usr/bin:/sbin:/bin:" + os.environ.get("PATH", ""))
# A sanitizer build is several times slower: tests that measure time
# stretch their timings when POSTERN_SLOW is set (the transcripts do).
if "POSTERN_SLOW" not in env and sanitized(build):
    env["POSTERN_SLOW"] = "1"
# Unit tests run outside any chroot, so LeakSanitizer (a sanitizer build
# only) can work there even when the daemons' run turns it off.
unit_env = dict(env)
if "ASAN_OPTIONS" in env:
    unit_env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=0", "detect_leaks=1")
for b in sorted(glob.glob(os.path.join(build, "regress", "unit", "test_*"))):
    if os.access(b, os.X_OK) and not b.endswith(".d") and selected(b):
        jobs.append(("unit/" + os.path.basename(b), [b], unit_env))
trans = sorted(glob.glob(os.path.join(TOP, "regress", "smtp", "*.t")))
if trans and os.path.exists(os.path.join(TOP, "regress", "smtp", "run_transcripts.py")):
    if args.k is None or any(args.k in os.path.basename(t) for t in trans) or args.k in "transcripts":
        jobs.append(("smtp/transcripts", [sys.executable, "regress/smtp/run_transcripts.py"] +
                     [t for t in trans if args.k is None or args.k in os.path.basename(t) or args.k in "transcripts"], env))
for t in sorted(glob.glob(os.path.join(TOP, "regress", "e2e", "test_*.py"))):
    if selected(t):
        jobs.append(("e2e/" + os.path.basename(t), [sys.executable, "regress/e2e/harness.py", t], env))

total_pass = total_fail = 0
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
    futs = [ex.submit(run_one, label, cmd, jenv) for label, cmd, jenv in jobs]
    for fut in futs:
        label, out, rc, dt = fut.result()
        p, f, out = count(label, out, rc)
        total_pass += p
        total_fail += f
        sys.stdout.write("# %s: %d passed, %d failed (%.1fs)\n" % (label, p, f, dt))
        for line in out.splitlines():
            if f or NOTOK.match(line) or line.startswith("#"):
                if f:
                    sys.stdout.write("    " + line + "\n")
        sys.stdout.flush()

sys.stdout.write("# total time %.1fs\n" % (time.time() - t0))
sys.stdout.write("%d passed, %d failed\n" % (total_pass, total_fail))
sys.exit(1 if total_fail else 0)
