"""test_dkim: DKIM signing in the whole daemon (issue 6).

Keys made with posternctl dkim keygen, mail sent by real clients with
tokens, received by a Sink, and every signature checked with python3-dkim
(dkimpy) and with OpenDKIM's library (regress/tools/odkim_verify.c), fed
the public keys that `posternctl dkim dns' prints (from signd, the one
process that reads the keys).  Also: dual signing, mail
for a domain whose key is missing is deferred (never sent unsigned) and
goes through once the key is made, tampering breaks the signatures, no
other child's user can open a key, and a 30 MB message is signed without
signd growing.
"""
import os
import pwd
import smtplib
import subprocess
import tempfile

from postern_test import Postern, Sink, wait_for

import dkim  # python3-dkim: a missing module fails the file, loudly

DOMAIN_BLOCK = ('domain "example.com" {\n'
                '\tdkim selector rsa2024 algorithm rsa\n'
                '\tdkim selector ed2024 algorithm ed25519\n'
                '}\n'
                'domain "nokey.example" {\n'
                '\tdkim selector s1 algorithm ed25519\n'
                '}\n')


def setup(sink, keygen=("rsa", "ed25519"), **kw):
    p = Postern(plain=False, starttls=True, relay=sink.url(), domains=(),
                conf_extra=DOMAIN_BLOCK, **kw)
    for alg in keygen:
        p.ctl("dkim", "keygen", "example.com", "--algorithm", alg)
    p.start()
    return p


def done(p):
    import sys
    if sys.exc_info()[0] is not None:
        for line in p.log()[-6000:].splitlines():
            sys.stdout.write("#   | " + line + "\n")
    p.cleanup()


def records(p, domain="example.com"):
    """{dns name: TXT record} as posternctl dkim dns reports them."""
    data = p.ctl_json("dkim", "dns", domain)
    return {i["name"]: i["record"] for i in data["items"] if i["record"]}


_odkim = []


