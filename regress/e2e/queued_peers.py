"""queued_peers: run the real queued alone, with its peers played here.

queued is started the way posternd starts it (as root, "-r SPOOL -u USER",
fd 3 its master channel, fd 2 its log), and this module plays the master,
smtpd, signd and relayd over socketpairs with the real framing (16-byte
header, SCM_RIGHTS).  So the queue's durability, recovery, scheduling and
control answers can be tested exactly and fast, with kill -9 at chosen
moments, without the rest of the tree.

    with Queued(queue={"retry-initial": "60s"}) as q:
        ok, qid, reason = q.submit("a@example.com", ["b@example.org"], b"...")
        batch = q.relay_batch()
        q.relay_results(batch, 250)

Processes started here are stopped here, by PID.
"""
import email
import email.policy
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

import postern_test

from ipcpeer import HDR, P, R, W, Channel

# Names the tests use, from lib/proto.h (through ipcpeer).
globals().update({k: v for k, v in vars(P).items()
                  if k.startswith(("MSG_", "PROC_", "RES_", "RELAY_"))})
CTL = {"list": P.CTL_QUEUE_LIST, "show": P.CTL_QUEUE_SHOW,
       "flush": P.CTL_QUEUE_FLUSH, "delete": P.CTL_QUEUE_DELETE,
       "hold": P.CTL_QUEUE_HOLD, "release": P.CTL_QUEUE_RELEASE,
       "stats": P.CTL_SHOW_STATS}
USER = "_postern-queue"


class Chan(Channel):
    """A channel with a name, expectations and silence checks."""

    def __init__(self, sock, name):
        super().__init__(sock)
        self.name = name

    def send(self, typ, payload=b"", fd=None, peerid=0):
        if isinstance(payload, W):
            payload = payload.data
        super().send(typ, peerid, payload, fd)

    def recv(self, timeout=10.0):
        """(type, peerid, payload, fd); TimeoutError when nothing came."""
        try:
            m = super().recv(max(timeout, 0.001))
        except TimeoutError:
            raise TimeoutError("%s: nothing received" % self.name)
        return m.type, m.peerid, m.payload, (m.fds[0] if m.fds else None)

    def expect(self, typ, timeout=10.0):
        t, peerid, payload, fd = self.recv(timeout)
        if t != typ:
            raise AssertionError("%s: got type %d, expected %d" % (self.name, t, typ))
        return peerid, payload, fd

    def quiet(self, timeout=0.5):
        """True when nothing arrives within timeout."""
        try:
            t, _, _, fd = self.recv(timeout)
        except TimeoutError:
            return True
        if fd is not None:
            os.close(fd)
        raise AssertionError("%s: unexpected message type %d" % (self.name, t))


def queued_binary():
    b = postern_test.build_dir()
    for cand in (os.path.join(b, "bin", "queued"), os.path.join(b, "queued")):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise AssertionError("no queued binary under %s" % b)


