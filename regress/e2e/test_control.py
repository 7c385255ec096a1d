"""The control socket: who may use it, and that nothing a posternctl user
sends -- garbage framing, unknown commands, bad arguments -- can make any
process exit (issue 2, issue 3)."""
import os
import pwd
import socket
import struct
import subprocess

from postern_test import Postern

CTL_TOKEN_ADD, CTL_TOKEN_LIST = 1, 2


def proto_value(name):
    """Read an enum value from lib/proto.h so the test follows it."""
    here = os.path.dirname(os.path.abspath(__file__))
    src = open(os.path.join(here, "..", "..", "lib", "proto.h")).read()
    import re
    m = re.search(r"enum msg_type \{(.*?)\};", src, re.S).group(1)
    val = -1
    for line in m.splitlines():
        line = line.split("/*")[0].strip().rstrip(",")
        if not line.startswith("MSG_"):
            continue
        if "=" in line:
            k, v = [x.strip() for x in line.split("=")]
            val = int(v)
        else:
            k = line
            val += 1
        if k == name:
            return val
    raise KeyError(name)


def ctl_as(p, user, *args, initgroups=True):
    pw = pwd.getpwnam(user)

    def drop():
        if initgroups:
            os.initgroups(user, pw.pw_gid)
        else:
            os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return subprocess.run([os.path.join(p.bin, "posternctl"), "-s",
                           os.path.join(p.root, "run", "control.sock")] + list(args),
                          capture_output=True, text=True, timeout=30, preexec_fn=drop)


def test_supplementary_group_member_is_let_in_others_are_not():
    with Postern() as p:
        # _postern-testop is in the postern group through /etc/group only.
        r = ctl_as(p, "_postern-testop", "token", "list")
        assert r.returncode == 0, r.stderr
        # Without its supplementary groups the same process cannot even
        # open the socket (root:postern 0660), nor can nobody.
        r = ctl_as(p, "_postern-testop", "token", "list", initgroups=False)
        assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
        r = ctl_as(p, "nobody", "ping")
        assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
        # Behind the file mode, the master checks the peer's credentials
        # itself: with the socket opened up, nobody is still refused.
        os.chmod(os.path.join(p.root, "run", "control.sock"), 0o666)
        r = ctl_as(p, "nobody", "token", "list")
        assert r.returncode != 0
        p.wait_log(r"control: refused uid=%d" % pwd.getpwnam("nobody").pw_uid)
        r = ctl_as(p, "_postern-testop", "token", "list")
        assert r.returncode == 0, r.stderr
        p.ctl("ping")


def raw(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(p.root, "run", "control.sock"))
    return s


def frame(mtype, payload, peerid=1, flags=0, length=None):
    return struct.pack("=IIII", mtype, len(payload) if length is None else length,
                       peerid, flags) + payload


def kv(cmd, pairs):
    out = struct.pack("=II", cmd, len(pairs))
    for k, v in pairs:
        out += struct.pack("=I", len(k)) + k + struct.pack("=I", len(v)) + v
    return out


def read_done(s):
    """Read answers until MSG_CTL_DONE; returns (status, message)."""
    done = proto_value("MSG_CTL_DONE")
    buf = b""
    while True:
        while len(buf) < 16:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        t, ln, _, _ = struct.unpack("=IIII", buf[:16])
        while len(buf) < 16 + ln:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        body, buf = buf[16:16 + ln], buf[16 + ln:]
        if t == done:
            status, n = struct.unpack("=II", body[:8])
            return status, body[8:8 + n].decode()


def test_bad_requests_get_error_answers_and_nothing_exits():
    req = proto_value("MSG_CTL_REQ")
    with Postern() as p:
        kids = p.children()
        cases = [
            kv(999, []),                                         # unknown command
            kv(CTL_TOKEN_ADD, [(b"colour", b"blue")]),           # unknown key
            kv(CTL_TOKEN_ADD, [(b"name", b"a"), (b"name", b"b")]),  # twice
            kv(CTL_TOKEN_ADD, [(b"name", b"a\x07b"), (b"address", b"x@example.com")]),
            kv(CTL_TOKEN_ADD, [(b"name", b""), (b"address", b"x@example.com")]),
            kv(CTL_TOKEN_ADD, [(b"name", b"n"), (b"address", b"not an address")]),
            kv(CTL_TOKEN_ADD, [(b"name", b"n"), (b"address", b"x@unconfigured.test")]),
            struct.pack("=II", CTL_TOKEN_LIST, 1000),            # count lies
            kv(CTL_TOKEN_LIST, [(b"address", b"x" * 2000)]),     # value too long
        ]
        for payload in cases:
            s = raw(p)
            s.sendall(frame(req, payload))
            ans = read_done(s)
            assert ans is not None and ans[0] != 0, (payload[:40], ans)
            s.close()
        # Framing lies: the master drops that client, nothing more.
        for bad in (frame(req, b"", length=1 << 30), frame(req, b"\0" * 8, flags=1),
                    frame(7777, b"abc"), b"\x01\x02\x03",
                    frame(req, struct.pack("=I", CTL_TOKEN_LIST) + b"\xff" * 3)):
            s = raw(p)
            s.sendall(bad)
            s.close()
        # Everyone is still there and still answers.
        assert p.children() == kids, (kids, p.children())
        p.ctl("ping")
        assert p.ctl_json("token", "list")["status"] == "ok"
        assert p.proc.poll() is None
