"""Changes without a restart: a customer domain added by a configuration
reload (issue 6: an ISP adds domains all the time), and the TLS
certificate replaced on SIGHUP without dropping sessions (issue 4)."""
import os
import signal
import ssl
import subprocess

import dkim

from postern_test import Postern, Sink, wait_for


def dkim_ok(raw, recs):
    def dnsfunc(name, timeout=5):
        n = (name.decode() if isinstance(name, bytes) else name).rstrip(".")
        return recs.get(n, "").encode()
    return dkim.DKIM(raw).verify(dnsfunc=dnsfunc)


def test_domain_added_by_reload_gets_tokens_and_signatures():
    with Sink() as sink:
        p = Postern(plain=False, starttls=True, relay=sink.url())
        try:
            p.start()
            # Not configured yet: no token for it.
            r = p.ctl("token", "add", "--name", "pc", "--address", "info@new.example",
                      check=False)
            assert r.returncode != 0
            with open(p.conf, "a") as f:
                f.write('domain "new.example" {\n\tdkim selector s2026 algorithm ed25519\n}\n')
            p.ctl("reload")
            p.wait_log(r"signd\[\d+\]: configuration reloaded")
            p.wait_log(r"authd\[\d+\]: configuration reloaded")
            p.ctl("dkim", "keygen", "new.example", "--algorithm", "ed25519")
            tok, _ = p.add_token("info@new.example", "pc")
            recs = {i["name"]: i["record"] for i in
                    p.ctl_json("dkim", "dns", "new.example")["items"]}
            s = p.smtp_starttls()
            s.login("info@new.example", tok)
            s.sendmail("info@new.example", ["someone@dest.test"],
                       b"From: <info@new.example>\r\nTo: <someone@dest.test>\r\n"
                       b"Subject: after the reload\r\n\r\nsigned?\r\n")
            s.quit()
            env, raw = sink.wait_messages(1)[0]
            assert b"d=new.example" in raw
            assert dkim_ok(raw, recs)
            # Still the same processes: nothing was restarted.
            assert "exiting" not in p.log()
        finally:
            p.cleanup()


def cert_of(p):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    import socket
    with socket.create_connection((p.ip, p.ports["tls"]), 10) as raw:
        with ctx.wrap_socket(raw) as t:
            return t.getpeercert(binary_form=True)


def test_certificate_reload_keeps_sessions():
    p = Postern(plain=False, starttls=True, tls=True)
    d = os.path.join(p.root, "tls")
    os.makedirs(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")

    def make(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
                        "/CN=" + cn, "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
    make("first.test")
    with open(p.conf) as f:
        text = f.read().replace(p.cert, cert).replace(p.key, key)
    with open(p.conf, "w") as f:
        f.write(text)
    try:
        p.start()
        before = cert_of(p)
        # A session that is in the middle of its conversation.
        s = p.smtp_starttls()
        make("second.test")
        p.proc.send_signal(signal.SIGHUP)
        p.wait_log(r"smtpd\[\d+\]: configuration reloaded")
        after = wait_for(lambda: (lambda c: c if c != before else None)(cert_of(p)), 10,
                         "the new certificate to be served")
        assert after != before
        # The old session goes on over its old TLS state.
        code, _ = s.noop()
        assert code == 250
        s.quit()
        assert p.children().keys() >= {"smtpd", "queued"}
    finally:
        p.cleanup()
