"""smtpd_alone: run the real smtpd binary with a fake master, authd and
queued, so that its protocol can be tested exactly and on its own.

    with SmtpdAlone(build, limits={"errors": 3}) as d:
        tok = d.add_token("alice@example.com")
        sock = socket.create_connection(d.addr("starttls"))
        ...
        d.committed      # messages queued: dicts with sender, rcpts, data
        d.aborted        # message ids aborted
        d.log()          # smtpd's log lines

The fake master speaks lib/ipc's framing (16-byte header, host byte order,
descriptors by SCM_RIGHTS): it sends the configuration, the channels, the
listening sockets and the certificate files, then MSG_START, exactly as
posternd does.  The fake authd knows the tokens added here; the fake
queued keeps what it receives in memory.  smtpd itself runs as root would
start it: chrooted to an empty directory, as user nobody.
"""
import base64
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "regress", "e2e"))
from postern_test import stop_process  # noqa: E402

# lib/proto.h
PROC_AUTHD, PROC_QUEUED = 3, 4
MSG_CONF_BEGIN, MSG_CONF_DATA, MSG_CONF_END, MSG_PEER_CHANNEL = 100, 101, 102, 103
MSG_LISTENER, MSG_FILE, MSG_START, MSG_RELOAD = 104, 105, 107, 108
MSG_PING, MSG_READY, MSG_PONG = 111, 150, 151
MSG_AUTH_LOGIN, MSG_AUTH_LOGIN_RES, MSG_AUTH_CHECK, MSG_AUTH_CHECK_RES = 200, 201, 202, 203
MSG_Q_OPEN, MSG_Q_OPEN_RES, MSG_Q_RCPT, MSG_Q_DATA = 300, 301, 302, 303
MSG_Q_COMMIT, MSG_Q_COMMIT_RES, MSG_Q_ABORT = 304, 305, 306
FILE_TLS_CERT, FILE_TLS_KEY = 1, 2
RES_OK, RES_FAIL, RES_TEMPFAIL = 0, 1, 2
IPC_F_FD = 1

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def make_token():
    """A well-formed token (lib/token.h): prefix, 26 random, 7 check."""
    rnd = "".join(random.choice(ALPHABET) for _ in range(26))
    crc = zlib.crc32(rnd.encode())
    check = "".join(ALPHABET[(crc >> (5 * (6 - i))) & 31] for i in range(7))
    return "pstn_" + rnd + check


def plain(user, token, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, token)).encode()).decode()


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def find_smtpd(build):
    """The smtpd binary of a build tree."""
    for p in (os.environ.get("POSTERN_SMTPD"), os.path.join(build, "smtpd"),
              os.path.join(build, "bin", "smtpd")):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise RuntimeError("no smtpd binary in %s" % build)


class Writer:
    def __init__(self):
        self.b = bytearray()

    def u32(self, v):
        self.b += struct.pack("=I", v)
        return self

    def u64(self, v):
        self.b += struct.pack("=Q", v)
        return self

    def str(self, s):
        s = s.encode() if isinstance(s, str) else s
        return self.u32(len(s)).raw(s)

    bytes = str

    def raw(self, s):
        self.b += s
        return self


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def u32(self):
        v = struct.unpack_from("=I", self.b, self.o)[0]
        self.o += 4
        return v

    def u64(self):
        v = struct.unpack_from("=Q", self.b, self.o)[0]
        self.o += 8
        return v

    def bytes(self):
        n = self.u32()
        v = bytes(self.b[self.o:self.o + n])
        self.o += n
        return v

    def str(self):
        return self.bytes().decode("utf-8", "replace")

    def end(self):
        assert self.o == len(self.b), "trailing bytes in a message"


class Channel:
    """One end of an ipc channel, blocking, with a reader thread."""

    def __init__(self, sock, name, handler):
        self.sock, self.name, self.handler = sock, name, handler
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.closed = False

    def start(self):
        self.thread.start()

    def send(self, mtype, payload=b"", fd=None, peerid=0):
        payload = bytes(payload)
        hdr = struct.pack("=IIII", mtype, len(payload), peerid,
                          IPC_F_FD if fd is not None else 0)
        data = hdr + payload
        with self.lock:
            if fd is not None:
                self.sock.sendmsg([data[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                struct.pack("=i", fd))])
                data = data[1:]
            self.sock.sendall(data)

    def recv_exact(self, n):
        b = bytearray()
        while len(b) < n:
            chunk = self.sock.recv(n - len(b))
            if not chunk:
                return None
            b += chunk
        return bytes(b)

    def loop(self):
        while True:
            try:
                hdr = self.recv_exact(16)
            except OSError:
                hdr = None
            if hdr is None:
                self.closed = True
                return
            mtype, n, peerid, flags = struct.unpack("=IIII", hdr)
            payload = self.recv_exact(n) if n else b""
            if payload is None:
                self.closed = True
                return
            self.handler(mtype, Reader(payload), peerid)


