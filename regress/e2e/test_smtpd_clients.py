"""test_smtpd_clients: real SMTP clients (Python smtplib, swaks) against
smtpd, started alone with a fake master, authd and queued
(regress/smtp/smtpd_alone.py), so that every test can look at exactly what
smtpd handed to queued: the envelope, the body flags, and the message
bytes with the Received:, Message-ID: and Date: fields smtpd added.

The same clients against the whole daemon are in test_smtpd_daemon.py.
"""
import base64
import os
import random
import smtplib
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "smtp"))
from smtpd_alone import SmtpdAlone  # noqa: E402

# Memory bounds mean nothing under AddressSanitizer (its shadow memory and
# quarantine); the sanitizer run checks everything else.
SANITIZED = "ASAN_OPTIONS" in os.environ


def peak_rss_kb(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0]


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def starttls_client(d, timeout=60):
    s = smtplib.SMTP(*d.addr("starttls"), timeout=timeout)
    s.ehlo("client.test")
    s.starttls(context=tls_ctx())
    s.ehlo("client.test")
    return s


def tls_client(d, timeout=60):
    s = smtplib.SMTP_SSL(*d.addr("tls"), timeout=timeout, context=tls_ctx())
    s.ehlo("client.test")
    return s


def message(frm="alice@example.com", to="bob@example.org", body="Hello.\r\n",
            extra=""):
    return ("From: Alice <%s>\r\nTo: %s\r\nSubject: test\r\n%s\r\n%s" %
            (frm, to, extra, body)).encode("utf-8")


def wait_committed(d, n, timeout=30):
    deadline = time.time() + timeout
    while len(d.committed) < n and time.time() < deadline:
        time.sleep(0.02)
    assert len(d.committed) == n, "%d committed, wanted %d" % (len(d.committed), n)
    return d.committed


def split(data):
    """The fields smtpd put on top, and the client's message after them."""
    data = bytes(data)
    assert data.startswith(b"Received: from "), data[:200]
    i = data.index(b"\r\n", data.index(b"\tby "))
    # The Received: field ends at the date line after "\tby ...;".
    j = data.index(b"\r\n", i + 2)
    ours, rest = data[:j + 2], data[j + 2:]
    while rest.startswith(b"Message-ID: ") or rest.startswith(b"Date: "):
        k = rest.index(b"\r\n") + 2
        ours, rest = ours + rest[:k], rest[k:]
    return ours.decode(), rest


def test_smtplib_starttls_auth_plain():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        s = starttls_client(d)
        assert "auth" in s.esmtp_features
        s.login("alice@example.com", tok)	# PLAIN, initial response
        msg = message()
        s.sendmail("alice@example.com", ["bob@example.org"], msg)
        s.quit()
        m = wait_committed(d, 1)[0]
        assert m["sender"] == "alice@example.com"
        assert m["rcpts"] == ["bob@example.org"]
        assert m["ticket"] == b"ticket-alice@example.com"
        assert m["helo"] == "client.test" and m["client"] == "127.0.0.1"
        ours, rest = split(m["data"])
        assert rest == msg, rest
        assert "with ESMTPSA id" in ours, ours
        assert "(authenticated user alice@example.com)" in ours
        assert "TLSv1.3" in ours or "TLSv1.2" in ours
        assert "\r\nMessage-ID: <" in ours and "\r\nDate: " in ours
        assert m["size"] == len(m["data"])
        assert m["flags"] == 0
        d.wait_log("auth=ok user=alice@example.com")


def test_smtplib_tls_auth_plain_continuation_and_login():
    """AUTH PLAIN after an empty 334, and AUTH LOGIN, each answering the
    server's challenges (no initial response)."""
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        for mech in ("PLAIN", "LOGIN"):
            s = tls_client(d)
            s.user, s.password = "alice@example.com", tok
            fn = s.auth_plain if mech == "PLAIN" else s.auth_login
            code, _ = s.auth(mech, fn, initial_response_ok=False)
            assert code == 235, (mech, code)
            s.sendmail("alice@example.com", ["bob@example.org"], message())
            s.quit()
        wait_committed(d, 2)


def test_smtplib_existing_headers_kept():
    """Message-ID: and Date: are added only when missing."""
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        s = tls_client(d)
        s.login("alice@example.com", tok)
        msg = message(extra="Message-ID: <x@y>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n")
        s.sendmail("alice@example.com", ["bob@example.org"], msg)
        s.quit()
        ours, rest = split(wait_committed(d, 1)[0]["data"])
        assert "Message-ID" not in ours and "\r\nDate:" not in ours, ours
        assert rest == msg


