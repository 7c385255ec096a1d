"""The privilege-separated process tree, supervision, and a first message
through all of it (issue 2)."""
import os
import pwd
import signal
import subprocess
import time

from postern_test import Postern, Sink, proc_exists, wait_for

CHILDREN = ("smtpd", "authd", "queued", "signd", "relayd")


def ids(pid):
    uid = gid = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = [int(x) for x in line.split()[1:]]
            if line.startswith("Gid:"):
                gid = [int(x) for x in line.split()[1:]]
            if line.startswith("Groups:"):
                groups = [int(x) for x in line.split()[1:]]
    return uid, gid, groups


def test_six_processes_users_and_chroots():
    with Postern() as p:
        kids = p.children()
        assert sorted(kids) == sorted(CHILDREN), kids
        roots = {"smtpd": "empty", "relayd": "empty", "authd": "auth",
                 "queued": "spool", "signd": "dkim"}
        seen_uids = set()
        for name, pid in kids.items():
            uid, gid, groups = ids(pid)
            # real, effective, saved and fs ids all dropped
            assert len(set(uid)) == 1 and uid[0] != 0, (name, uid)
            assert len(set(gid)) == 1 and gid[0] != 0, (name, gid)
            assert 0 not in groups, (name, groups)
            seen_uids.add(uid[0])
            root = os.readlink("/proc/%d/root" % pid)
            assert root == os.path.join(p.root, roots[name]), (name, root)
        assert len(seen_uids) == 5, "each child has its own user"
        # The master keeps root.
        uid, _, _ = ids(p.proc.pid)
        assert uid[0] == 0


def _can_read_as(user, path):
    pw = pwd.getpwnam(user)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    r = subprocess.run(["ls", path], preexec_fn=drop, capture_output=True)
    return r.returncode == 0


def test_private_directories_closed_to_other_children():
    with Postern() as p:
        users = {"smtpd": "_postern-smtpd", "authd": "_postern-auth",
                 "queued": "_postern-queue", "signd": "_postern-sign",
                 "relayd": "_postern-relay"}
        for owner, d in (("authd", "auth"), ("signd", "dkim"), ("queued", "spool")):
            path = os.path.join(p.root, d)
            for name, user in users.items():
                if name == owner:
                    assert _can_read_as(user, path), (user, path)
                else:
                    assert not _can_read_as(user, path), (user, "reads", path)


def test_signd_cannot_change_its_key_directory():
    # Root writes keys below the dkim-dir (posternctl dkim keygen): if
    # signd owned it, it could chmod it, swap a domain's directory for a
    # link and have root write elsewhere.  It may read it, nothing more.
    with Postern() as p:
        path = os.path.join(p.root, "dkim")
        st = os.stat(path)
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o750, oct(st.st_mode)
        assert _can_read_as("_postern-sign", path)
        pw = pwd.getpwnam("_postern-sign")

        def drop():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        r = subprocess.run(["chmod", "0700", path], preexec_fn=drop,
                           capture_output=True)
        assert r.returncode != 0, "signd's user could chmod the dkim-dir"


def test_kill9_of_each_child_stops_the_tree():
    for victim in CHILDREN:
        p = Postern()
        try:
            p.start()
            kids = p.children()
            os.kill(kids[victim], signal.SIGKILL)
            rc = p.wait_exit(20)
            assert rc != 0, "%s killed: master exited %s" % (victim, rc)
            for name, pid in kids.items():
                wait_for(lambda: not proc_exists(pid), 5, "%s gone" % name)
            assert "%s terminated by signal 9" % victim in p.log()
        finally:
            p.cleanup()


def test_sigterm_is_an_orderly_stop():
    p = Postern()
    try:
        p.start()
        kids = p.children()
        rc = p.stop()
        assert rc == 0, rc
        for pid in kids.values():
            assert not proc_exists(pid)
        assert not os.path.exists(os.path.join(p.root, "run", "control.sock"))
    finally:
        p.cleanup()


MSG = (b"From: Dev <dev@example.com>\r\n"
       b"To: rcpt@dest.test\r\n"
       b"Subject: first message\r\n"
       b"Message-ID: <first@example.com>\r\n"
       b"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
       b"\r\n"
       b"Hello through all of postern.\r\n"
       b".leading dot stays\r\n"
       b"\r\n"
       b"last line\r\n")


def _body(raw):
    return raw.split(b"\r\n\r\n", 1)[1]


def test_first_message_end_to_end():
    with Sink() as sink:
        with Postern(relay=sink.url()) as p:
            s = p.smtp()
            s.ehlo("client.test")
            s.sendmail("dev@example.com", ["rcpt@dest.test"], MSG)
            s.quit()
            msgs = sink.wait_messages(1)
            env, raw = msgs[0]
            assert env["mail_from"] == "dev@example.com"
            assert env["rcpt_tos"] == ["rcpt@dest.test"]
            assert _body(raw) == _body(MSG), raw
            assert raw.startswith(b"Received: ") or b"\r\nReceived: " in raw
            p.wait_log(r"status=sent")


def test_kill9_relayd_after_250_still_delivers():
    sink = Sink()
    p = Postern(relay=sink.url())
    try:
        p.start()
        s = p.smtp()
        s.ehlo("client.test")
        # The sink is not up: the first attempt fails and the message waits.
        s.sendmail("dev@example.com", ["rcpt@dest.test"], MSG)
        s.quit()
        p.wait_log(r"status=deferred")
        os.kill(p.children()["relayd"], signal.SIGKILL)
        assert p.wait_exit(20) != 0
        p.stop()
        sink.start()
        p.start()
        # Back-off after the crash; move the clock past it (an hour: less
        # than the delay-warning time, so only the message itself comes).
        p.ctl("clock", "advance", "3600")
        p.ctl("queue", "flush")
        msgs = sink.wait_messages(1, timeout=30)
        mine = [raw for env, raw in msgs if env["rcpt_tos"] == ["rcpt@dest.test"]]
        assert len(mine) == 1, [env for env, raw in msgs]
        assert _body(mine[0]) == _body(MSG)
    finally:
        p.cleanup()
        sink.stop()