class SmtpdAlone:
    def __init__(self, build=None, plain=True, starttls=True, tls=True,
                 limits=None, timeouts=None, conf_extra="", proxy_from=None,
                 verbose=True):
        self.build = build or os.environ.get("POSTERN_BUILD", os.path.join(TOP, "build"))
        self.smtpd = find_smtpd(self.build)
        self.root = tempfile.mkdtemp(prefix="postern-smtpd-")
        self.empty = os.path.join(self.root, "empty")
        os.mkdir(self.empty, 0o755)
        from postern_test import tls_files
        self.cert, self.key = tls_files()
        self.kinds = [k for k, on in (("plain", plain), ("starttls", starttls),
                                       ("tls", tls)) if on]
        self.lsocks, self.ports = {}, {}
        lines = ['hostname "mx.postern.test"', 'empty-dir "%s"' % self.empty]
        for i, kind in enumerate(self.kinds):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(128)
            self.lsocks[kind] = (i, s)
            self.ports[kind] = s.getsockname()[1]
            extra = ""
            if kind == "plain":
                extra = " no-auth"
            else:
                extra = ' certificate "%s" key "%s"' % (self.cert, self.key)
            if proxy_from:
                extra += " proxy-from " + " ".join(proxy_from)
            lines.append("listen on 127.0.0.1 port %d %s%s" % (self.ports[kind], kind, extra))
        lines.append('domain "example.com" {\n}')
        for k, v in (limits or {}).items():
            lines.append("limit %s %s" % (k, v))
        for k, v in (timeouts or {}).items():
            lines.append("timeout %s %s" % (k, v))
        lines.append(conf_extra)
        self.conf = "\n".join(lines) + "\n"
        self.verbose = verbose
        self.tokens = {}          # token -> [id, address, revoked]
        self.authd_mode = "ok"    # or "tempfail"
        self.queued_mode = "ok"   # or "tempfail", "fail", "open-fail", "early-commit"
        self.queued_delay = 0.0   # seconds per MSG_Q_DATA (back-pressure)
        self.msgs = {}
        self.committed = []
        self.aborted = []
        self.next_msgid = 1000
        self.logs = []
        self.loglock = threading.Lock()
        self.proc = None

    # -- tokens ------------------------------------------------------------

    def add_token(self, address):
        tok = make_token()
        self.tokens[tok] = [random.getrandbits(63) + 1, address, False]
        return tok

    def revoke(self, tok):
        self.tokens[tok][2] = True

    # -- life cycle --------------------------------------------------------

    def start(self):
        m_ours, m_theirs = socket.socketpair()
        a_ours, a_theirs = socket.socketpair()
        q_ours, q_theirs = socket.socketpair()
        # Above any descriptor the child could be given at 3 by chance.
        theirs = os.dup2(m_theirs.fileno(), 100 + os.getpid() % 100,
                         inheritable=True)

        def child_fds():
            os.dup2(theirs, 3)
            os.close(theirs)

        args = [self.smtpd, "-r", self.empty, "-u", "nobody"]
        if self.verbose:
            args.append("-v")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=child_fds, pass_fds=(3, theirs))
        m_theirs.close()
        os.close(theirs)
        threading.Thread(target=self.read_log, daemon=True).start()
        self.master = Channel(m_ours, "master", self.on_master)
        self.authd = Channel(a_ours, "authd", self.on_authd)
        self.queued = Channel(q_ours, "queued", self.on_queued)
        self.ready = threading.Event()
        for ch in (self.master, self.authd, self.queued):
            ch.start()
        conf = self.conf.encode()
        self.master.send(MSG_CONF_BEGIN, Writer().str("postern.conf").b)
        self.master.send(MSG_CONF_DATA, Writer().bytes(conf).b)
        self.master.send(MSG_CONF_END)
        self.master.send(MSG_PEER_CHANNEL, Writer().u32(PROC_AUTHD).b, a_theirs.fileno())
        self.master.send(MSG_PEER_CHANNEL, Writer().u32(PROC_QUEUED).b, q_theirs.fileno())
        a_theirs.close()
        q_theirs.close()
        for kind, (i, s) in self.lsocks.items():
            self.master.send(MSG_LISTENER, Writer().u32(i).b, s.fileno())
        self.send_files()
        self.master.send(MSG_START)
        if not self.ready.wait(10):
            raise AssertionError("smtpd did not start:\n" + "\n".join(self.log()))
        return self

    def send_files(self):
        for kind, (i, s) in self.lsocks.items():
            if kind == "plain":
                continue
            for fkind, path in ((FILE_TLS_CERT, self.cert), (FILE_TLS_KEY, self.key)):
                fd = os.open(path, os.O_RDONLY)
                try:
                    self.master.send(MSG_FILE, Writer().u32(fkind).str(str(i)).b, fd)
                finally:
                    os.close(fd)

    def reload(self):
        """Send the configuration and certificates again, then MSG_RELOAD."""
        conf = self.conf.encode()
        self.master.send(MSG_CONF_BEGIN, Writer().str("postern.conf").b)
        self.master.send(MSG_CONF_DATA, Writer().bytes(conf).b)
        self.master.send(MSG_CONF_END)
        self.send_files()
        self.master.send(MSG_RELOAD)

    def stop(self):
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None
        for ch in (self.master, self.authd, self.queued):
            try:
                ch.sock.close()
            except OSError:
                pass
        for i, s in self.lsocks.values():
            s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stdout.write("# smtpd log (tail):\n")
            for line in self.log()[-60:]:
                sys.stdout.write("#   " + line + "\n")
        self.stop()
        import shutil
        shutil.rmtree(self.root, ignore_errors=True)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def addr(self, kind):
        return ("127.0.0.1", self.ports[kind])

    # -- smtpd's log --------------------------------------------------------

    def read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("<") and ">" in line[:4]:
                line = line[line.index(">") + 1:]
            with self.loglock:
                self.logs.append(line)

    def log(self):
        with self.loglock:
            return list(self.logs)

    def wait_log(self, needle, timeout=10, count=1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if sum(1 for l in self.log() if needle in l) >= count:
                return True
            time.sleep(0.02)
        raise AssertionError("no log line with %r" % needle)

    # -- the fake peers ----------------------------------------------------

    def on_master(self, mtype, r, peerid):
        if mtype == MSG_READY:
            self.ready.set()

    def on_authd(self, mtype, r, peerid):
        if mtype == MSG_AUTH_LOGIN:
            sid, user, tok, client = r.u64(), r.str(), r.bytes(), r.str()
            r.end()
            t = self.tokens.get(tok.decode("latin-1"))
            w = Writer().u64(sid)
            if self.authd_mode == "tempfail":
                w.u32(RES_TEMPFAIL).u64(0).str("").bytes(b"")
            elif t and not t[2] and t[1].lower() == user.lower():
                w.u32(RES_OK).u64(t[0]).str(t[1]).bytes(b"ticket-" + t[1].encode())
            else:
                w.u32(RES_FAIL).u64(0).str("").bytes(b"")
            self.authd.send(MSG_AUTH_LOGIN_RES, w.b)
        elif mtype == MSG_AUTH_CHECK:
            sid, tid = r.u64(), r.u64()
            r.end()
            res = RES_FAIL
            for t in self.tokens.values():
                if t[0] == tid and not t[2]:
                    res = RES_OK
            if self.authd_mode == "tempfail":
                res = RES_TEMPFAIL
            self.authd.send(MSG_AUTH_CHECK_RES, Writer().u64(sid).u32(res).b)

    def on_queued(self, mtype, r, peerid):
        if mtype == MSG_Q_OPEN:
            sid, sender, tid, ticket, client, helo = (r.u64(), r.str(), r.u64(),
                                                      r.bytes(), r.str(), r.str())
            r.end()
            if self.queued_mode == "open-fail":
                self.queued.send(MSG_Q_OPEN_RES, Writer().u64(sid).u32(RES_TEMPFAIL).u64(0).b)
                return
            self.next_msgid += 1
            mid = self.next_msgid
            self.msgs[mid] = {"sender": sender, "token": tid, "ticket": ticket,
                              "client": client, "helo": helo, "rcpts": [],
                              "data": bytearray(), "session": sid}
            self.queued.send(MSG_Q_OPEN_RES, Writer().u64(sid).u32(RES_OK).u64(mid).b)
        elif mtype == MSG_Q_RCPT:
            mid, rcpt = r.u64(), r.str()
            r.end()
            self.msgs[mid]["rcpts"].append(rcpt)
        elif mtype == MSG_Q_DATA:
            mid, chunk = r.u64(), r.bytes()
            r.end()
            assert len(chunk) <= 65536
            self.msgs[mid]["data"] += chunk
            if self.queued_mode == "early-commit":
                # A lying queued: it "commits" a message still arriving.
                self.queued.send(MSG_Q_COMMIT_RES,
                                 Writer().u64(mid).u32(RES_OK).str("QEARLY").str("").b)
            if self.queued_delay:
                time.sleep(self.queued_delay)
        elif mtype == MSG_Q_COMMIT:
            mid, flags, size = r.u64(), r.u32(), r.u64()
            r.end()
            m = self.msgs.pop(mid)
            m["flags"], m["size"] = flags, size
            w = Writer().u64(mid)
            if self.queued_mode == "tempfail":
                w.u32(RES_TEMPFAIL).str("").str("disk full")
            elif self.queued_mode == "fail":
                w.u32(RES_FAIL).str("").str("signing refused")
            else:
                qid = "Q%08d" % mid
                m["qid"] = qid
                self.committed.append(m)
                w.u32(RES_OK).str(qid).str("")
            self.queued.send(MSG_Q_COMMIT_RES, w.b)
        elif mtype == MSG_Q_ABORT:
            mid = r.u64()
            r.end()
            self.msgs.pop(mid, None)
            self.aborted.append(mid)
