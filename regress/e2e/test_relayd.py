"""test_relayd: outbound delivery through the whole daemon.

Mail goes in through smtpd's plain loopback listener and comes out of
relayd at real receiving servers on loopback: Python aiosmtpd sinks
(regress/tools/sink.py), Postfix's smtp-sink, and a few small scripted
servers here for what those cannot do (a broken STARTTLS, thousands of
reply lines).  MX routing uses a real unbound(8) started by the test on a
loopback address, serving one static zone (and nothing else: it never
asks the Internet), with a SERVFAIL responder for one subdomain.  The MX
hosts listen on port 25 of their own loopback addresses.
"""
import os
import re
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time

from postern_test import (CACHE, Postern, Sink, free_port, pick_ip, stop_process,
                          tls_files, wait_for, wait_listening)

MSG = (b"From: dev@example.com\r\n"
       b"To: someone@dest.test\r\n"
       b"Subject: relay test\r\n"
       b"\r\n"
       b"Hello.\r\n"
       b".a leading dot\r\n"
       b"..two\r\n"
       b"last line\r\n")

MSG8 = MSG.replace(b"Hello.", "Grüße.".encode())


def body(raw):
    return raw.split(b"\r\n\r\n", 1)[1]


# -- servers started here ---------------------------------------------------

