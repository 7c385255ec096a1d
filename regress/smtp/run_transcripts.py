#!/usr/bin/env python3
"""run_transcripts.py: play the SMTP transcripts of regress/smtp/ against
smtpd and check every reply.

    python3 regress/smtp/run_transcripts.py [--mode M] [FILE.t ...]

Each transcript runs twice (--mode both, the default): once against its
own smtpd started alone with a fake master, authd and queued
(smtpd_alone.py), which is exact about what smtpd itself does and can
script the peers' refusals; and once against a whole posternd
(regress/e2e/postern_test.py), where the same dialogue meets the real
authd, queued and signd.  --mode alone or --mode daemon (or the
environment's POSTERN_TRANSCRIPTS) runs one of them.

A transcript reads like an RFC example.  Lines:

    # text                 a comment
    listener KIND          connect to the plain, starttls or tls listener
    limit NAME VALUE       a postern.conf "limit" line  (before the dialogue)
    timeout NAME VALUE     a postern.conf "timeout" line
    config TEXT            any other postern.conf line
    proxy-from ADDR        the listeners take PROXY headers from ADDR
    token NAME ADDRESS     make a token for ADDRESS; in C: lines {NAME} is
                           the token, {NAME:plain} the AUTH PLAIN response
                           (empty authzid), {NAME:plainz} the same with the
                           authzid equal to the user, {b64:TEXT} the base64
                           of TEXT
    authd tempfail         the fake authd answers "try later"
    queued tempfail|fail|open-fail
                           the fake queued refuses
                           (a transcript with authd, queued or proxy-from
                           runs only against smtpd alone)

    C: TEXT                the client sends TEXT and CRLF
    C> TEXT                the client sends TEXT as it is, with the escapes
                           \\r \\n \\t \\0 \\xNN \\\\, and nothing added
    C* N TEXT              the client sends TEXT (escapes) N times
    S: CODE [TEXT]         the next reply: its last line begins so
    S? TEXT                some line of the last reply says TEXT (after
                           the code)
    S! TEXT                no line of the last reply says TEXT
    TLS                    start TLS now (after "220" to STARTTLS, or at
                           once on an implicit-TLS listener)
    CLOSED                 the server closes the connection
    SILENT SECONDS         no reply comes for that long
    SLOW SECONDS TEXT      send TEXT one octet every SECONDS until the
                           server answers or closes
    SLEEP SECONDS
    CONNECT                a new connection (the old one is closed)
    OPEN                   a new connection, the old one stays open
    CLOSEALL               close the connections OPEN left open
    QUEUED N               smtpd has queued N messages so far
    ABORTED N              (alone only) N messages were aborted so far
    REVOKE NAME            the token is deleted now

Each transcript prints "ok - smtp/NAME" or "not ok - smtp/NAME" and why;
the last line is "N passed, N failed".  With POSTERN_SLOW in the
environment (regress/run.py sets it for a sanitizer build) every duration
-- timeout lines, SLEEP, SILENT, SLOW -- is stretched threefold.
"""
import argparse
import base64
import os
import re
import socket
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "regress", "e2e"))

# A sanitizer build runs several times slower, and regress/run.py sets
# POSTERN_SLOW for it: every duration a transcript names (timeouts,
# pauses, silences, pacing) is stretched alike, so that the margins
# between them grow with the slowness and the dialogue means the same.
SLOW = 3 if os.environ.get("POSTERN_SLOW") else 1
READ_TIMEOUT = 15 * SLOW


def stretch(value):
    """A duration ("3s", "2m", "0.5") times SLOW, in the same unit."""
    m = re.fullmatch(r"\s*([0-9.]+)([a-z]*)\s*", value)
    if SLOW == 1 or not m:
        return value
    n = float(m.group(1)) * SLOW
    return ("%d" % n if n == int(n) else "%g" % n) + m.group(2)


class Fail(Exception):
    pass


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0",
                    "\\": b"\\"}.get(n, ("\\" + n).encode())
            i += 2
            continue
        out += c.encode()
        i += 1
    return bytes(out)


