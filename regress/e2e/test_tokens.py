"""SMTP tokens through the real daemon (issue 3): posternctl token
add/list/delete against posternd, logins over SMTP with STARTTLS, revocation
of open sessions, kill -9 of authd during a batch of adds, and the control
socket's refusal of unprivileged users.

test_authd.py tests authd alone through its channels; this file tests what
an operator and a device see.
"""
import grp
import json
import os
import pwd
import re
import signal
import smtplib
import subprocess
import threading
import zlib

from postern_test import Postern, proc_exists, wait_for

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TOKEN_RE = re.compile(r"pstn_[0-9a-hjkmnp-tv-z]{33}")
LIST_KEYS = {"id", "name", "address", "account", "created", "last_used", "last_client"}


def token_ok(tok):
    if not TOKEN_RE.fullmatch(tok):
        return False
    v = 0
    for c in tok[31:]:
        v = v * 32 + ALPHABET.index(c)
    return v == zlib.crc32(tok[5:31].encode())


def message(sender):
    return ("From: Printer <%s>\r\n"
            "To: rcpt@dest.test\r\n"
            "Subject: scan\r\n"
            "Message-ID: <%s@example.com>\r\n"
            "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
            "\r\n"
            "Your scan.\r\n" % (sender, os.urandom(6).hex())).encode()


def login(p, user, token):
    s = p.smtp_starttls()
    s.login(user, token)
    return s


def login_fails(p, user, token):
    s = p.smtp_starttls()
    try:
        s.login(user, token)
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code, e.smtp_error
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    raise AssertionError("login as %s succeeded" % user)


def kv_lines(out):
    """'key   value' lines of posternctl's human output."""
    d = {}
    for line in out.splitlines():
        m = re.match(r"(\w+)\s+(.*)$", line)
        if m:
            d.setdefault(m.group(1), m.group(2))
    return d


def test_add_list_delete_table_and_json():
    with Postern(starttls=True) as p:
        r = p.ctl("token", "add", "--name", "office printer", "--address",
                  "Scans@Example.com")
        out = kv_lines(r.stdout)
        assert token_ok(out["token"]), r.stdout
        assert out["address"] == "scans@example.com", r.stdout
        assert re.fullmatch(r"[0-9a-f]{16}", out["id"]), r.stdout
        assert "not be shown again" in r.stdout
        printer_id = out["id"]

        data = p.ctl_json("token", "add", "--name", "wordpress", "--address",
                          "wp@example.com", "--account", "cust-7")
        assert data["status"] == "ok"
        item = data["items"][0]
        assert token_ok(item["token"]) and item["account"] == "cust-7"

        # The human table: a header, one aligned row per token.
        r = p.ctl("token", "list")
        lines = r.stdout.rstrip("\n").splitlines()
        assert lines[0].split() == ["ID", "NAME", "ADDRESS", "ACCOUNT", "CREATED",
                                    "LAST_USED", "LAST_CLIENT"], lines[0]
        assert len(lines) == 3, r.stdout
        # Cut each row at the header's column positions: aligned columns
        # give back each field whole.
        starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
        ends = starts[1:] + [None]
        rows = [[line[a:b].strip() for a, b in zip(starts, ends)] for line in lines[1:]]
        byname = {r[1]: r for r in rows}
        assert byname["office printer"][:4] == [printer_id, "office printer",
                                                "scans@example.com", ""], rows
        assert byname["wordpress"][2:4] == ["wp@example.com", "cust-7"], rows
        assert byname["wordpress"][5:] == ["never", ""], rows
        assert "office printer" in r.stdout and "never" in r.stdout
        assert not TOKEN_RE.search(r.stdout), "a token shown again"

        # JSON: stable keys, no token.
        data = p.ctl_json("token", "list")
        assert data["status"] == "ok" and len(data["items"]) == 2
        for it in data["items"]:
            assert set(it) == LIST_KEYS, it
            assert it["last_used"] == "never"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", it["created"])
        assert [i["name"] for i in p.ctl_json("token", "list", "--address",
                                              "scans@example.com")["items"]] == ["office printer"]
        assert [i["name"] for i in p.ctl_json("token", "list", "--account",
                                              "cust-7")["items"]] == ["wordpress"]

        # Delete by id, then by address and name.
        r = p.ctl("token", "delete", printer_id)
        assert "deleted" in r.stdout
        p.ctl("token", "delete", "--address", "wp@example.com", "--name", "wordpress")
        assert p.ctl_json("token", "list")["items"] == []

        # Unknown ids and names: a clear error, exit 1.
        r = p.ctl("token", "delete", printer_id, check=False)
        assert r.returncode == 1 and "no token with id" in r.stderr, r.stderr
        r = p.ctl("token", "delete", "--address", "wp@example.com", "--name", "x",
                  check=False)
        assert r.returncode == 1 and "no token named" in r.stderr, r.stderr
        data, r = p.ctl("token", "delete", "nothex", check=False, json_out=True)
        assert r.returncode == 1 and data["status"] == "error" and data["message"]


