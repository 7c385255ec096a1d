#!/usr/bin/env python3
"""harness.py: run the test_* functions of one e2e test file.

Each function runs in turn and prints "ok - file:function" or
"not ok - file:function" followed by the reason, in "#" lines.  A test
function gets no arguments; it starts what it needs (postern_test.Postern,
Sink) and stops it, by PID, before it returns.
"""
import importlib.util
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

path = sys.argv[1]
only = sys.argv[2:] or None
name = os.path.splitext(os.path.basename(path))[0]
spec = importlib.util.spec_from_file_location(name, path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

failed = 0
for fname in [n for n in dir(mod) if n.startswith("test_")]:
    if only and fname not in only:
        continue
    fn = getattr(mod, fname)
    if not callable(fn):
        continue
    t0 = time.time()
    try:
        fn()
    except Exception:
        failed += 1
        print("not ok - %s:%s (%.1fs)" % (name, fname, time.time() - t0))
        for line in traceback.format_exc().splitlines():
            print("#   " + line)
    else:
        print("ok - %s:%s (%.1fs)" % (name, fname, time.time() - t0))
    sys.stdout.flush()
sys.exit(1 if failed else 0)