class Conn:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=READ_TIMEOUT)
        self.buf = b""
        self.last = []

    def send(self, data):
        self.sock.sendall(data)

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.buf:
            raise Fail("bytes before the TLS handshake: %r" % self.buf)
        self.sock = ctx.wrap_socket(self.sock)

    def fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            b = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            b = b""
        if not b:
            raise EOFError()
        self.buf += b

    def line(self, timeout=READ_TIMEOUT):
        while b"\n" not in self.buf:
            self.fill(timeout)
        i = self.buf.index(b"\n")
        l, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        if not l.endswith(b"\r\n"):
            raise Fail("reply line without CRLF: %r" % l)
        return l[:-2].decode("utf-8", "replace")

    def reply(self, timeout=READ_TIMEOUT):
        lines = []
        while True:
            try:
                l = self.line(timeout)
            except EOFError:
                raise Fail("connection closed; wanted a reply (got %r)" % lines)
            except socket.timeout:
                raise Fail("no reply within %ss (got %r)" % (timeout, lines))
            if not re.match(r"^\d\d\d([ -]|$)", l):
                raise Fail("malformed reply line %r" % l)
            lines.append(l)
            if len(l) == 3 or l[3] == " ":
                break
        self.last = lines
        return lines

    def closed(self, timeout=READ_TIMEOUT):
        try:
            while True:
                self.fill(timeout)
                if self.buf:
                    raise Fail("data instead of close: %r" % self.buf)
        except EOFError:
            return True
        except socket.timeout:
            raise Fail("the connection is still open after %ss" % timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Transcript:
    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.setup, self.steps = [], []
        with open(path, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                line = raw.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                m = re.match(r"^(C:|C>|C\*|S:|S\?|S!) ?(.*)$", line)
                if m:
                    self.steps.append((n, m.group(1), m.group(2)))
                    continue
                word, _, rest = line.partition(" ")
                if word in ("listener", "limit", "timeout", "config", "token",
                            "authd", "queued", "proxy-from"):
                    self.setup.append((n, word, rest))
                else:
                    self.steps.append((n, word, rest))


def alone_only(t):
    """Transcripts that script the fake peers, or need listener options
    the daemon harness does not write, run only against smtpd alone."""
    return any(word in ("authd", "queued", "proxy-from")
               for n, word, rest in t.setup)


class Runner:
    def __init__(self, t, daemon, build):
        self.t, self.daemon, self.build = t, daemon, build
        self.kind = "plain"
        self.tokens = {}
        self.conn = None
        self.others = []
        self.token_ids = {}

    def expand(self, text):
        def sub(m):
            key = m.group(1)
            if key.startswith("b64:"):
                return base64.b64encode(unescape(key[4:])).decode()
            name, _, form = key.partition(":")
            if name not in self.tokens:
                raise Fail("unknown token {%s}" % key)
            addr, tok = self.tokens[name]
            if form == "plain":
                return base64.b64encode(("\0%s\0%s" % (addr, tok)).encode()).decode()
            if form == "plainz":
                return base64.b64encode(("%s\0%s\0%s" % (addr, addr, tok)).encode()).decode()
            if form == "user":
                return base64.b64encode(addr.encode()).decode()
            if form == "pass":
                return base64.b64encode(tok.encode()).decode()
            return tok
        # Tokens first, so that {b64:...} may hold them.
        text = re.sub(r"\{([A-Za-z0-9_]+(?::[a-z]+)?)\}", sub, text)
        return re.sub(r"\{(b64:[^}]*)\}", sub, text)

    def start(self):
        limits, timeouts, extra, proxy = {}, {}, [], None
        for n, word, rest in self.t.setup:
            if word == "listener":
                self.kind = rest.strip()
            elif word == "limit":
                k, v = rest.split(None, 1)
                limits[k] = v
            elif word == "timeout":
                k, v = rest.split(None, 1)
                timeouts[k] = stretch(v)
            elif word == "config":
                extra.append(rest)
            elif word == "proxy-from":
                proxy = rest.split()
        if self.daemon:
            from postern_test import Postern
            # A DKIM key, so that token mail can be signed and queued.
            extra.append('domain "example.com" {\n'
                         '\tdkim selector s1 algorithm ed25519 active\n}')
            self.d = Postern(plain=True, starttls=True, tls=True, limits=limits,
                             timeouts=timeouts, conf_extra="\n".join(extra),
                             domains=())
            self.d.start()
            self.d.ctl("dkim", "keygen", "example.com")
            self.addr = lambda: (self.d.ip, self.d.ports[self.kind])
            self.log = self.d.log
        else:
            from smtpd_alone import SmtpdAlone
            self.d = SmtpdAlone(self.build, limits=limits, timeouts=timeouts,
                                conf_extra="\n".join(extra), proxy_from=proxy)
            self.d.start()
            self.addr = lambda: self.d.addr(self.kind)
            self.log = lambda: "\n".join(self.d.log())
        for n, word, rest in self.t.setup:
            if word == "token":
                name, addr = rest.split()
                if self.daemon:
                    tok, item = self.d.add_token(addr)
                    self.token_ids[name] = item["id"]
                else:
                    tok = self.d.add_token(addr)
                self.tokens[name] = (addr, tok)
            elif word in ("authd", "queued") and not self.daemon:
                setattr(self.d, word + "_mode", rest.strip())
        self.conn = Conn(self.addr())

    def stop(self):
        for c in self.others + [self.conn]:
            if c:
                c.close()
        if self.daemon:
            self.d.cleanup()
        else:
            self.d.__exit__(None, None, None)

    def count_log(self, needle):
        return self.log().count(needle)

    def step(self, n, op, arg):
        c = self.conn
        if op == "C:":
            c.send(self.expand(arg).encode("utf-8") + b"\r\n")
        elif op == "C>":
            c.send(unescape(self.expand(arg)))
        elif op == "C*":
            k, _, text = arg.partition(" ")
            c.send(unescape(self.expand(text)) * int(k))
        elif op == "S:":
            want = arg.strip()
            got = c.reply()
            if not got[-1].startswith(want):
                raise Fail("wanted %r, got %r" % (want, got))
        elif op == "S?":
            if not any(l[4:].startswith(arg) for l in c.last):
                raise Fail("no %r in %r" % (arg, c.last))
        elif op == "S!":
            if any(l[4:].startswith(arg) for l in c.last):
                raise Fail("%r in %r" % (arg, c.last))
        elif op == "TLS":
            c.starttls()
        elif op == "CLOSED":
            c.closed()
        elif op == "SILENT":
            try:
                c.fill(float(stretch(arg)))
            except socket.timeout:
                return
            except EOFError:
                raise Fail("closed, wanted silence")
            raise Fail("wanted silence, got %r" % c.buf)
        elif op == "SLOW":
            secs, _, text = arg.partition(" ")
            for b in unescape(text):
                try:
                    c.send(bytes([b]))
                except OSError:
                    return
                try:
                    c.fill(float(stretch(secs)))
                    return
                except socket.timeout:
                    continue
                except EOFError:
                    return
        elif op == "SLEEP":
            time.sleep(float(stretch(arg)))
        elif op == "CONNECT":
            c.close()
            self.conn = Conn(self.addr())
        elif op == "CLOSEALL":
            for o in self.others:
                o.close()
            self.others = []
        elif op == "OPEN":
            self.others.append(c)
            self.conn = Conn(self.addr())
        elif op == "QUEUED":
            want = int(arg)
            deadline = time.time() + 5
            while self.count_log(" queued id=") != want and time.time() < deadline:
                time.sleep(0.05)
            if self.count_log(" queued id=") != want:
                raise Fail("%d messages queued, wanted %d" %
                           (self.count_log(" queued id="), want))
        elif op == "ABORTED":
            if not self.daemon:
                deadline = time.time() + 5
                while len(self.d.aborted) != int(arg) and time.time() < deadline:
                    time.sleep(0.05)
                if len(self.d.aborted) != int(arg):
                    raise Fail("%d messages aborted, wanted %s" %
                               (len(self.d.aborted), arg))
        elif op == "REVOKE":
            if self.daemon:
                self.d.ctl("token", "delete", self.token_ids[arg.strip()])
            else:
                self.d.revoke(self.tokens[arg.strip()][1])
        else:
            raise Fail("unknown step %r" % op)

    def run(self):
        self.start()
        try:
            for n, op, arg in self.t.steps:
                try:
                    self.step(n, op, arg)
                except Fail as e:
                    raise Fail("%s:%d: %s %s: %s" % (self.t.name, n, op, arg, e))
            if not self.daemon and not self.d.alive():
                raise Fail("smtpd exited")
        finally:
            self.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("alone", "daemon", "both"),
                    default=os.environ.get("POSTERN_TRANSCRIPTS", "both"))
    ap.add_argument("--build", default=os.environ.get("POSTERN_BUILD",
                                                      os.path.join(TOP, "build")))
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    files = args.files or sorted(
        os.path.join(HERE, f) for f in os.listdir(HERE) if f.endswith(".t"))
    modes = [False, True] if args.mode == "both" else [args.mode == "daemon"]
    passed = failed = 0
    for path, daemon in [(p, m) for m in modes for p in files]:
        t = Transcript(path)
        if daemon and alone_only(t):
            print("# smtp/%s: smtpd alone only, not run in the daemon" % t.name)
            continue
        if daemon:
            t.name += "[daemon]"
        t0 = time.time()
        r = Runner(t, daemon, args.build)
        logtail = ""
        try:
            r.run()
        except Exception as e:
            failed += 1
            print("not ok - smtp/%s (%.1fs)" % (t.name, time.time() - t0))
            for l in str(e).splitlines():
                print("#   " + l)
            try:
                logtail = r.log()
            except Exception:
                pass
            for l in logtail.splitlines()[-25:]:
                print("#   | " + l)
        else:
            passed += 1
            print("ok - smtp/%s (%.1fs)" % (t.name, time.time() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