def test_bad_input_clear_errors_nothing_stored():
    with Postern() as p:
        p.add_token("scans@example.com", "office printer")
        cases = [
            (["--name", "", "--address", "scans@example.com"], "empty"),
            (["--name", "x" * 200, "--address", "scans@example.com"], "long"),
            (["--name", "ok", "--address", "not-an-address"], "address"),
            (["--name", "ok", "--address", "scans@example.org"], "not configured"),
            (["--name", "office printer", "--address", "scans@example.com"],
             "already has a token"),
            (["--name", "ok", "--address", "scans@example.com", "--account", "a b"],
             "account"),
        ]
        for args, word in cases:
            r = p.ctl("token", "add", *args, check=False)
            assert r.returncode == 1, (args, r.stdout, r.stderr)
            assert word in r.stderr.lower(), (args, r.stderr)
            assert not TOKEN_RE.search(r.stdout)
        assert len(p.ctl_json("token", "list")["items"]) == 1
        # Still serving.
        p.ctl("ping")


def test_login_and_last_use():
    with Postern(starttls=True) as p:
        tok, item = p.add_token("scans@example.com", "scanner")
        s = login(p, "scans@example.com", tok)
        # The token's address may open a transaction (MAIL FROM asks authd).
        assert s.mail("scans@example.com")[0] == 250
        s.rset()
        s.quit()
        it = p.ctl_json("token", "list")["items"][0]
        assert it["last_used"] != "never", it
        assert it["last_client"].startswith("127."), it
        assert re.search(r"login session=\S+ client=127\.\S+ token=%s" % item["id"],
                         p.log()), p.log()[-2000:]


def test_wrong_token_unknown_user_and_password_fail_alike():
    with Postern(starttls=True) as p:
        tok, _ = p.add_token("scans@example.com")
        other, _ = p.add_token("wp@example.com")
        body = "".join(ALPHABET[b & 31] for b in os.urandom(26))
        v = zlib.crc32(body.encode())
        wrong = "pstn_" + body + "".join(ALPHABET[(v >> (5 * i)) & 31]
                                         for i in range(6, -1, -1))
        assert token_ok(wrong)
        mistyped = tok[:20] + ("x" if tok[20] != "x" else "y") + tok[21:]
        answers = set()
        for user, t in (("scans@example.com", wrong),          # wrong token
                        ("nobody@example.com", tok),           # unknown user
                        ("scans@example.com", other),          # another's token
                        ("scans@example.com", "Winter2024!"),  # an account password
                        ("scans@example.com", mistyped)):      # a typing mistake
            answers.add(login_fails(p, user, t))
        assert len(answers) == 1, answers
        code, _ = answers.pop()
        assert code == 535
        # Each failure is logged with the client address, for fail2ban.
        assert len(re.findall(r"auth=failed .*client=127\.", p.log())) >= 5
        # The right one still works.
        login(p, "scans@example.com", tok).quit()


