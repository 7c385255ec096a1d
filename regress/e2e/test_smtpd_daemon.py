"""test_smtpd_daemon: the submission front end in the whole daemon, with
real clients, real tokens (posternctl token add) and a receiving server
(Sink) behind the smarthost route.

Per issue 4: STARTTLS and implicit TLS, AUTH PLAIN (both forms) and
LOGIN with tokens, the sender binding, a token revoked under an open
session, the fail2ban log line, nothing queued when a client goes away
in the middle of DATA, a smuggling attempt that stays one message
downstream, and certificates reloaded under a running session.
"""
import contextlib
import signal
import smtplib
import subprocess
import sys
import time

from postern_test import Postern, Sink

USER = "scans@example.com"


@contextlib.contextmanager
def daemon():
    """A sink, and postern relaying to it with a DKIM key for example.com
    and a token for USER: yields (sink, postern, token)."""
    with Sink() as sink:
        p = Postern(plain=False, starttls=True, tls=True, relay=sink.url(),
                    domains=(), conf_extra='domain "example.com" {\n'
                    '\tdkim selector s1 algorithm ed25519 active\n}')
        p.start()
        try:
            p.ctl("dkim", "keygen", "example.com")
            tok, _ = p.add_token(USER, name="office printer")
            yield sink, p, tok
        except BaseException:
            for line in p.log()[-6000:].splitlines():
                sys.stdout.write("#   | " + line + "\n")
            raise
        finally:
            p.cleanup()


def login(p, tok, kind="tls"):
    """An smtplib client on the implicit-TLS listener, logged in."""
    s = p.smtp(kind)
    s.ehlo("printer.example")
    s.login(USER, tok)
    return s


def msg(frm=USER, body="A scanned page.\r\n"):
    return ("From: Office Printer <%s>\r\nTo: bob@example.org\r\n"
            "Subject: scan\r\n\r\n%s" % (frm, body)).encode()


def open_data(s):
    """MAIL, RCPT and DATA by hand, up to the 354."""
    s.mail(USER)
    s.rcpt("bob@example.org")
    s.putcmd("DATA")
    assert s.getreply()[0] == 354


def test_starttls_plain_reaches_the_sink():
    with daemon() as (sink, p, tok):
        s = p.smtp_starttls()
        s.login(USER, tok)
        body = "Grüße – 8-bit, undeclared\r\n.dot line\r\n"
        s.sendmail(USER, ["bob@example.org"], msg(body=body))
        s.quit()
        env, raw = sink.wait_messages(1)[0]
        assert raw.endswith(body.encode()), raw[-200:]
        assert b"with ESMTPSA id " in raw
        assert b"(authenticated user scans@example.com)" in raw
        assert b"\r\nMessage-ID: <" in raw and b"\r\nDate: " in raw
        assert b"DKIM-Signature:" in raw


def test_tls_auth_login_and_plain_continuation():
    with daemon() as (sink, p, tok):
        for mech in ("LOGIN", "PLAIN"):
            s = p.smtp("tls")
            s.ehlo("printer.example")
            s.user, s.password = USER, tok
            fn = s.auth_login if mech == "LOGIN" else s.auth_plain
            code, _ = s.auth(mech, fn, initial_response_ok=False)
            assert code == 235, (mech, code)
            s.sendmail(USER, ["bob@example.org"], msg())
            s.quit()
        sink.wait_messages(2)


def test_swaks_starttls():
    with daemon() as (sink, p, tok):
        r = subprocess.run(
            ["swaks", "--hide-all", "--server", "%s:%d" % (p.ip, p.ports["starttls"]),
             "--tls", "--auth", "PLAIN", "--auth-user", USER,
             "--auth-password", tok, "--from", USER,
             "--to", "bob@example.org", "--header", "From: " + USER],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        sink.wait_messages(1)


def test_sender_binding_and_failed_login_log():
    with daemon() as (sink, p, tok):
        s = p.smtp("tls")
        s.ehlo("printer.example")
        try:
            s.login(USER, "pstn_" + "0" * 33)
            raise AssertionError("a wrong token logged in")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535
        # The line fail2ban reads.
        p.wait_log(r"smtpd\[\d+\]: session=[0-9a-f]{16} auth=failed "
                   r"user=scans@example\.com client=127\.0\.0\.1 ")
        s.login(USER, tok)
        try:
            s.sendmail("boss@example.com", ["bob@example.org"], msg())
            raise AssertionError("MAIL FROM another address was taken")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 553
        try:
            s.sendmail(USER, ["bob@example.org"], msg(frm="boss@example.com"))
            raise AssertionError("From: another address was taken")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550
        s.quit()
        time.sleep(0.5)
        assert sink.messages() == []


def test_token_revoked_under_open_session():
    with daemon() as (sink, p, tok):
        s = login(p, tok)
        s.sendmail(USER, ["bob@example.org"], msg())
        tid = p.ctl_json("token", "list")["items"][0]["id"]
        p.ctl("token", "delete", tid)
        try:
            s.sendmail(USER, ["bob@example.org"], msg())
            raise AssertionError("a revoked token sent mail")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPServerDisconnected) as e:
            assert getattr(e, "smtp_code", 421) == 421, e
        assert len(sink.wait_messages(1)) == 1


def test_disconnect_in_data_queues_nothing():
    with daemon() as (sink, p, tok):
        s = login(p, tok)
        open_data(s)
        s.send(b"From: scans@example.com\r\n\r\nhalf a mess")
        s.close()
        p.wait_log(r"lost connection in data, nothing queued")
        time.sleep(0.5)
        assert sink.messages() == []
        assert p.ctl_json("queue", "list").get("items", []) == []


def test_smuggled_message_stays_one_message_downstream():
    """A "\\n.\\n" smuggling attempt is data: the next hop receives one
    message whose body still holds the would-be second transaction, with
    canonical CRLF lines, so it cannot end anything there either."""
    with daemon() as (sink, p, tok):
        s = login(p, tok)
        open_data(s)
        s.send(b"From: scans@example.com\r\nSubject: x\r\n\r\nbody\n.\n"
               b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.org>\r\n"
               b"DATA\r\nFrom: ceo@example.com\r\n\r\nevil\r\n.\r\n")
        assert s.getreply()[0] == 250
        s.quit()
        env, raw = sink.wait_messages(1)[0]
        time.sleep(1)
        assert len(sink.messages()) == 1
        assert b"body\r\n.\r\nMAIL FROM:<ceo@example.com>\r\n" in raw, raw[-300:]
        assert b"\n" not in raw.replace(b"\r\n", b"")


def test_sighup_reloads_certificates_without_dropping_sessions():
    with daemon() as (sink, p, tok):
        old = login(p, tok)
        p.proc.send_signal(signal.SIGHUP)
        p.wait_log(r"smtpd\[\d+\]: configuration reloaded")
        assert p.log().count("tls: listener 0: certificate loaded") >= 2
        new = login(p, tok)
        new.sendmail(USER, ["bob@example.org"], msg())
        new.quit()
        old.sendmail(USER, ["bob@example.org"], msg())
        old.quit()
        sink.wait_messages(2)