def test_smtplib_wrong_token_and_sender():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        s = tls_client(d)
        # One wrong character: the check digits catch it here, and the
        # refusal takes as long as authd's would.
        for bad in (tok[:-1] + ("a" if tok[-1] != "a" else "b"),
                    d.add_token("carol@example.com")):
            s.user, s.password = "alice@example.com", bad
            t0 = time.time()
            try:
                s.auth("PLAIN", s.auth_plain)
                raise AssertionError("login with a wrong token worked")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535
            # Slowed down (250 to 800 ms), but not so long that clients
            # look hung; the margin is for a loaded test machine.
            assert 0.24 < time.time() - t0 < 1.5, time.time() - t0
        d.wait_log("auth=failed user=alice@example.com client=127.0.0.1")
        s.login("alice@example.com", tok)
        try:
            s.sendmail("mallory@example.com", ["bob@example.org"], message())
            raise AssertionError("another sender was accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 553
        try:
            s.sendmail("alice@example.com", ["bob@example.org"],
                       message(frm="mallory@example.com"))
            raise AssertionError("another From: was accepted")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550
        s.quit()
        assert d.committed == []


def swaks(*args, timeout=60):
    return subprocess.run(["swaks", "--hide-all"] + list(args), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_swaks_starttls_plain():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        r = swaks("--server", "127.0.0.1:%d" % d.ports["starttls"], "--tls",
                  "--auth", "PLAIN", "--auth-user", "alice@example.com",
                  "--auth-password", tok, "--from", "alice@example.com",
                  "--to", "bob@example.org", "--header", "From: alice@example.com")
        assert r.returncode == 0, r.stdout + r.stderr
        m = wait_committed(d, 1)[0]
        assert m["sender"] == "alice@example.com"


def test_swaks_tls_on_connect_login():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        r = swaks("--server", "127.0.0.1:%d" % d.ports["tls"], "--tls-on-connect",
                  "--auth", "LOGIN", "--auth-user", "alice@example.com",
                  "--auth-password", tok, "--from", "alice@example.com",
                  "--to", "bob@example.org", "--header", "From: alice@example.com")
        assert r.returncode == 0, r.stdout + r.stderr
        wait_committed(d, 1)


def test_swaks_pipelining():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        r = swaks("--server", "127.0.0.1:%d" % d.ports["tls"], "--tls-on-connect",
                  "--pipeline", "--auth", "PLAIN", "--auth-user", "alice@example.com",
                  "--auth-password", tok, "--from", "alice@example.com",
                  "--to", "bob@example.org,carol@example.org",
                  "--header", "From: alice@example.com")
        assert r.returncode == 0, r.stdout + r.stderr
        m = wait_committed(d, 1)[0]
        assert m["rcpts"] == ["bob@example.org", "carol@example.org"]


def test_8bit_body_without_declaration():
    """Clients send UTF-8 bodies without BODY=8BITMIME: accepted, and the
    envelope says the body is 8-bit."""
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        s = tls_client(d)
        s.login("alice@example.com", tok)
        msg = message(body="Grüße aus Köln – ✓\r\n")
        s.sendmail("alice@example.com", ["bob@example.org"], msg)
        s.quit()
        m = wait_committed(d, 1)[0]
        assert m["flags"] & 1, m["flags"]
        assert not m["flags"] & 2
        assert split(m["data"])[1] == msg


def test_dot_stuffing_undone():
    with SmtpdAlone() as d:
        s = smtplib.SMTP(*d.addr("plain"), timeout=30)
        msg = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\n"
        s.sendmail("a@example.com", ["b@example.org"], msg)
        s.quit()
        m = wait_committed(d, 1)[0]
        assert split(m["data"])[1] == msg


def test_20mb_message_streams():
    """A 20 MB message passes in chunks; smtpd's memory does not grow by
    anything like the message size."""
    with SmtpdAlone(limits={"message-size": "30M"}) as d:
        tok = d.add_token("alice@example.com")
        line = ("x" * 76 + "\r\n").encode()
        body = line * (20 * 1024 * 1024 // len(line))
        msg = message().replace(b"Hello.\r\n", b"") + body
        s = tls_client(d, timeout=120)
        s.login("alice@example.com", tok)
        s.sendmail("alice@example.com", ["bob@example.org"], msg)
        s.quit()
        m = wait_committed(d, 1)[0]
        assert split(m["data"])[1] == msg
        hwm = peak_rss_kb(d)
        assert SANITIZED or hwm < 12 * 1024, "smtpd peak RSS %d KB" % hwm


def test_100_recipients():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        s = tls_client(d)
        s.login("alice@example.com", tok)
        rcpts = ["r%d@example.org" % i for i in range(100)]
        refused = s.sendmail("alice@example.com", rcpts, message())
        assert refused == {}
        s.quit()
        assert wait_committed(d, 1)[0]["rcpts"] == rcpts


def test_bdat_content():
    """BDAT chunks are raw octets: no dot-unstuffing, no end marker."""
    with SmtpdAlone() as d:
        c = socket.create_connection(d.addr("plain"), timeout=10)
        f = c.makefile("rb")
        f.readline()
        part1 = b"Subject: chunks\r\n\r\n.line\r\n..x\r\n"
        part2 = b".\r\nend\r\n"
        c.sendall(b"EHLO x\r\nMAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
                  b"RCPT TO:<b@example.org>\r\nBDAT %d\r\n" % len(part1) + part1 +
                  b"BDAT %d LAST\r\n" % len(part2) + part2 + b"QUIT\r\n")
        replies = []
        while True:
            l = f.readline()
            if not l:
                break
            replies.append(l)
        codes = [r[:4] for r in replies if r[3:4] == b" "]
        assert codes == [b"250 ", b"250 ", b"250 ", b"250 ", b"250 ", b"221 "], replies
        m = wait_committed(d, 1)[0]
        assert split(m["data"])[1] == part1 + part2


def test_back_pressure():
    """A slow queued makes smtpd stop reading its client, not buffer the
    message; the message still arrives whole."""
    with SmtpdAlone(verbose=False) as d:
        d.queued_delay = 0.002
        body = (b"y" * 998 + b"\r\n") * 8000	# 8 MB
        s = smtplib.SMTP(*d.addr("plain"), timeout=120)
        s.sendmail("a@example.com", ["b@example.org"], b"Subject: slow\r\n\r\n" + body)
        s.quit()
        m = wait_committed(d, 1)[0]
        assert split(m["data"])[1].endswith(body)
        hwm = peak_rss_kb(d)
        assert SANITIZED or hwm < 12 * 1024, "smtpd peak RSS %d KB" % hwm


def test_certificate_reload_keeps_sessions():
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        old = tls_client(d)
        old.login("alice@example.com", tok)
        d.reload()
        d.wait_log("configuration reloaded")
        new = tls_client(d)
        new.login("alice@example.com", tok)
        new.sendmail("alice@example.com", ["bob@example.org"], message())
        new.quit()
        # The session from before the reload goes on as if nothing happened.
        old.sendmail("alice@example.com", ["bob@example.org"], message())
        old.quit()
        wait_committed(d, 2)


def test_garbage_does_not_kill_smtpd():
    rnd = random.Random(4)
    with SmtpdAlone(verbose=False, limits={"errors": 1000}) as d:
        for kind in ("plain", "starttls", "tls"):
            for i in range(20):
                c = socket.create_connection(d.addr(kind), timeout=5)
                data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 4000)))
                if i % 2:
                    data = b"EHLO x\r\n" + data.replace(b"\n", b"\r\n")
                try:
                    c.sendall(data)
                    c.shutdown(socket.SHUT_WR)
                    c.settimeout(2)
                    while c.recv(4096):
                        pass
                except OSError:
                    pass
                c.close()
        assert d.alive()
        s = smtplib.SMTP(*d.addr("plain"), timeout=10)
        assert s.noop()[0] == 250
        s.quit()


