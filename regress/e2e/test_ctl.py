"""posternctl against what others put in its answers: text from the
network must not reach the operator's terminal as escape sequences, and
a long answer (thousands of tokens) must not cost it memory by the row
buffer rather than by the text."""
import fcntl
import json
import os
import socket
import struct
import subprocess
import termios
import time

from ipcpeer import P, R, W, Channel, kv_write
from postern_test import Postern, Sink

DEFERRED = r"queued: id=\w+ to=<[^>]*> .*status=deferred"
# A header that sets the terminal's title, rings its bell and clears the
# screen, and an 8-bit CSI (C1 control) for terminals not in UTF-8 mode.
SUBJECT = b"Subject: \x1b]2;owned\x07\x1b[2J\x9b1m caf\xc3\xa9"


def test_queue_show_prints_no_escape_sequences():
    with Sink(args=["--reply-rcpt", "grey@dest.test=451"]) as sink:
        with Postern(relay=sink.url(), queue={"retry-initial": "10m"}) as p:
            s = p.smtp()
            s.sendmail("dev@example.com", ["grey@dest.test"],
                       b"From: dev@example.com\r\n" + SUBJECT +
                       b"\r\n\r\nbody\r\n")
            s.quit()
            p.wait_log(DEFERRED, timeout=20)
            qid = p.ctl_json("queue", "list")["items"][0]["id"]
            out = p.ctl("queue", "show", qid).stdout
            assert "Subject: ?]2;owned??[2J?1m caf\u00e9" in out, out
            for c in range(0x20):
                assert chr(c) not in out.replace("\n", ""), (c, out)
            assert "\x7f" not in out and "\x9b" not in out
            # --json keeps the text, the controls escaped, and always
            # parses: a byte that is no UTF-8 becomes U+FFFD.
            r = p.ctl("queue", "show", qid, json_out=True)[1]
            assert "\x1b" not in r.stdout and "\\u001b" in r.stdout
            hdrs = [i.get("header") for i in json.loads(r.stdout)["items"]]
            want = "Subject: \x1b]2;owned\x07\x1b[2J\ufffd1m caf\u00e9"
            assert want in hdrs, hdrs


def add_tokens(p, n):
    """n tokens, through the control socket, 16 requests in flight."""
    ch = Channel(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    ch.sock.connect(os.path.join(p.root, "run", "control.sock"))
    sent = done = 0
    try:
        while done < n:
            while sent < n and sent - done < 16:
                w = W().u32(P.CTL_TOKEN_ADD)
                kv_write(w, [("name", "device %d" % sent),
                             ("address", "dev%d@example.com" % sent)])
                ch.send(P.MSG_CTL_REQ, sent + 1, w.data)
                sent += 1
            m = ch.recv(30)
            if m.type == P.MSG_CTL_DONE:
                r = R(m.payload)
                status, text = r.u32(), r.str()
                assert status == 0, text
                done += 1
    finally:
        ch.close()


def ctl_peak_kb(p, *args):
    """Run posternctl and return (its peak RSS in KiB, its output).

    It prints once it has every row, so when it has filled the pipe it
    is blocked writing, still alive and holding all of them: its VmHWM
    then is the peak.  (getrusage would count the memory of this Python,
    which vfork'ed it, as the child's.)
    """
    cmd = [os.path.join(p.bin, "posternctl"), "-s",
           os.path.join(p.root, "run", "control.sock")] + list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    fd = proc.stdout.fileno()
    cap = fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032))
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD,
                                           b"\0\0\0\0"))[0]
        if n >= cap:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "posternctl ended before filling the pipe"
    hwm = None
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0
    return hwm, out.decode()


def test_token_list_of_thousands_in_small_memory():
    # A row was kept as a struct ctl_row of ~17 KB (MAX_CTL_ARGS keys and
    # values of their largest size): 5,000 tokens took over 50 MB, a
    # million would take 17 GB.  Rows are now kept at their own size.
    n = 5000
    with Postern() as p:
        add_tokens(p, n)
        kb, out = ctl_peak_kb(p, "token", "list")
        lines = out.splitlines()
        assert len(lines) == n + 1, len(lines)
        assert lines[0].split()[:2] == ["ID", "NAME"], lines[0]
        assert "dev4321@example.com" in out
        assert kb < 16 * 1024, "posternctl token list: %d KiB" % kb
        kb, out = ctl_peak_kb(p, "--json", "token", "list")
        items = json.loads(out)["items"]
        assert len(items) == n
        assert {i["name"] for i in items} == {"device %d" % i
                                              for i in range(n)}
        assert kb < 16 * 1024, "posternctl --json token list: %d KiB" % kb