class Server:
    """What the servers below share: `with', the URL, and waiting for a
    process to listen / stopping it by PID."""
    proc = None

    def url(self):
        return '"smtp://%s:%d"' % (self.ip, self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def wait_listening(self, what):
        wait_listening(self.ip, self.port, self.proc, what)

    def stop_proc(self):
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None


# -- DNS ------------------------------------------------------------------

class ServfailResponder(threading.Thread):
    """Answers every DNS query with SERVFAIL (a dead upstream would make
    unbound wait half a minute)."""

    def __init__(self, ip):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.sock.settimeout(0.2)
        self.ip, self.port = self.sock.getsockname()
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            r = bytearray(data)
            r[2] = 0x80 | (data[2] & 0x01)
            r[3] = 0x82
            self.sock.sendto(bytes(r), addr)

    def stop(self):
        self.stopping = True
        self.join(2)
        self.sock.close()


class Unbound(Server):
    """unbound(8) on its own loopback address, serving `records' in a
    static root zone: everything else is NXDOMAIN, nothing leaves the
    machine.  "sf.<zone>" is forwarded to a SERVFAIL responder."""

    def __init__(self, records, servfail_zone=None):
        self.ip = pick_ip()
        self.port = free_port(self.ip)
        self.dir = tempfile.mkdtemp(prefix="postern-unbound-")
        self.records = records
        self.servfail_zone = servfail_zone
        self.proc = None
        self.sf = None

    def start(self):
        lines = ["server:",
                 '\tchroot: ""', '\tusername: ""',
                 '\tdirectory: "%s"' % self.dir,
                 '\tpidfile: "%s/pid"' % self.dir,
                 "\tinterface: %s" % self.ip, "\tport: %d" % self.port,
                 "\tdo-daemonize: no", "\tuse-syslog: no",
                 '\tlogfile: "%s/log"' % self.dir, "\tverbosity: 1",
                 "\tnum-threads: 1", "\tdo-not-query-localhost: no",
                 "\taccess-control: 127.0.0.0/8 allow",
                 '\tauto-trust-anchor-file: ""',
                 '\tlocal-zone: "." static']
        for r in self.records:
            lines.append('\tlocal-data: "%s"' % r)
        if self.servfail_zone:
            self.sf = ServfailResponder(self.ip)
            self.sf.start()
            lines += ['\tlocal-zone: "%s." transparent' % self.servfail_zone,
                      "forward-zone:",
                      '\tname: "%s."' % self.servfail_zone,
                      "\tforward-addr: %s@%d" % (self.ip, self.sf.port)]
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["unbound", "-d", "-c", conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.wait_listening("unbound")
        return self

    def log(self):
        try:
            return open(os.path.join(self.dir, "log")).read()
        except OSError:
            return ""

    def stop(self):
        self.stop_proc()
        if self.sf:
            self.sf.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RelayPostern(Postern):
    """Postern resolving with our unbound."""

    def __init__(self, dns=None, **kw):
        super().__init__(**kw)
        if dns is not None:
            with open(self.conf) as f:
                text = f.read()
            text = text.replace("resolver 127.0.0.1 port 53",
                                "resolver %s port %d" % (dns.ip, dns.port))
            with open(self.conf, "w") as f:
                f.write(text)

    def send(self, rcpts, msg=MSG, sender="dev@example.com", n=1):
        s = self.smtp()
        s.ehlo("client.test")
        for _ in range(n):
            s.sendmail(sender, rcpts, msg)
        s.quit()

    def retry(self, rcpt):
        """Once queued has recorded rcpt as deferred, move the clock past
        the back-off and flush the queue."""
        self.wait_log(r"queued\[\d+\]: queued: id=\S+ to=<%s> .*status=deferred" %
                      re.escape(rcpt))
        self.ctl("clock", "advance", "86400")
        self.ctl("queue", "flush")


def relayd_count(p, what):
    """How many of relayd's per-recipient lines say `what'."""
    return len(re.findall(r"relayd\[\d+\]: id=\S+ to=<.*%s" % re.escape(what),
                          p.log()))


def mx_sink(**kw):
    """An aiosmtpd sink on port 25 of its own address (an MX host)."""
    return Sink(ip=pick_ip(), port=25, **kw)


# -- Postfix's smtp-sink --------------------------------------------------

SMTP_SINK = os.path.join(CACHE, "postfix", "usr", "sbin", "smtp-sink")


class PostfixSink(Server):
    """smtp-sink(1) from the Postfix package (unpacked by regress/setup),
    dumping each message to a file."""

    def __init__(self, args=()):
        self.ip = pick_ip()
        self.port = free_port(self.ip)
        self.dir = tempfile.mkdtemp(prefix="postern-smtp-sink-")
        os.chmod(self.dir, 0o777)
        self.args = list(args)
        self.proc = None

    @staticmethod
    def available():
        return os.access(SMTP_SINK, os.X_OK)

    def start(self):
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(
            CACHE, "postfix", "usr", "lib", "postfix"))
        self.logf = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-d", os.path.join(self.dir, "%M.")] +
            self.args + ["%s:%d" % (self.ip, self.port), "64"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=self.logf)
        self.wait_listening("smtp-sink")
        return self

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name != "log":
                with open(os.path.join(self.dir, name), "rb") as f:
                    out.append(f.read())
        return out

    def stop(self):
        self.stop_proc()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- scripted servers -------------------------------------------------------

class Scripted(Server):
    """A tiny SMTP server run by a function per connection, in a thread:
    fn(conn_number, sock_file_reader, send)."""

    def __init__(self, fn, ip=None, port=None):
        self.ip = ip or pick_ip()
        self.port = port or free_port(self.ip)
        self.fn = fn
        self.conns = 0
        self.seen = []          # every command line received

    def start(self):
        outer = self

        class H(socketserver.StreamRequestHandler):
            def handle(self):
                outer.conns += 1
                n = outer.conns

                def send(text):
                    self.wfile.write(text.encode() if isinstance(text, str) else text)
                    self.wfile.flush()

                def readline():
                    line = self.rfile.readline(100000)
                    if line:
                        outer.seen.append(line.decode("latin-1").rstrip("\r\n"))
                    return line
                try:
                    outer.fn(n, readline, send, self)
                except (OSError, ValueError):
                    pass

        class S(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = S((self.ip, self.port), H)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def accept_mail(readline, send, ehlo_extra=""):
    """Play a plain accepting server from after the greeting."""
    while True:
        line = readline()
        if not line:
            return
        cmd = line[:4].upper()
        if cmd == b"EHLO":
            send("250-scripted\r\n%s250 8BITMIME\r\n" % ehlo_extra)
        elif cmd == b"DATA":
            send("354 go\r\n")
            while readline() not in (b".\r\n", b""):
                pass
            send("250 2.0.0 accepted\r\n")
        elif cmd == b"QUIT":
            send("221 bye\r\n")
            return
        else:
            send("250 ok\r\n")


# -- the tests ---------------------------------------------------------------

def test_mx_priority_and_fallback():
    """The best MX refuses (421 to EHLO): the next one gets the mail."""
    with mx_sink(args=["--reply", "EHLO=421"]) as first, mx_sink() as second:
        records = ["mx.rt. MX 10 mx1.rt.", "mx.rt. MX 20 mx2.rt.",
                   "mx1.rt. A %s" % first.ip, "mx2.rt. A %s" % second.ip]
        with Unbound(records) as dns, RelayPostern(dns=dns) as p:
            p.send(["user@mx.rt"])
            msgs = second.wait_messages(1)
            assert body(msgs[0][1]) == body(MSG)
            assert msgs[0][0]["rcpt_tos"] == ["user@mx.rt"]
            assert first.messages() == []
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<user@mx.rt> .*status=sent.*")[0]
            assert "relay=mx2.rt[%s]:25" % second.ip in line, line
            assert "dsn=2.0.0" in line and "delay=" in line, line
            # The refusal was logged, with the first host's name.
            p.wait_log(r"relayd\[\d+\]: id=\S+: host mx1.rt\[%s\]:25 refused" %
                       re.escape(first.ip))


def test_mx_first_host_down():
    """Nothing listens at the best MX: connection refused, next one."""
    down = pick_ip()
    with mx_sink() as second:
        records = ["mx.rt. MX 5 mx1.rt.", "mx.rt. MX 50 mx2.rt.",
                   "mx1.rt. A %s" % down, "mx2.rt. A %s" % second.ip]
        with Unbound(records) as dns, RelayPostern(dns=dns) as p:
            p.send(["user@mx.rt"])
            second.wait_messages(1)
            p.wait_log(r"connect to mx1.rt\[%s\]:25" % re.escape(down))


def test_no_mx_uses_address_record():
    with mx_sink() as sink:
        with Unbound(["plain.rt. A %s" % sink.ip]) as dns, \
                RelayPostern(dns=dns) as p:
            p.send(["user@plain.rt"])
            sink.wait_messages(1)
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<user@plain.rt> relay=plain.rt\[%s\]:25 .*status=sent" %
                       re.escape(sink.ip))


def test_null_mx_bounces_at_once():
    with Unbound(["null.rt. MX 0 ."]) as dns, RelayPostern(dns=dns) as p:
        p.send(["user@null.rt"])
        line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<user@null.rt> relay=none .*status=bounced.*")[0]
        assert "dsn=5.1.10" in line and "null MX" in line, line


def test_nxdomain_bounces():
    with Unbound(["other.rt. A 127.0.0.1"]) as dns, RelayPostern(dns=dns) as p:
        p.send(["user@nowhere.rt"])
        line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<user@nowhere.rt> .*status=bounced.*")[0]
        assert "dsn=5.1.2" in line, line


def test_servfail_defers_then_delivers():
    with mx_sink() as sink:
        with Unbound(["ok.rt. A %s" % sink.ip], servfail_zone="sf.rt") as dns, \
                RelayPostern(dns=dns) as p:
            p.send(["user@x.sf.rt", "other@ok.rt"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<user@x.sf.rt> .*status=deferred.*")[0]
            assert "dsn=4.4.3" in line and "SERVFAIL" in line, line
            sink.wait_messages(1)
            assert "status=bounced" not in p.log()


def test_connection_reuse_and_domain_limit():
    """An idle connection carries the next message (RSET between); with
    concurrency-per-domain 1 every message shares one connection; with a
    slow sink and 2, never more than two connections."""
    with Sink() as sink:
        with RelayPostern(relay=sink.url()) as p:
            p.send(["a@dest.test"])
            sink.wait_messages(1)
            p.send(["b@dest.test"])
            msgs = sink.wait_messages(2)
            assert msgs[0][0]["peer"] == msgs[1][0]["peer"], msgs
    with Sink() as sink:
        with RelayPostern(relay=sink.url(),
                          queue={"concurrency-per-domain": "1"}) as p:
            p.send(["a@dest.test"], n=4)
            msgs = sink.wait_messages(4)
            assert len({tuple(env["peer"]) for env, _ in msgs}) == 1, msgs
            assert relayd_count(p, "status=sent") == 4
    with Sink(args=["--delay", "EOM=1"]) as sink:
        with RelayPostern(relay=sink.url(),
                          queue={"concurrency-per-domain": "2"}) as p:
            for i in range(3):
                p.send(["r%d@dest.test" % i], n=2)
            msgs = sink.wait_messages(6, timeout=40)
            peers = {tuple(env["peer"]) for env, _ in msgs}
            assert 1 <= len(peers) <= 2, peers


def test_smtp_sink_pipelining_and_refusals():
    """Postfix's smtp-sink: several recipients in one pipelined
    transaction; then refusals it is told to make."""
    if not PostfixSink.available():
        print("# smtp-sink not available (regress/setup fetches it): skipped")
        return
    with PostfixSink() as ps:
        with RelayPostern(relay=ps.url()) as p:
            p.send(["a@dest.test", "b@dest.test", "c@dest.test"])
            wait_for(lambda: len(ps.messages()) == 1, 20, "smtp-sink message")
            raw = ps.messages()[0]
            assert body(MSG) in raw.replace(b"\n", b"\r\n") or b"Hello." in raw
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<c@dest.test> .*status=sent", count=1)
            assert relayd_count(p, "status=sent") == 3
    with PostfixSink(["-r", "RCPT"]) as ps:
        with RelayPostern(relay=ps.url()) as p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
            assert "dsn=4." in line, line
    with PostfixSink(["-f", "RCPT"]) as ps:
        with RelayPostern(relay=ps.url()) as p:
            p.send(["a@dest.test"])
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*dsn=5\.\S+ status=bounced")
    with PostfixSink(["-Q", "DATA"]) as ps:
        with RelayPostern(relay=ps.url()) as p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
            assert "(421 " in line, line


def test_no_8bitmime_fails_8bit_message():
    if not PostfixSink.available():
        print("# smtp-sink not available: skipped")
        return
    with PostfixSink(["-8", "-p"]) as ps:
        with RelayPostern(relay=ps.url()) as p:
            p.send(["seven@dest.test"])
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<seven@dest.test> .*status=sent")
            p.send(["eight@dest.test"], msg=MSG8)
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<eight@dest.test> .*status=bounced.*")[0]
            assert "dsn=5.6.3" in line and "8BITMIME" in line, line
            # (the bounce to dev@example.com goes there too)
            assert not any("Grüße".encode() in m for m in ps.messages())


def test_starttls_to_sink():
    cert, key = tls_files()
    with Sink(args=["--tls", "%s,%s" % (cert, key)]) as sink:
        with RelayPostern(relay=sink.url()) as p:
            p.send(["a@dest.test"])
            env, raw = sink.wait_messages(1)[0]
            assert env["tls"] is True
            assert body(raw) == body(MSG)
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=sent tls=TLSv1\.[23]")


def test_smarthost_tls_verify_and_required():
    """relay via URL tls verify: a smarthost whose certificate does not
    verify (self-signed) gets nothing and the message waits; with tls
    required the same server gets it, over TLS."""
    cert, key = tls_files()
    with Sink(args=["--tls", "%s,%s" % (cert, key)]) as sink:
        with RelayPostern(relay=sink.url() + " tls verify") as p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
            assert "dsn=4." in line and "certificate" in line, line
            assert sink.messages() == []
        with RelayPostern(relay=sink.url() + " tls required") as p:
            p.send(["b@dest.test"])
            env, raw = sink.wait_messages(1)[0]
            assert env["tls"] is True and env["rcpt_tos"] == ["b@dest.test"], env
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<b@dest.test> .*status=sent tls=TLSv1\.[23]")


def test_route_override_and_tls_required():
    """A route sends one domain elsewhere; "tls required" to a server
    without STARTTLS defers."""
    with Sink() as smarthost, Sink() as routed, Sink() as plain:
        extra = ('route routed.test via %s\n'
                 'route secure.test via %s tls required\n' %
                 (routed.url(), plain.url()))
        with RelayPostern(relay=smarthost.url(), conf_extra=extra) as p:
            p.send(["x@routed.test"])
            p.send(["y@other.test"])
            p.send(["z@secure.test"])
            routed.wait_messages(1)
            smarthost.wait_messages(1)
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<z@secure.test> .*status=deferred.*")[0]
            assert "dsn=4.7.4" in line and "STARTTLS" in line, line
            assert plain.messages() == []


def test_close_in_data_defers():
    with Sink(args=["--close-in-data"]) as sink:
        with RelayPostern(relay=sink.url()) as p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
            assert "lost connection" in line, line


def test_slow_server_times_out():
    with Sink(args=["--delay", "MAIL=5"]) as sink:
        with RelayPostern(relay=sink.url(),
                          timeouts={"relay-command": "1s"}) as p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*", timeout=20)[0]
            assert "timed out" in line, line


def test_hostile_replies_defer_without_crash():
    def many_lines(n, readline, send, h):
        send("220 hostile\r\n")
        readline()
        send("".join("250-LINE%d\r\n" % i for i in range(20000)) + "250 ok\r\n")
        readline()

    def long_line(n, readline, send, h):
        send("220 " + "x" * 100000 + "\r\n")
        readline()

    def garbage(n, readline, send, h):
        send(b"\x00\xff\x16\x03\x01 binary junk\r\n")
        readline()

    for fn in (many_lines, long_line, garbage):
        with Scripted(fn) as srv:
            with RelayPostern(relay=srv.url()) as p:
                p.send(["a@dest.test"])
                line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
                assert "dsn=4." in line, line
                assert p.proc.poll() is None and p.children().get("relayd"), \
                    "relayd died"


def test_failed_starttls_then_plain_next_time():
    """A server offers STARTTLS but cannot do TLS: that attempt defers,
    and the next one to it goes in the clear."""
    def broken_tls(n, readline, send, h):
        send("220 broken\r\n")
        accept_starttls = True
        while True:
            line = readline()
            if not line:
                return
            cmd = line[:8].upper()
            if cmd.startswith(b"EHLO"):
                send("250-broken\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
            elif cmd == b"STARTTLS" and accept_starttls:
                send("220 go ahead\r\n")
                h.rfile.read1(4096)                     # the ClientHello
                send(b"\x15\x03\x03\x00\x02\x02\x28")   # a TLS alert, no handshake
                return
            elif cmd[:4] == b"DATA":
                send("354 go\r\n")
                while readline() not in (b".\r\n", b""):
                    pass
                send("250 2.0.0 accepted in the clear\r\n")
            elif cmd[:4] == b"QUIT":
                send("221 bye\r\n")
                return
            else:
                send("250 ok\r\n")

    with Scripted(broken_tls) as srv:
        with RelayPostern(relay=srv.url()) as p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
            assert "dsn=4.7.5" in line and "TLS" in line, line
            p.retry("a@dest.test")
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=sent.*", timeout=30)[0]
            assert "tls=none" in line, line
            assert srv.seen.count("STARTTLS") == 1, srv.seen


def test_credentials_never_sent_in_the_clear():
    """smtp-sink offers AUTH but no STARTTLS: with credentials, relayd
    defers rather than send them."""
    if not PostfixSink.available():
        print("# smtp-sink not available: skipped")
        return
    with PostfixSink() as ps:
        p = RelayPostern(relay=None)
        creds = os.path.join(p.root, "relay.secret")
        with open(creds, "w") as f:
            f.write("alice s3cret-password\n")
        os.chmod(creds, 0o600)
        with open(p.conf, "a") as f:
            f.write('relay via %s credentials "%s"\n' % (ps.url(), creds))
        with p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=deferred.*")[0]
            assert "dsn=4.7.4" in line, line
            assert "s3cret" not in p.log()
            assert ps.messages() == []


def test_mx_over_ipv6():
    """An MX host with only an AAAA record (::1)."""
    with Sink(ip="::1", port=25) as sink:
        with Unbound(["v6.rt. MX 10 host6.rt.", "host6.rt. AAAA ::1"]) as dns, \
                RelayPostern(dns=dns) as p:
            p.send(["user@v6.rt"])
            sink.wait_messages(1)
            p.wait_log(r"relayd\[\d+\]: id=\S+ to=<user@v6.rt> "
                       r"relay=host6.rt\[::1\]:25 .*status=sent")


def test_smarthost_auth_over_starttls():
    """Credentials from the file go to the smarthost, after STARTTLS, in
    AUTH PLAIN; the log never shows them."""
    import base64
    import ssl
    cert, key = tls_files()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    got = {}

    def smarthost(n, readline, send, h):
        send("220 smarthost\r\n")
        tls = None
        while True:
            if tls is None:
                line = readline()
            else:
                line = tls.readline(100000)
            if not line:
                return
            cmd = line[:8].upper()
            out = send if tls is None else (lambda t: (tls.write(t.encode()), tls.flush()))
            if cmd.startswith(b"EHLO"):
                out("250-smarthost\r\n%s250 AUTH PLAIN LOGIN\r\n" %
                    ("250-STARTTLS\r\n" if tls is None else ""))
            elif cmd == b"STARTTLS":
                send("220 go ahead\r\n")
                s = ctx.wrap_socket(h.request, server_side=True)
                tls = s.makefile("rwb")
            elif cmd.startswith(b"AUTH"):
                got["auth"] = base64.b64decode(line.split()[2])
                got["tls"] = tls is not None
                out("235 2.7.0 welcome\r\n")
            elif cmd[:4] == b"DATA":
                out("354 go\r\n")
                while tls.readline() not in (b".\r\n", b""):
                    pass
                out("250 2.0.0 relayed\r\n")
            elif cmd[:4] == b"QUIT":
                out("221 bye\r\n")
                return
            else:
                out("250 ok\r\n")

    with Scripted(smarthost) as srv:
        p = RelayPostern(relay=None)
        creds = os.path.join(p.root, "relay.secret")
        with open(creds, "w") as f:
            f.write("alice\ns3cret pass phrase\n")
        os.chmod(creds, 0o600)
        with open(p.conf, "a") as f:
            f.write('relay via %s credentials "%s"\n' % (srv.url(), creds))
        with p:
            p.send(["a@dest.test"])
            line = p.wait_log(r"relayd\[\d+\]: id=\S+ to=<a@dest.test> .*status=sent.*")[0]
            assert "tls=TLSv1." in line, line
            assert got == {"auth": b"\0alice\0s3cret pass phrase", "tls": True}, got
            assert "s3cret" not in p.log()


def test_smarthost_limit_across_domains():
    """queued limits batches per domain; relayd limits connections per
    destination, and the smarthost is one destination for every domain."""
    with Sink(args=["--delay", "EOM=1"]) as sink:
        with RelayPostern(relay=sink.url(),
                          queue={"concurrency-per-domain": "2"}) as p:
            for i in range(6):
                p.send(["r@d%d.test" % i])
            msgs = sink.wait_messages(6, timeout=40)
            peers = {tuple(env["peer"]) for env, _ in msgs}
            assert 1 <= len(peers) <= 2, peers


def test_total_limit_closes_an_idle_connection():
    """With concurrency 2 and two idle connections, a third destination
    gets a connection at once: an idle one is closed to make room (not
    after the idle time)."""
    with Sink() as a, Sink() as b, Sink() as c:
        extra = "".join("route %s.test via %s\n" % (n, s.url())
                        for n, s in (("a", a), ("b", b), ("c", c)))
        with RelayPostern(relay=a.url(), conf_extra=extra,
                          queue={"concurrency": "2"}) as p:
            p.send(["x@a.test"])
            a.wait_messages(1)
            p.send(["x@b.test"])
            b.wait_messages(1)
            t0 = time.time()
            p.send(["x@c.test"])
            c.wait_messages(1, timeout=8)
            assert time.time() - t0 < 5, "waited for the idle timeout"


def test_reload_with_a_trust_anchor():
    """The master sends relayd's files again at each reload, after
    libunbound has frozen its configuration: relayd keeps going (the
    anchor waits for the next start), and still delivers."""
    with mx_sink() as sink:
        with Unbound(["plain.rt. A %s" % sink.ip]) as dns:
            p = RelayPostern(dns=dns)
            anchor = os.path.join(p.root, "anchor")
            with open(anchor, "w") as f:
                # An anchor for a zone the test does not use.
                f.write("; trust anchor\nexample.org. IN DS 31406 8 2 "
                        "F78CF3344F72137235098ECBBD08947C2C9001C7F6A085A1"
                        "7F518B5D8F6B916D\n")
            with open(p.conf, "a") as f:
                f.write('trust-anchor "%s"\n' % anchor)
            with p:
                p.send(["one@plain.rt"])
                p.wait_log(r"to=<one@plain.rt> .*status=sent")
                p.ctl("reload")
                p.wait_log(r"relayd\[\d+\]: configuration reloaded")
                p.send(["two@plain.rt"])
                p.wait_log(r"to=<two@plain.rt> .*status=sent")
                assert p.children().get("relayd")