def test_tls_versions():
    """TLS 1.2 and 1.3 are spoken, older versions are not."""
    with SmtpdAlone() as d:
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = tls_ctx()
            ctx.minimum_version = ctx.maximum_version = v
            c = ctx.wrap_socket(socket.create_connection(d.addr("tls"), timeout=10))
            assert c.recv(100).startswith(b"220 ")
            assert c.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                   ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v]
            c.close()
        ctx = tls_ctx()
        try:
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            return	# this OpenSSL cannot even try
        try:
            c = ctx.wrap_socket(socket.create_connection(d.addr("tls"), timeout=10))
            c.close()
            raise AssertionError("a TLS 1.1 handshake succeeded")
        except (ssl.SSLError, ConnectionResetError, OSError) as e:
            assert "succeeded" not in str(e)
        assert d.alive()


def test_idle_tls_session_memory():
    """Idle TLS sessions cost well under 40 KB each, libtls included."""
    n = 400
    with SmtpdAlone(verbose=False, limits={"sessions-per-client": n + 10}) as d:
        def rss():
            with open("/proc/%d/status" % d.proc.pid) as f:
                return [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0]
        warm = tls_ctx().wrap_socket(socket.create_connection(d.addr("tls")))
        warm.recv(100)
        time.sleep(0.2)
        base = rss()
        conns = []
        for i in range(n):
            c = tls_ctx().wrap_socket(socket.create_connection(d.addr("tls"), timeout=10))
            c.recv(100)
            c.sendall(b"EHLO client.test\r\n")
            while not c.recv(4096).endswith(b"250 HELP\r\n"):
                pass
            conns.append(c)
        time.sleep(0.3)
        per = (rss() - base) / n
        sys.stdout.write("# %.1f KB per idle TLS session\n" % per)
        assert SANITIZED or per < 40, "%.1f KB per idle TLS session" % per
        for c in conns:
            c.close()


