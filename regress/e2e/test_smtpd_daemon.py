"""test_smtpd_daemon: the submission front end in the whole daemon, with
real clients, real tokens (posternctl token add) and a receiving server
(Sink) behind the smarthost route.

Per issue 4: STARTTLS and implicit TLS, AUTH PLAIN (both forms) and
LOGIN with tokens, the sender binding, a token revoked under an open
session, the fail2ban log line, and nothing queued when a client goes away
in the middle of DATA.
"""
import os
import smtplib
import socket
import ssl
import subprocess
import time

from postern_test import Postern, Sink, wait_for


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def setup(sink, **kw):
    p = Postern(plain=False, starttls=True, tls=True, relay=sink.url(),
                domains=(), conf_extra='domain "example.com" {\n'
                '\tdkim selector s1 algorithm ed25519 active\n}', **kw)
    p.start()
    p.ctl("dkim", "keygen", "example.com")
    tok, _ = p.add_token("scans@example.com", name="office printer")
    return p, tok


def done(p):
    """Stop the daemon; on a failure show the tail of its log."""
    import sys
    if sys.exc_info()[0] is not None:
        for line in p.log()[-6000:].splitlines():
            sys.stdout.write("#   | " + line + "\n")
    p.cleanup()


def msg(frm="scans@example.com", body="A scanned page.\r\n"):
    return ("From: Office Printer <%s>\r\nTo: bob@example.org\r\n"
            "Subject: scan\r\n\r\n%s" % (frm, body)).encode()


def test_starttls_plain_reaches_the_sink():
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            s = p.smtp_starttls()
            s.login("scans@example.com", tok)
            body = "Grüße – 8-bit, undeclared\r\n.dot line\r\n"
            s.sendmail("scans@example.com", ["bob@example.org"], msg(body=body))
            s.quit()
            env, raw = sink.wait_messages(1)[0]
            assert raw.endswith(body.encode()), raw[-200:]
            assert b"with ESMTPSA id " in raw
            assert b"(authenticated user scans@example.com)" in raw
            assert b"\r\nMessage-ID: <" in raw and b"\r\nDate: " in raw
            assert b"DKIM-Signature:" in raw
        finally:
            done(p)


def test_tls_auth_login_and_plain_continuation():
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            for mech, fn in (("LOGIN", "auth_login"), ("PLAIN", "auth_plain")):
                s = p.smtp("tls")
                s.ehlo("printer.example")
                s.user, s.password = "scans@example.com", tok
                code, _ = s.auth(mech, getattr(s, fn), initial_response_ok=False)
                assert code == 235, (mech, code)
                s.sendmail("scans@example.com", ["bob@example.org"], msg())
                s.quit()
            sink.wait_messages(2)
        finally:
            done(p)


def test_swaks_starttls():
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            r = subprocess.run(
                ["swaks", "--hide-all", "--server", "%s:%d" % (p.ip, p.ports["starttls"]),
                 "--tls", "--auth", "PLAIN", "--auth-user", "scans@example.com",
                 "--auth-password", tok, "--from", "scans@example.com",
                 "--to", "bob@example.org", "--header", "From: scans@example.com"],
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            assert r.returncode == 0, r.stdout + r.stderr
            sink.wait_messages(1)
        finally:
            done(p)


def test_sender_binding_and_failed_login_log():
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            s = p.smtp("tls")
            s.ehlo("printer.example")
            try:
                s.login("scans@example.com", "pstn_" + "0" * 33)
                raise AssertionError("a wrong token logged in")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535
            p.wait_log(r"smtpd\[\d+\]: session=[0-9a-f]{16} auth=failed "
                       r"user=scans@example\.com client=127\.0\.0\.1 ")
            s.login("scans@example.com", tok)
            try:
                s.sendmail("boss@example.com", ["bob@example.org"], msg())
                raise AssertionError("MAIL FROM another address was taken")
            except smtplib.SMTPSenderRefused as e:
                assert e.smtp_code == 553
            try:
                s.sendmail("scans@example.com", ["bob@example.org"],
                           msg(frm="boss@example.com"))
                raise AssertionError("From: another address was taken")
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 550
            s.quit()
            time.sleep(0.5)
            assert sink.messages() == []
        finally:
            done(p)


def test_token_revoked_under_open_session():
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            s = p.smtp("tls")
            s.ehlo("printer.example")
            s.login("scans@example.com", tok)
            s.sendmail("scans@example.com", ["bob@example.org"], msg())
            tid = p.ctl_json("token", "list")["items"][0]["id"]
            p.ctl("token", "delete", tid)
            try:
                s.sendmail("scans@example.com", ["bob@example.org"], msg())
                raise AssertionError("a revoked token sent mail")
            except (smtplib.SMTPSenderRefused, smtplib.SMTPServerDisconnected) as e:
                code = getattr(e, "smtp_code", 421)
                assert code == 421, e
            assert len(sink.wait_messages(1)) == 1
        finally:
            done(p)


def test_disconnect_in_data_queues_nothing():
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            s = p.smtp("tls")
            s.ehlo("printer.example")
            s.login("scans@example.com", tok)
            s.mail("scans@example.com")
            s.rcpt("bob@example.org")
            s.putcmd("DATA")
            assert s.getreply()[0] == 354
            s.send(b"From: scans@example.com\r\n\r\nhalf a mess")
            s.close()
            p.wait_log(r"lost connection in data, nothing queued")
            time.sleep(0.5)
            assert sink.messages() == []
            assert p.ctl_json("queue", "list").get("items", []) == []
        finally:
            done(p)


def test_sighup_reloads_certificates_without_dropping_sessions():
    import signal
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            old = p.smtp("tls")
            old.ehlo("printer.example")
            old.login("scans@example.com", tok)
            p.proc.send_signal(signal.SIGHUP)
            p.wait_log(r"smtpd\[\d+\]: configuration reloaded")
            assert p.log().count("tls: listener 0: certificate loaded") >= 2
            new = p.smtp("tls")
            new.ehlo("printer.example")
            new.login("scans@example.com", tok)
            new.sendmail("scans@example.com", ["bob@example.org"], msg())
            new.quit()
            old.sendmail("scans@example.com", ["bob@example.org"], msg())
            old.quit()
            sink.wait_messages(2)
        finally:
            done(p)


def test_smuggled_message_stays_one_message_downstream():
    """A "\\n.\\n" smuggling attempt is data: the next hop receives one
    message whose body still holds the would-be second transaction, with
    canonical CRLF lines, so it cannot end anything there either."""
    with Sink() as sink:
        p, tok = setup(sink)
        try:
            s = p.smtp("tls")
            s.ehlo("printer.example")
            s.login("scans@example.com", tok)
            s.mail("scans@example.com")
            s.rcpt("bob@example.org")
            s.putcmd("DATA")
            assert s.getreply()[0] == 354
            s.send(b"From: scans@example.com\r\nSubject: x\r\n\r\nbody\n.\n"
                   b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.org>\r\n"
                   b"DATA\r\nFrom: ceo@example.com\r\n\r\nevil\r\n.\r\n")
            code, _ = s.getreply()
            assert code == 250, code
            s.quit()
            msgs = sink.wait_messages(1)
            time.sleep(1)
            assert len(sink.messages()) == 1
            env, raw = msgs[0]
            assert b"body\r\n.\r\nMAIL FROM:<ceo@example.com>\r\n" in raw, raw[-300:]
            assert b"\n" not in raw.replace(b"\r\n", b"")
        finally:
            done(p)