class Queued:
    """The real queued, with fake master, smtpd, signd and relayd."""

    def __init__(self, queue=None, spool=None, hostname="mx.postern.test"):
        self.root = tempfile.mkdtemp(prefix="postern-queued-")
        os.chmod(self.root, 0o755)
        self.spool = spool or os.path.join(self.root, "spool")
        os.makedirs(self.spool, exist_ok=True)
        pw = pwd.getpwnam(USER)
        os.chown(self.spool, pw.pw_uid, pw.pw_gid)
        os.chmod(self.spool, 0o700)
        q = {"retry-initial": "60s", "retry-max": "600s", "lifetime": "3600s",
             "delay-warning": "no", "crash-hold": "3", "batch-recipients": "10",
             "concurrency": "50"}
        q.update(queue or {})
        self.conf = 'hostname "%s"\ntest-clock yes\nqueue {\n%s}\n' % (
            hostname, "".join("\t%s %s\n" % kv for kv in q.items()))
        self.logpath = os.path.join(self.root, "queued.log")
        self.proc = None
        self.clock = 0
        self.reqid = 0
        self.session = 0

    # -- life cycle --------------------------------------------------------

    def start(self):
        pairs = {n: socket.socketpair() for n in ("master", "smtpd", "signd", "relayd")}
        mine = pairs["master"][1]
        logf = open(self.logpath, "ab")

        n = mine.fileno()
        # The shell puts the channel on fd 3, as posternd does.
        self.proc = subprocess.Popen(["/bin/sh", "-c", 'exec "$0" "$@" 3<&%d %d<&-' % (n, n),
                                      queued_binary(), "-r", self.spool, "-u", USER, "-v"],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     pass_fds=(n,))
        logf.close()
        mine.close()
        self.master = Chan(pairs["master"][0], "master")
        self.master.send(MSG_CONF_BEGIN, W().str("queued-test.conf"))
        self.master.send(MSG_CONF_DATA, W().bytes(self.conf.encode()))
        self.master.send(MSG_CONF_END)
        for name, proc in (("smtpd", PROC_SMTPD), ("signd", PROC_SIGND), ("relayd", PROC_RELAYD)):
            a, b = pairs[name]
            self.master.send(MSG_PEER_CHANNEL, W().u32(proc), fd=b.fileno())
            b.close()
            setattr(self, name, Chan(a, name))
        if self.clock:
            self.master.send(MSG_CLOCK, W().i64(self.clock))
        self.master.send(MSG_START)
        self.master.expect(MSG_READY, timeout=120)
        return self

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for c in ("master", "smtpd", "signd", "relayd"):
            getattr(self, c).close()

    def restart(self):
        self.kill9()
        return self.start()

    def stop(self):
        if self.proc:
            postern_test.stop_process(self.proc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            print("# queued log (%s):" % self.logpath)
            for line in self.log().splitlines()[-40:]:
                print("#   " + line)
        return False

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, count=1, timeout=10):
        postern_test.wait_for(lambda: self.log().count(pattern) >= count,
                              timeout, "log %r x%d" % (pattern, count))

    def files(self, d="queue"):
        return sorted(os.listdir(os.path.join(self.spool, d)))

    def advance(self, seconds):
        self.clock += seconds
        self.master.send(MSG_CLOCK, W().i64(self.clock))

    # -- smtpd and signd ---------------------------------------------------

    def open(self, sender, token=0, ticket=b"", client="192.0.2.1", helo="printer"):
        self.session += 1
        self.smtpd.send(MSG_Q_OPEN, W().u64(self.session).str(sender).u64(token)
                        .bytes(ticket).str(client).str(helo))
        _, p, _ = self.smtpd.expect(MSG_Q_OPEN_RES)
        r = R(p)
        sess, res, msgid = r.u64(), r.u32(), r.u64()
        assert sess == self.session
        return res, msgid

    def send_message(self, msgid, rcpts, data, body=0):
        for rc in rcpts:
            self.smtpd.send(MSG_Q_RCPT, W().u64(msgid).str(rc))
        for i in range(0, len(data), 32768):
            self.smtpd.send(MSG_Q_DATA, W().u64(msgid).bytes(data[i:i + 32768]))
        self.smtpd.send(MSG_Q_COMMIT, W().u64(msgid).u32(body).u64(len(data)))

    def answer_sign(self, result=RES_OK, header=b"DKIM-Signature: v=1; d=example.com; b=x\r\n",
                    reason="", timeout=10):
        _, p, fd = self.signd.expect(MSG_SIGN, timeout)
        r = R(p)
        req = r.u64()
        ticket = r.bytes()
        assert fd is not None, "MSG_SIGN without a descriptor"
        content = os.read(fd, 1 << 24)
        writable = True
        try:
            os.write(fd, b"x")
        except OSError:
            writable = False
        os.close(fd)
        assert not writable, "signd got a writable descriptor"
        self.signd.send(MSG_SIGN_RES, W().u64(req).u32(result).str(reason)
                        .bytes(header if result == RES_OK else b""))
        return req, ticket, content

    def answer_signs_at_once(self, n, timeout=10):
        """Take n MSG_SIGN requests, then answer them all in one write,
        as a busy signd's answers arrive: queued reads them together."""
        reqs = []
        for _ in range(n):
            _, p, fd = self.signd.expect(MSG_SIGN, timeout)
            if fd is not None:
                os.close(fd)
            reqs.append(R(p).u64())
        data = b""
        for req in reqs:
            pl = W().u64(req).u32(RES_OK).str("").bytes(
                b"DKIM-Signature: v=1; d=example.com; b=x\r\n").data
            data += HDR.pack(MSG_SIGN_RES, len(pl), 0, 0) + pl
        self.signd.sock.sendall(data)

    def commit_res(self, timeout=10):
        _, p, _ = self.smtpd.expect(MSG_Q_COMMIT_RES, timeout)
        r = R(p)
        return r.u64(), r.u32(), r.str(), r.str()

    def submit(self, sender, rcpts, data, token=0, sign=RES_OK, **kw):
        """A whole transaction: (result, queue id, reason)."""
        res, msgid = self.open(sender, token=token)
        assert res == RES_OK
        self.send_message(msgid, rcpts, data)
        self.answer_sign(sign, **kw)
        mid, res, qid, reason = self.commit_res()
        assert mid == msgid
        return res, qid, reason

    # -- relayd ------------------------------------------------------------

    def relay_batch(self, timeout=10):
        _, p, fd = self.relayd.expect(MSG_RELAY_BATCH, timeout)
        r = R(p)
        b = {"batch": r.u64(), "qid": r.str(), "sender": r.str(), "domain": r.str(),
             "body": r.u32(), "size": r.u64()}
        n = r.u32()
        b["rcpts"] = [(r.u32(), r.str()) for _ in range(n)]
        b["prefix"] = r.bytes()
        r.end()
        assert fd is not None
        b["content"] = os.read(fd, 1 << 24)
        os.close(fd)
        return b

    def relay_results(self, b, code, enhanced=None, text="ok", host="mx.sink.test",
                      only=None, done=True):
        status = RELAY_DELIVERED if code < 400 else RELAY_TEMPFAIL if code < 500 else RELAY_PERMFAIL
        enhanced = enhanced or "%d.0.0" % (code // 100)
        for idx, _ in b["rcpts"]:
            if only is not None and idx not in only:
                continue
            self.relayd.send(MSG_RELAY_RESULT, W().u64(b["batch"]).u32(idx).u32(status)
                             .u32(code).str(enhanced).str(host).str("127.0.0.9")
                             .str(text).str(""))
        if done:
            self.relayd.send(MSG_RELAY_DONE, W().u64(b["batch"]))

    # -- control -----------------------------------------------------------

    def ctl(self, cmd, **kv):
        """(status, message, rows) for a control request."""
        self.reqid += 1
        w = W().u32(CTL[cmd]).u32(len(kv))
        for k, v in kv.items():
            w.str(k).str(v)
        self.master.send(MSG_CTL_REQ, w, peerid=self.reqid)
        rows = []
        while True:
            t, peerid, p, _ = self.master.recv(10)
            if t in (MSG_PONG, MSG_READY):
                continue
            assert peerid == self.reqid
            r = R(p)
            if t == MSG_CTL_ROW:
                n = r.u32()
                rows.append(dict((r.str(), r.str()) for _ in range(n)))
            elif t == MSG_CTL_DONE:
                return r.u32(), r.str(), rows


def parse_dsn(content):
    return email.message_from_bytes(content, policy=email.policy.default)