def test_handshake_burst():
    """Hundreds of TLS clients at once (a fleet reconnecting): every one is
    served -- handshakes take turns, SMTP_TLS_HANDSHAKES at a time -- and
    the heap is not left fragmented by the burst."""
    import threading
    n = 300
    with SmtpdAlone(verbose=False, limits={"sessions-per-client": n + 10}) as d:
        def rss():
            with open("/proc/%d/status" % d.proc.pid) as f:
                return [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0]
        base = rss()
        conns, errors = [], []
        go = threading.Event()

        def client():
            try:
                raw = socket.create_connection(d.addr("tls"), timeout=30)
                go.wait(30)
                c = tls_ctx().wrap_socket(raw)
                assert c.recv(100).startswith(b"220 ")
                c.sendall(b"EHLO client.test\r\n")
                buf = b""
                while not buf.endswith(b"250 HELP\r\n"):
                    buf += c.recv(4096)
                conns.append(c)
            except Exception as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=client) for _ in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        go.set()
        for t in threads:
            t.join(60)
        assert not errors, errors[:5]
        assert len(conns) == n
        time.sleep(4.5)	# the burst is over: one malloc_trim() round
        per = (rss() - base) / n
        sys.stdout.write("# %.1f KB per session after a burst of %d\n" % (per, n))
        assert SANITIZED or per < 40, "%.1f KB per session" % per
        for c in conns:
            c.close()


def test_curl_bare_lf_upload():
    """curl uploading a file with LF line ends (INTEROP.md): AUTH PLAIN
    after an empty 334, bare LFs taken as line ends and stored as CRLF,
    a "." line after a bare LF kept as data (curl does not dot-stuff it)."""
    import tempfile
    with SmtpdAlone() as d:
        tok = d.add_token("alice@example.com")
        with tempfile.NamedTemporaryFile("wb", suffix=".eml", delete=False) as f:
            f.write(b"From: alice@example.com\nTo: bob@example.org\n"
                    b"Subject: from curl\n\nline one\n.\nline three\n")
            path = f.name
        try:
            for url, extra in (("smtp://127.0.0.1:%d" % d.ports["starttls"], ["--ssl-reqd"]),
                               ("smtps://127.0.0.1:%d" % d.ports["tls"], [])):
                r = subprocess.run(["curl", "-sS", "--insecure", "--url", url,
                                    "--mail-from", "alice@example.com",
                                    "--mail-rcpt", "bob@example.org",
                                    "--user", "alice@example.com:" + tok,
                                    "--upload-file", path] + extra,
                                   capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                assert r.returncode == 0, r.stderr
        finally:
            os.unlink(path)
        # curl ends the data with CRLF "." CRLF after the file's last LF,
        # so the message ends with one empty line more than the file.
        for m in wait_committed(d, 2):
            body = split(m["data"])[1]
            assert body == (
                b"From: alice@example.com\r\nTo: bob@example.org\r\n"
                b"Subject: from curl\r\n\r\nline one\r\n.\r\nline three\r\n"
                b"\r\n"), body


def test_stalled_handshakes_do_not_shut_tls_out():
    """Clients that connect to the TLS port and never finish a handshake
    hold handshake slots; more of them than there are slots still leave
    room for a real client, let in from the line within seconds."""
    with SmtpdAlone(verbose=False, limits={"sessions-per-client": 500}) as d:
        stalled = [socket.create_connection(d.addr("tls")) for _ in range(100)]
        time.sleep(0.3)
        t0 = time.time()
        c = tls_ctx().wrap_socket(socket.create_connection(d.addr("tls"), timeout=20))
        assert c.recv(100).startswith(b"220 ")
        assert time.time() - t0 < 10, time.time() - t0
        c.close()
        for s in stalled:
            s.close()


def test_lying_queued_cannot_end_data_early():
    """A commit answer for a message that is still arriving is a lie from
    queued: smtpd stops (the master then restarts the tree) instead of
    saying 250 in the middle of DATA and reading the body as commands."""
    import socket as _socket
    with SmtpdAlone() as d:
        d.queued_mode = "early-commit"
        c = _socket.create_connection(d.addr("plain"), 10)
        f = c.makefile("rb")
        assert f.readline().startswith(b"220")
        c.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        c.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
                  b"DATA\r\n")
        for want in (b"250", b"250", b"354"):
            assert f.readline().startswith(want)
        c.sendall(b"Subject: x\r\n\r\n" + b"y" * 70000 + b"\r\nQUIT\r\n")
        d.wait_log("commit answer for message", timeout=10)
        deadline = time.time() + 10
        while d.alive() and time.time() < deadline:
            time.sleep(0.05)
        assert not d.alive(), "smtpd went on after queued lied"
        rest = c.recv(65536)
        assert b"250 2.0.0" not in rest, rest
        c.close()