def odkim_verify(raw, recs):
    """libopendkim's verdict (regress/tools/odkim_verify.c, built once)."""
    if not _odkim:
        d = tempfile.mkdtemp(prefix="odkim-")
        subprocess.run(["cc", "-O2", "-o", os.path.join(d, "odkim_verify"),
                        os.path.join(os.path.dirname(__file__), "..", "tools",
                                     "odkim_verify.c"), "-lopendkim"],
                       check=True)
        _odkim.append(d)
    d = _odkim[0]
    with open(os.path.join(d, "keys.txt"), "w") as f:
        for name, rec in recs.items():
            f.write("%s %s\n" % (name, rec))
    with open(os.path.join(d, "msg.eml"), "wb") as f:
        f.write(raw)
    r = subprocess.run([os.path.join(d, "odkim_verify"),
                        os.path.join(d, "keys.txt"), os.path.join(d, "msg.eml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, "OpenDKIM: %s" % r.stdout
    return r.stdout.count("pass ")


def verify_all(raw, recs):
    """The number of DKIM-Signature fields, all of which must verify,
    with python3-dkim and with OpenDKIM's library."""
    def dnsfunc(name, timeout=5):
        return recs.get(name.decode().rstrip("."), "").encode() or None
    d = dkim.DKIM(raw)
    n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    for i in range(n):
        assert d.verify(idx=i, dnsfunc=dnsfunc), \
            "signature %d does not verify: %s" % (i, raw[:1500])
    assert odkim_verify(raw, recs) == n
    return n


def send(p, tok, frm="scans@example.com", body="A scanned page.\r\n",
         extra=""):
    s = p.smtp_starttls()
    s.login(frm, tok)
    m = ("From: Office Printer <%s>\r\nTo: bob@example.org\r\n"
         "Subject: scan\r\n%s\r\n%s" % (frm, extra, body)).encode()
    try:
        s.sendmail(frm, ["bob@example.org"], m)
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def test_dual_signature_verifies():
    with Sink() as sink:
        p = setup(sink)
        try:
            recs = records(p)
            assert set(recs) == {"rsa2024._domainkey.example.com",
                                 "ed2024._domainkey.example.com"}, recs
            assert recs["ed2024._domainkey.example.com"].startswith(
                "v=DKIM1; k=ed25519; p=")
            tok, _ = p.add_token("scans@example.com")
            send(p, tok, body="Gr\u00fc\u00dfe \r\n\r\ntrailing blanks\r\n\r\n\r\n",
                 extra="Cc: a@example.org,\r\n\tb@example.org\r\n")
            env, raw = sink.wait_messages(1)[0]
            assert verify_all(raw, recs) == 2
            assert b"a=rsa-sha256" in raw and b"a=ed25519-sha256" in raw
            assert b"d=example.com" in raw
            p.wait_log(r"signd\[\d+\]: signed d=example\.com "
                       r"s=rsa2024,ed2024 request=")
            # a changed body byte, a changed signed header, an added From:
            for bad in (raw.replace(b"trailing blanks", b"trailing blankz"),
                        raw.replace(b"Subject: scan", b"Subject: scam"),
                        b"From: evil@example.net\r\n" + raw):
                d = dkim.DKIM(bad)
                n = len([h for h in d.headers
                         if h[0].lower() == b"dkim-signature"])
                assert n == 2
                for i in range(n):
                    try:
                        ok = d.verify(idx=i, dnsfunc=lambda name, timeout=5:
                                      recs[name.decode().rstrip(".")].encode())
                    except dkim.ValidationError:
                        ok = False
                    assert not ok, "tampered message %d verifies" % i
        finally:
            done(p)


def test_missing_key_defers_then_signs():
    with Sink() as sink:
        p = Postern(plain=False, starttls=True, relay=sink.url(), domains=(),
                    conf_extra=DOMAIN_BLOCK)
        p.ctl("dkim", "keygen", "example.com")
        p.start()
        try:
            tok, _ = p.add_token("scans@nokey.example")
            try:
                send(p, tok, frm="scans@nokey.example")
                raise AssertionError("mail without a key was accepted")
            except smtplib.SMTPDataError as e:
                assert 400 <= e.smtp_code < 500, e
            p.wait_log(r"signd\[\d+\]: sign deferred domain=nokey\.example")
            assert sink.messages() == []
            # posternctl dkim keygen has signd reload: the retry is signed
            p.ctl("dkim", "keygen", "nokey.example")
            send(p, tok, frm="scans@nokey.example")
            env, raw = sink.wait_messages(1)[0]
            assert verify_all(raw, records(p, "nokey.example")) == 1
        finally:
            done(p)


def _can_as(pw, argv):
    """Whether argv succeeds as pw's user with its group alone."""
    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return subprocess.run(argv, preexec_fn=drop,
                          capture_output=True).returncode == 0


def test_dns_and_key_files():
    with Sink() as sink:
        p = setup(sink)
        try:
            data = p.ctl_json("dkim", "dns", "example.com")
            by_sel = {i["selector"]: i for i in data["items"]}
            assert by_sel["rsa2024"]["algorithm"] == "rsa"
            assert by_sel["rsa2024"]["status"] == "ok"
            assert by_sel["rsa2024"]["record"].startswith("v=DKIM1; k=rsa; p=MII")
            r = p.ctl("dkim", "dns", "nokey.example")
            assert "unusable" in r.stdout, r.stdout
            r = p.ctl("dkim", "dns", "unknown.example", check=False)
            assert r.returncode != 0
            # the keys: root's, read by signd through its group, 0440 in
            # 0750 directories; signd owns nothing, so it can neither
            # chmod nor rewrite them nor swap a directory for a link
            sign_user = pwd.getpwnam("_postern-sign")
            kdir = os.path.join(p.root, "dkim", "example.com")
            st = os.lstat(kdir)
            assert st.st_uid == 0 and st.st_gid == sign_user.pw_gid, st
            assert st.st_mode & 0o777 == 0o750, oct(st.st_mode)
            assert not _can_as(sign_user, ["chmod", "0700", kdir])
            for name in os.listdir(kdir):
                path = os.path.join(kdir, name)
                st = os.lstat(path)
                assert st.st_uid == 0, name
                assert st.st_gid == sign_user.pw_gid, name
                assert st.st_mode & 0o777 == 0o440, oct(st.st_mode)
                assert _can_as(sign_user, ["cat", path]), path
                assert not _can_as(sign_user, ["chmod", "0600", path]), path
                for user in ("_postern-smtpd", "_postern-auth",
                             "_postern-queue", "_postern-relay", "nobody"):
                    assert not _can_as(pwd.getpwnam(user), ["cat", path]), \
                        "%s could read %s" % (user, path)
            # a second keygen never replaces a key
            r = p.ctl("dkim", "keygen", "example.com", "--algorithm", "rsa",
                      check=False)
            assert r.returncode != 0 and "exists" in r.stderr, r.stderr
        finally:
            done(p)


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_30mb_message_signed_in_bounded_memory():
    # 30 MB: the Sink (aiosmtpd) takes at most 32 MiB; the unit test
    # test_dkim_sign signs 50 MB in bounded memory.
    with Sink() as sink:
        p = setup(sink, limits={"message-size": "60M"})
        try:
            tok, _ = p.add_token("scans@example.com")
            signd = p.children()["signd"]
            before = vm_hwm_kb(signd)
            line = "0123456789 abcdefghij ABCDEFGHIJ  klmnop\tqrstuvwxyz .,;:\r\n"
            body = line * (30 * 1024 * 1024 // len(line))
            send(p, tok, body=body)
            env, raw = sink.wait_messages(1, timeout=120)[0]
            after = vm_hwm_kb(signd)
            assert after - before < 8 * 1024, (before, after)
            n = verify_all(raw, records(p))
            assert n == 2, (n, len(raw), raw[:2000])
        finally:
            done(p)
