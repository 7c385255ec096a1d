"""authd alone, driven through its channels (issue 3).

The test stands in for the master (configuration, secrets, control
requests) and for smtpd (MSG_AUTH_LOGIN, MSG_AUTH_CHECK), speaking the
framed protocol of lib/ipc.h, and runs the real authd binary as root with
its real user and chroot.  So the login check, the token store and the
control answers are tested without the rest of the tree; test_tokens.py
does the same through posternd, posternctl and SMTP.
"""
import hashlib
import hmac
import os
import pwd
import shutil
import signal
import statistics
import struct
import subprocess
import tempfile
import time
import zlib

from ipcpeer import P, R, W, Channel, kv_read, kv_write, socketpair
from postern_test import stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("POSTERN_BUILD", os.path.join(TOP, "build")))
USER = "_postern-auth"

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

CONF = """hostname "mx.postern.test"
test-clock yes
domain "example.com" {
}
domain "restricted.example" {
	local-parts "dev-*" "printer"
}
"""


def authd_binary():
    for p in (os.path.join(BUILD, "authd"), os.path.join(BUILD, "bin", "authd"),
              os.path.join(BUILD, "libexec", "authd")):
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise AssertionError("no authd binary under %s" % BUILD)


def token_ok(tok):
    """The format of lib/token.h, checked independently of the C code."""
    if len(tok) != 38 or not tok.startswith("pstn_"):
        return False
    body, check = tok[5:31], tok[31:]
    if any(c not in ALPHABET for c in body + check):
        return False
    v = 0
    for c in check:
        v = v * 32 + ALPHABET.index(c)
    return v == zlib.crc32(body.encode())