def test_delete_revokes_new_logins_and_open_sessions():
    with Postern(starttls=True) as p:
        tok, item = p.add_token("scans@example.com")
        keep, _ = p.add_token("scans@example.com", "other device")
        s = login(p, "scans@example.com", tok)
        code, _ = s.mail("scans@example.com")
        assert code == 250
        s.rset()

        p.ctl("token", "delete", item["id"])
        # A new login fails at once...
        assert login_fails(p, "scans@example.com", tok)[0] == 535
        # ...and the session that logged in before cannot start a new
        # transaction: 421, and the session is closed.
        code, msg = s.mail("scans@example.com")
        assert code == 421 and b"revoked" in msg, (code, msg)
        try:
            s.noop()
            raise AssertionError("session still open")
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            pass
        # The other token of the same address is untouched.
        login(p, "scans@example.com", keep).quit()


def test_kill9_authd_during_token_adds():
    p = Postern(starttls=True)
    try:
        p.start()
        reported = []
        stop = threading.Event()

        def adder():
            for i in range(300):
                if stop.is_set():
                    return
                data, r = p.ctl("token", "add", "--name", "k%03d" % i, "--address",
                                "kill@example.com", check=False, json_out=True)
                if r.returncode != 0 or not data or data["status"] != "ok":
                    return
                reported.append(data["items"][0])
        t = threading.Thread(target=adder)
        t.start()
        wait_for(lambda: len(reported) >= 15, 60, "15 tokens added")
        authd = p.children()["authd"]
        os.kill(authd, signal.SIGKILL)
        # The whole tree stops; the adds in flight fail.
        assert p.wait_exit(20) != 0
        stop.set()
        t.join(60)
        wait_for(lambda: not proc_exists(authd), 5, "authd gone")
        p.stop()

        p.start()   # same directory, same token key: recovery runs
        items = {i["name"]: i for i in p.ctl_json("token", "list", "--address",
                                                  "kill@example.com")["items"]}
        for it in reported:
            assert it["name"] in items, it["name"]
            assert items[it["name"]]["id"] == it["id"]
        for it in items.values():
            assert set(it) == LIST_KEYS and it["address"] == "kill@example.com"
        assert len(items) <= len(reported) + 1     # at most the one in flight
        # Tokens whose creation was reported log in.
        for it in (reported[0], reported[-1]):
            login(p, "kill@example.com", it["token"]).quit()
        # The store still works: new tokens, duplicate names refused.
        p.add_token("kill@example.com", "after the crash")
        r = p.ctl("token", "add", "--name", "k000", "--address", "kill@example.com",
                  check=False)
        assert r.returncode == 1
    finally:
        p.cleanup()


def test_unprivileged_user_refused_by_control_socket():
    with Postern() as p:
        for args in (("token", "list"),
                     ("token", "add", "--name", "x", "--address", "x@example.com")):
            r = p.ctl(*args, check=False, as_user="nobody")
            assert r.returncode != 0, r.stdout
            assert not TOKEN_RE.search(r.stdout)
        assert p.ctl_json("token", "list")["items"] == []
        p.ctl("ping")

        # The same user with the control group ("postern") as its group
        # is let in.
        pw, gr = pwd.getpwnam("nobody"), grp.getgrnam("postern")

        def as_group_member():
            os.setgroups([])
            os.setgid(gr.gr_gid)
            os.setuid(pw.pw_uid)
        r = subprocess.run([os.path.join(p.bin, "posternctl"), "-f", p.conf, "-s",
                            os.path.join(p.root, "run", "control.sock"), "--json",
                            "token", "add", "--name", "panel", "--address",
                            "x@example.com"],
                           capture_output=True, text=True, timeout=30,
                           preexec_fn=as_group_member)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert token_ok(json.loads(r.stdout)["items"][0]["token"])


FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def test_token_name_cannot_forge_log_fields():
    # A name is free text: with quotes in it, it must still be one field
    # of the log line, and the address the one authd wrote.
    name = 'x" address=victim@example.com note="'
    with Postern() as p:
        tok, item = p.add_token("scans@example.com", name=name)
        p.ctl("token", "delete", item["id"])
        for event in ("token added", "token deleted"):
            line = [l for l in p.log().splitlines() if event in l][-1]
            fields = FIELD.findall(line.split(event, 1)[1])
            assert [v for k, v in fields if k == "address"] == ["scans@example.com"], line
            assert ("name", '"x\\" address=victim@example.com note=\\""') in fields, line