class Authd:
    """One authd process with a fake master and a fake smtpd."""

    def __init__(self, root=None):
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="postern-authd-")
        os.chmod(self.root, 0o755)
        self.authdir = os.path.join(self.root, "auth")
        pw = pwd.getpwnam(USER)
        os.makedirs(self.authdir, exist_ok=True)
        os.chown(self.authdir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.authdir, 0o700)
        self.token_key = os.urandom(32)
        self.ticket_key = os.urandom(32)
        self.proc = None
        self.reqid = 0
        self.logpath = os.path.join(self.root, "authd.log")

    def start(self, token_key=None):
        if token_key is not None:
            self.token_key = token_key
        mine, theirs = socketpair()
        smtpd_mine, smtpd_theirs = socketpair()
        self.logf = open(self.logpath, "ab")
        fd = theirs.fileno()

        def child():
            os.dup2(fd, 3)
        self.proc = subprocess.Popen(
            [authd_binary(), "-r", self.authdir, "-u", USER, "-v"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.logf, preexec_fn=child, pass_fds=(3,))
        theirs.close()
        self.master = Channel(mine)
        self.smtpd = Channel(smtpd_mine)
        m = self.master
        m.send(P.MSG_CONF_BEGIN, 0, W().str("postern.conf").data)
        m.send(P.MSG_CONF_DATA, 0, W().bytes(CONF.encode()).data)
        m.send(P.MSG_CONF_END, 0)
        m.send(P.MSG_PEER_CHANNEL, 0, W().u32(P.PROC_SMTPD).data,
               fd=smtpd_theirs.fileno())
        smtpd_theirs.close()
        m.send(P.MSG_SECRET, 0, W().u32(P.SECRET_TOKEN_KEY).bytes(self.token_key).data)
        m.send(P.MSG_SECRET, 0, W().u32(P.SECRET_TICKET_KEY).bytes(self.ticket_key).data)
        m.send(P.MSG_START, 0)
        msg = m.recv(15)
        assert msg.type == P.MSG_READY, (msg, self.log())
        return self

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        rc = stop_process(self.proc, 15, sig)
        self.master.close()
        self.smtpd.close()
        self.logf.close()
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        if self.own_root and not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            print("# authd log (tail):")
            for line in self.log()[-3000:].splitlines():
                print("#   " + line)
        self.cleanup()
        return False

    # -- the master's side ----------------------------------------------

    def ctl_send(self, cmd, **kv):
        self.reqid += 1
        pairs = [(k, v) for k, v in kv.items() if v is not None]
        self.master.send(P.MSG_CTL_REQ, self.reqid,
                         kv_write(W().u32(cmd), pairs).data)
        return self.reqid

    def ctl_wait(self, reqid, timeout=30):
        rows = []
        while True:
            msg = self.master.recv(timeout)
            if msg.peerid != reqid:
                raise AssertionError("answer to %d, not %d" % (msg.peerid, reqid))
            r = R(msg.payload)
            if msg.type == P.MSG_CTL_ROW:
                rows.append(dict(kv_read(r)))
                r.end()
            elif msg.type == P.MSG_CTL_DONE:
                status, text = r.u32(), r.str()
                r.end()
                return status, text, rows
            else:
                raise AssertionError("unexpected message %d" % msg.type)

    def ctl(self, cmd, **kv):
        return self.ctl_wait(self.ctl_send(cmd, **kv))

    def add(self, address, name="device", account=None):
        status, text, rows = self.ctl(P.CTL_TOKEN_ADD, name=name, address=address,
                                      account=account)
        assert status == 0, text
        assert len(rows) == 1
        return rows[0]

    def list(self, **kv):
        status, text, rows = self.ctl(P.CTL_TOKEN_LIST, **kv)
        assert status == 0, text
        return rows

    # -- smtpd's side ---------------------------------------------------

    def login(self, user, token, client="192.0.2.1", session=1):
        if isinstance(token, str):
            token = token.encode()
        self.smtpd.send(P.MSG_AUTH_LOGIN, 9,
                        W().u64(session).str(user).bytes(token).str(client).data)
        msg = self.smtpd.recv()
        assert msg.type == P.MSG_AUTH_LOGIN_RES and msg.peerid == 9, msg
        r = R(msg.payload)
        out = (r.u64(), r.u32(), r.u64(), r.str(), r.bytes())
        r.end()
        assert out[0] == session
        return out[1:]

    def check(self, tokid, session=1):
        self.smtpd.send(P.MSG_AUTH_CHECK, 4, W().u64(session).u64(tokid).data)
        msg = self.smtpd.recv()
        assert msg.type == P.MSG_AUTH_CHECK_RES, msg
        r = R(msg.payload)
        sid, res = r.u64(), r.u32()
        r.end()
        assert sid == session
        return res


def ticket_fields(key, t):
    """lib/ticket.h's layout, verified here with Python's own HMAC."""
    body, mac = t[:-32], t[-32:]
    want = hmac.new(key, b"postern-ticket-1\0" + body, hashlib.sha256).digest()
    assert hmac.compare_digest(mac, want), "ticket MAC"
    version, session, tokid, expiry, alen = struct.unpack(">BQQqH", body[:27])
    assert version == 1 and alen == len(body) - 27
    return session, tokid, expiry, body[27:].decode()


# ---------------------------------------------------------------------------


def test_runs_as_its_user_in_its_chroot():
    with Authd() as a:
        pid = a.proc.pid
        assert os.readlink("/proc/%d/root" % pid) == a.authdir
        with open("/proc/%d/status" % pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        assert set(uids) == {str(pwd.getpwnam(USER).pw_uid)}, uids
        # The store is there, owned by authd's user, readable by no one else.
        files = os.listdir(a.authdir)
        assert "tokens.db" in files and "by_hash.db" in files, files
        for f in files:
            st = os.stat(os.path.join(a.authdir, f))
            assert st.st_mode & 0o077 == 0, (f, oct(st.st_mode))


def test_add_login_ticket_list():
    with Authd() as a:
        row = a.add("scans@example.com", "office printer", account="cust-42")
        tok = row["token"]
        assert token_ok(tok), tok
        assert len(row["id"]) == 16 and int(row["id"], 16) != 0
        assert row["address"] == "scans@example.com"
        assert row["name"] == "office printer"
        assert row["account"] == "cust-42"
        assert row["last_used"] == "never"
        assert row["created"].endswith("Z") and "T" in row["created"]

        t0 = int(time.time())
        res, tokid, addr, ticket = a.login("scans@example.com", tok,
                                           client="198.51.100.7", session=77)
        assert res == P.RES_OK
        assert tokid == int(row["id"], 16)
        assert addr == "scans@example.com"
        session, tid, expiry, taddr = ticket_fields(a.ticket_key, ticket)
        assert (session, tid, taddr) == (77, tokid, "scans@example.com")
        # As long as a session may last (timeout session, 1h by default)
        # and the signing of its last message (5 minutes): a ticket of a
        # deleted token is good no longer than that.
        assert t0 + 3900 - 5 <= expiry <= t0 + 3900 + 5, expiry - t0

        rows = a.list()
        assert len(rows) == 1
        r = rows[0]
        assert "token" not in r
        assert r["last_client"] == "198.51.100.7"
        assert r["last_used"] != "never"
        assert set(r) == {"id", "name", "address", "account", "created",
                          "last_used", "last_client"}
        assert a.check(tokid) == P.RES_OK


def test_wrong_logins_fail_alike():
    with Authd() as a:
        tok = a.add("scans@example.com")["token"]
        other = a.add("wp@example.com", "wordpress")["token"]
        # a well-formed token that does not exist
        rnd = "pstn_" + "".join(ALPHABET[b & 31] for b in os.urandom(26))
        v = zlib.crc32(rnd[5:].encode())
        rnd += "".join(ALPHABET[(v >> (5 * i)) & 31] for i in range(6, -1, -1))
        assert token_ok(rnd)
        mistyped = tok[:10] + ("a" if tok[10] != "a" else "b") + tok[11:]
        cases = [
            ("scans@example.com", rnd),              # wrong token
            ("nobody@example.com", tok),             # unknown user
            ("wp@example.com", tok),                 # someone else's token
            ("scans@example.com", other),
            ("scans@example.com", "hunter2"),        # an account password
            ("scans@example.com", mistyped),         # a typing mistake
            ("scans@example.com", tok + "x"),
            ("scans@example.com", ""),
            ("", tok),
            ("scans", tok),
            ("scans@example.com\r\nRCPT", tok),
        ]
        for user, t in cases:
            out = a.login(user, t)
            assert out == (P.RES_FAIL, 0, "", b""), (user, t, out)
        # The one right answer still works, and the failures were logged
        # with the client address for fail2ban.
        assert a.login("scans@example.com", tok)[0] == P.RES_OK
        assert "login failed" in a.log() and "client=192.0.2.1" in a.log()


def test_same_timing_unknown_user_and_wrong_token():
    with Authd() as a:
        tok = a.add("scans@example.com")["token"]
        rnd = tok[:5] + "".join(reversed(tok[5:31]))
        v = zlib.crc32(rnd[5:].encode())
        rnd += "".join(ALPHABET[(v >> (5 * i)) & 31] for i in range(6, -1, -1))

        def median(user, t):
            times = []
            for _ in range(60):
                t0 = time.perf_counter()
                assert a.login(user, t)[0] == P.RES_FAIL
                times.append(time.perf_counter() - t0)
            return statistics.median(times)
        unknown_user = median("nobody@example.com", tok)
        wrong_token = median("scans@example.com", rnd)
        # Both do the same work; allow for scheduling noise only.
        assert abs(unknown_user - wrong_token) < 0.002, (unknown_user, wrong_token)


def test_address_case_and_username_forms():
    with Authd() as a:
        row = a.add("Scans@Example.COM", "p1")
        assert row["address"] == "scans@example.com"
        # names are unique per address, whatever its case
        st, text, _ = a.ctl(P.CTL_TOKEN_ADD, name="p1", address="SCANS@example.com")
        assert st != 0 and "already has a token" in text, text
        for user in ("scans@example.com", "SCANS@EXAMPLE.COM", "Scans@example.com"):
            assert a.login(user, row["token"])[0] == P.RES_OK, user


def test_bad_input_is_refused_and_nothing_stored():
    with Authd() as a:
        a.add("scans@example.com", "office printer")
        bad = [
            dict(name="", address="scans@example.com"),
            dict(name="x" * 128, address="scans@example.com"),
            dict(name="tab\there", address="scans@example.com"),
            dict(name="nl\nhere", address="scans@example.com"),
            dict(name=" lead", address="scans@example.com"),
            dict(name=b"bad \xff utf8", address="scans@example.com"),
            dict(name=b"c1 \xc2\x85 control", address="scans@example.com"),
            dict(name="ok", address=""),
            dict(name="ok", address="not an address"),
            dict(name="ok", address="scans@"),
            dict(name="ok", address="@example.com"),
            dict(name="ok", address="a@b@example.com"),
            dict(name="ok", address="scans@example.org"),          # unconfigured
            dict(name="ok", address="scans@sub.example.com"),
            dict(name="ok", address="boss@restricted.example"),     # local part
            dict(name="ok", address="x" * 400 + "@example.com"),
            dict(name="office printer", address="scans@example.com"),  # dup
            dict(name="ok", address="scans@example.com", account="has space"),
            dict(name="ok", address="scans@example.com", account=""),
            dict(name="ok", address="scans@example.com", extra="1"),
            dict(address="scans@example.com"),
            dict(name="ok"),
        ]
        for kv in bad:
            st, text, rows = a.ctl(P.CTL_TOKEN_ADD, **kv)
            assert st != 0 and text and rows == [], (kv, st, text)
        assert len(a.list()) == 1
        # Allowed local parts of a restricted domain.
        a.add("dev-7@restricted.example")
        a.add("printer@restricted.example")
        assert len(a.list()) == 3
        # The master filters control characters too; authd does not rely
        # on it, and it is still running.
        assert a.proc.poll() is None


def test_delete_revokes_at_once():
    with Authd() as a:
        r1 = a.add("scans@example.com", "one")
        r2 = a.add("scans@example.com", "two")
        r3 = a.add("wp@example.com", "three")
        id1 = int(r1["id"], 16)
        assert a.login("scans@example.com", r1["token"])[0] == P.RES_OK
        assert a.check(id1, session=5) == P.RES_OK

        st, text, rows = a.ctl(P.CTL_TOKEN_DELETE, id=r1["id"])
        assert st == 0, text
        assert rows[0]["id"] == r1["id"]
        # The session that logged in with it can start no new transaction.
        assert a.check(id1, session=5) == P.RES_FAIL
        assert a.login("scans@example.com", r1["token"])[0] == P.RES_FAIL
        # Others are untouched.
        assert a.login("scans@example.com", r2["token"])[0] == P.RES_OK

        st, text, _ = a.ctl(P.CTL_TOKEN_DELETE, address="SCANS@example.com", name="two")
        assert st == 0, text
        assert a.login("scans@example.com", r2["token"])[0] == P.RES_FAIL

        for kv in (dict(id=r1["id"]), dict(id="0123456789abcdef"), dict(id="xyz"),
                   dict(id=""), dict(id="1" * 17), dict(address="wp@example.com", name="nope"),
                   dict(address="nobody@example.com", name="three"),
                   dict(address="wp@example.com"), dict(name="three"),
                   dict(id=r3["id"], address="wp@example.com", name="three"), dict()):
            st, text, rows = a.ctl(P.CTL_TOKEN_DELETE, **kv)
            assert st != 0 and text and rows == [], (kv, text)
        assert [r["id"] for r in a.list()] == [r3["id"]]
        assert a.check(0) == P.RES_FAIL


def test_list_filters_and_long_lists():
    with Authd() as a:
        for i in range(3):
            a.add("scans@example.com", "s%d" % i, account="cust-1")
        a.add("wp@example.com", "w", account="cust-2")
        a.add("fax@example.com", "f")
        assert len(a.list()) == 5
        assert [r["name"] for r in a.list(address="scans@example.com")] == ["s0", "s1", "s2"]
        assert [r["name"] for r in a.list(address="Scans@Example.com")] == ["s0", "s1", "s2"]
        assert len(a.list(account="cust-1")) == 3
        assert len(a.list(account="cust-2", address="wp@example.com")) == 1
        assert a.list(account="cust-2", address="scans@example.com") == []
        assert a.list(address="nobody@example.com") == []
        # an address in a domain no longer configured can still be listed
        assert a.list(address="x@example.org") == []
        st, text, _ = a.ctl(P.CTL_TOKEN_LIST, address="bad address")
        assert st != 0

        # Many tokens: several pages, every one once, each row one message.
        for i in range(700):
            st, text, _ = a.ctl(P.CTL_TOKEN_ADD, name="bulk %03d" % i,
                                address="bulk@example.com")
            assert st == 0, text
        rows = a.list(address="bulk@example.com")
        assert len(rows) == 700
        assert len({r["id"] for r in rows}) == 700
        st, text, rows = a.ctl(P.CTL_TOKEN_LIST)
        assert st == 0 and len(rows) == 705 and "705" in text, text


def test_logins_served_during_a_long_listing():
    with Authd() as a:
        tok = a.add("scans@example.com")["token"]
        for i in range(1500):
            a.ctl(P.CTL_TOKEN_ADD, name="n%d" % i, address="many@example.com")
        # Ask for the list and, before reading it, log in: authd pages the
        # list and answers the login in between.
        reqid = a.ctl_send(P.CTL_TOKEN_LIST)
        assert a.login("scans@example.com", tok)[0] == P.RES_OK
        st, text, rows = a.ctl_wait(reqid)
        assert st == 0 and len(rows) == 1501


def test_restart_keeps_tokens_and_last_use():
    a = Authd()
    try:
        a.start()
        row = a.add("scans@example.com")
        assert a.login("scans@example.com", row["token"], client="203.0.113.9")[0] == P.RES_OK
        assert a.stop() == 0        # SIGTERM: the last use is written
        a.start()
        rows = a.list()
        assert len(rows) == 1 and rows[0]["last_client"] == "203.0.113.9"
        assert a.login("scans@example.com", row["token"])[0] == P.RES_OK
    finally:
        a.cleanup()


def test_kill9_during_token_adds():
    a = Authd()
    try:
        a.start()
        # Pipeline many adds, read some answers, kill -9 in the middle.
        ids = [a.ctl_send(P.CTL_TOKEN_ADD, name="k%03d" % i, address="kill@example.com")
               for i in range(200)]
        reported = []
        for reqid in ids[:40]:
            st, text, rows = a.ctl_wait(reqid)
            assert st == 0, text
            reported.append(rows[0])
        a.stop(signal.SIGKILL)

        a.start()       # same key, same directory: recovery runs
        rows = {r["name"]: r for r in a.list(address="kill@example.com")}
        # Every creation that was reported is there and works.
        for r in reported:
            assert r["name"] in rows, r["name"]
            assert a.login("kill@example.com", r["token"])[0] == P.RES_OK
        # Whatever else is there is complete.
        for r in rows.values():
            assert len(r["id"]) == 16 and r["address"] == "kill@example.com"
            assert r["created"].endswith("Z")
        assert len(rows) <= 200
        # and the store still takes new tokens and refuses duplicates
        a.add("kill@example.com", "after")
        st, _, _ = a.ctl(P.CTL_TOKEN_ADD, name="k000", address="kill@example.com")
        assert st != 0
    finally:
        a.cleanup()


def test_wrong_token_key_after_restart_refuses_all():
    a = Authd()
    try:
        a.start()
        tok = a.add("scans@example.com")["token"]
        a.stop()
        a.start(token_key=os.urandom(32))
        assert a.login("scans@example.com", tok)[0] == P.RES_FAIL
    finally:
        a.cleanup()


def test_malformed_smtpd_message_ends_authd():
    with Authd() as a:
        # A login whose payload breaks the layout: a protocol error.
        a.smtpd.send(P.MSG_AUTH_LOGIN, 1, W().u64(1).u32(1000).data + b"x" * 20)
        rc = a.proc.wait(10)
        assert rc != 0
        assert "protocol error" in a.log() or "malformed" in a.log(), a.log()
