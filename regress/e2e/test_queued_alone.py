"""The real queued with its peers played by the test (queued_peers.py):
durability, recovery after kill -9, write errors, retries and expiry on the
test clock, notifications, control requests, protocol errors."""
import os
import random
import re
import subprocess
import tempfile
import time

from queued_peers import (Queued, RES_FAIL, RES_OK, RES_TEMPFAIL, MSG_Q_ABORT,
                          MSG_Q_DATA, MSG_Q_RCPT, MSG_CTL_REQ, MSG_CTL_DONE,
                          MSG_PING, MSG_PONG, CTL, R, W, parse_dsn)
import postern_test
from ipcpeer import HDR

MSG = (b"From: Scanner <scans@example.com>\r\nTo: a@example.org\r\n"
       b"Subject: scan %d\r\nMessage-ID: <%d@example.com>\r\n\r\n"
       b"page one\r\n.dot line\r\n")


def msg(n=0):
    return MSG % (n, n)


def test_commit_deliver_remove():
    with Queued() as q:
        data = msg(1)
        res, qid, reason = q.submit("scans@example.com",
                                    ["a@example.org", "b@Example.ORG", "c@example.net"], data)
        assert res == RES_OK and len(qid) == 16, (res, qid, reason)
        assert q.files("incoming") == []
        batches = sorted([q.relay_batch(), q.relay_batch()], key=lambda b: b["domain"].lower())
        assert q.files() == [qid, qid + ".env"], q.files()
        # The in-flight mark: the owner-execute bit, while the batches are out.
        env = os.path.join(q.spool, "queue", qid + ".env")
        assert os.stat(env).st_mode & 0o777 == 0o700, oct(os.stat(env).st_mode)
        # Grouped by domain, case-insensitively; the DKIM text travels apart.
        assert [len(b["rcpts"]) for b in batches] == [1, 2], batches
        for b in batches:
            assert b["qid"] == qid and b["sender"] == "scans@example.com"
            assert b["content"] == data, "message changed in the spool"
            assert b["prefix"].startswith(b"DKIM-Signature:")
            assert b["size"] == len(data) + len(b["prefix"])
        q.relay_results(batches[0], 250)
        # Recorded (a new envelope): the other batch is still out, so
        # the new envelope has the mark too.
        q.wait_log("id=%s to=<c@example.net>" % qid)
        assert os.stat(env).st_mode & 0o777 == 0o700, oct(os.stat(env).st_mode)
        q.relay_results(batches[1], 250)
        q.wait_log("id=%s removed: all recipients final" % qid)
        assert q.files() == []
        st = q.ctl("stats")[2][0]
        assert st["delivered"] == "3" and st["messages"] == "0", st
        # The log line of a delivery, Postfix-like.
        assert "id=%s to=<a@example.org> relay=mx.sink.test[127.0.0.9] status=sent dsn=2.0.0" % qid in q.log()


def test_delivered_files_are_used_again():
    # A delivered message's two files wait in free/, and the next message
    # is written over them: no inode is made or freed.  They keep their
    # blocks, so the next message, shorter, must be cut to its own size.
    with Queued() as q:
        long_msg = msg(1) + b"more text\r\n" * 500
        qid = q.submit("scans@example.com", ["a-long-local-part-indeed@example.org"],
                       long_msg)[1]
        q.relay_results(q.relay_batch(), 250)
        q.wait_log("id=%s removed: all recipients final" % qid)
        free = os.path.join(q.spool, "free")
        kept = {os.stat(os.path.join(free, f)).st_ino for f in q.files("free")}
        assert len(kept) == 2, q.files("free")
        qid2 = q.submit("scans@example.com", ["b@example.org"], msg(2))[1]
        b = q.relay_batch()
        assert b["qid"] == qid2 and b["content"] == msg(2), b
        assert q.files("free") == []
        used = {os.stat(os.path.join(q.spool, "queue", f)).st_ino for f in q.files()}
        assert used == kept, (used, kept)
        # Exactly its own bytes: recovery checks the size, signd and
        # relayd read to the end.
        assert os.stat(os.path.join(q.spool, "queue", qid2)).st_size == len(msg(2))
        # The old envelope had the in-flight mark: no file inherits it.
        st = os.stat(os.path.join(q.spool, "queue", qid2))
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        # The shorter envelope, read back after a restart, is whole.
        q.restart()
        q.wait_log("id=%s was in flight at a crash" % qid2)
        q.advance(61)
        b = q.relay_batch()
        assert b["qid"] == qid2 and b["rcpts"] == [(0, "b@example.org")], b
        q.relay_results(b, 250)
        q.wait_log("id=%s removed: all recipients final" % qid2)
        # At a start, strangers in free/ are removed.
        open(os.path.join(free, "stray"), "wb").close()
        q.restart()
        assert len(q.files("free")) == 2 and "stray" not in q.files("free"), q.files("free")


def test_group_commit_shares_syncs():
    n = 60
    # One batch at a time, so that deliveries (whose results are recorded
    # with syncs of their own) do not mix with the commits' syncs.
    with Queued(queue={"concurrency": "1"}) as q:
        ids = []
        for i in range(n):
            res, mid = q.open("scans@example.com")
            ids.append(mid)
            q.send_message(mid, ["a@example.org"], msg(i))
        # The signing answers arrive together, as from a busy signd: the
        # commits they complete are made in one pass of queued's loop and
        # share one sync, whatever the speed of the disk.
        q.answer_signs_at_once(n)
        got = [q.commit_res() for _ in range(n)]
        assert all(r[1] == RES_OK for r in got), got[:3]
        syncs = int(q.ctl("stats")[2][0]["syncs"])
        print("# %d commits, %d syncs" % (n, syncs))
        assert syncs <= n // 10, syncs


def test_abort_and_write_error_leave_nothing():
    with Queued() as q:
        res, mid = q.open("scans@example.com")
        q.smtpd.send(MSG_Q_RCPT, W().u64(mid).str("a@example.org"))
        q.smtpd.send(MSG_Q_DATA, W().u64(mid).bytes(b"partial"))
        q.smtpd.send(MSG_Q_ABORT, W().u64(mid))
        q.smtpd.send(MSG_Q_ABORT, W().u64(12345))    # crossed an answer: ignored
        postern_test.wait_for(lambda: q.files("incoming") == [], 5, "incoming empty")
        assert q.files() == []
        assert q.proc.poll() is None


def test_tiny_tmpfs_spool_tempfails():
    mnt = tempfile.mkdtemp(prefix="postern-tmpfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", mnt], check=True)
    try:
        with Queued(spool=os.path.join(mnt, "spool")) as q:
            big = msg(0) + b"x" * 998 + b"\r\n"
            big = big * 400          # about 400 KB: more than the disk
            res, mid = q.open("scans@example.com")
            q.send_message(mid, ["a@example.org"], big)
            _, res, qid, reason = q.commit_res()
            assert res == RES_TEMPFAIL and reason.startswith("452 4.3.1"), (res, reason)
            assert q.files("incoming") == [] and q.files() == []
            # A small one still goes through afterwards.
            res, qid, reason = q.submit("scans@example.com", ["a@example.org"], msg(1))
            assert res == RES_OK, reason
            assert q.relay_batch()["content"] == msg(1)
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


def test_sign_policies():
    with Queued() as q:
        # A token session whose signing fails: temporary failure, no file.
        res, qid, reason = q.submit("scans@example.com", ["a@example.org"], msg(1),
                                    token=0x1234, sign=RES_FAIL, reason="From: mismatch")
        assert res == RES_TEMPFAIL and reason.startswith("451 4.7.0"), reason
        assert q.files() == []
        # A no-auth session for an unsigned domain: queued unsigned.
        res, qid, reason = q.submit("test@unsigned.test", ["a@example.org"], msg(2),
                                    sign=RES_FAIL, reason="domain not configured for DKIM")
        assert res == RES_OK, reason
        b = q.relay_batch()
        assert b["prefix"] == b"" and b["content"] == msg(2)


def test_retry_backoff_then_expiry_bounce():
    with Queued(queue={"retry-initial": "60s", "retry-max": "240s",
                       "lifetime": "900s"}) as q:
        res, qid, _ = q.submit("scans@example.com", ["a@example.org"], msg(1))
        b = q.relay_batch()
        q.relay_results(b, 451, "4.7.1", "greylisted")
        q.wait_log("status=deferred")
        # Not before the back-off...
        q.advance(30)
        assert q.relayd.quiet(1.0)
        # ...but once it has passed (60s plus at most a tenth of jitter).
        q.advance(40)
        b = q.relay_batch()
        assert b["qid"] == qid
        q.relay_results(b, 451, "4.7.1", "greylisted")
        q.wait_log("status=deferred", 2)
        rows = q.ctl("list")[2]
        assert rows[0]["id"] == qid and "greylisted" in rows[0]["recipients"], rows
        # Keep failing until the lifetime is over.
        for _ in range(20):
            q.advance(300)
            try:
                b = q.relay_batch(timeout=2)
            except TimeoutError:
                break
            if b["sender"] == "":
                break
            q.relay_results(b, 451, "4.7.1", "greylisted")
        q.wait_log("status=expired")
        # The failure notice: null sender, to the original sender.
        if b["sender"] != "":
            b = q.relay_batch()
        assert b["sender"] == "" and b["rcpts"][0][1] == "scans@example.com", b
        m = parse_dsn(b["content"])
        assert m.get_content_type() == "multipart/report", m.get_content_type()
        assert m.get_param("report-type") == "delivery-status"
        parts = list(m.iter_parts())
        assert [p.get_content_type() for p in parts] == [
            "text/plain", "message/delivery-status", "text/rfc822-headers"]
        status = parts[1].get_payload()[1]
        assert status["Action"] == "failed" and status["Status"] == "4.4.7", str(status)
        assert "Subject: scan 1" in parts[2].get_content()
        q.relay_results(b, 250)


def test_permanent_failure_bounce_no_bounce_of_bounce():
    with Queued() as q:
        res, qid, _ = q.submit("scans@example.com", ["nobody@example.org"], msg(1))
        q.relay_results(q.relay_batch(), 550, "5.1.1", "no such user")
        dsn = q.relay_batch()
        assert dsn["sender"] == "" and dsn["prefix"] == b""
        parts = list(parse_dsn(dsn["content"]).iter_parts())
        st = parts[1].get_payload()[1]
        assert st["Status"] == "5.1.1" and "550 5.1.1 no such user" in st["Diagnostic-Code"]
        assert st["Remote-MTA"] == "dns; mx.sink.test"
        # The notice itself bounces: it is dropped, not bounced again.
        q.relay_results(dsn, 550, "5.1.1", "sender gone")
        q.wait_log("id=%s removed: all recipients final" % dsn["qid"])
        assert q.relayd.quiet(1.0)
        assert q.files() == []


def test_delay_warning_once():
    with Queued(queue={"delay-warning": "120s", "retry-initial": "100s"}) as q:
        q.submit("scans@example.com", ["a@example.org"], msg(1))
        q.relay_results(q.relay_batch(), 421, "4.4.2", "try later")
        q.advance(130)
        seen = []
        for _ in range(3):
            try:
                seen.append(q.relay_batch(timeout=3))
            except TimeoutError:
                break
        warn = [b for b in seen if b["sender"] == ""]
        assert len(warn) == 1, [(b["sender"], b["rcpts"]) for b in seen]
        st = list(parse_dsn(warn[0]["content"]).iter_parts())[1].get_payload()[1]
        assert st["Action"] == "delayed" and st["Will-Retry-Until"]


def test_control_commands():
    with Queued(queue={"retry-initial": "600s"}) as q:
        r1 = q.submit("scans@example.com", ["a@example.org"], msg(1), token=0xabc)[1]
        r2 = q.submit("other@example.com", ["b@example.org"], msg(2))[1]
        for b in (q.relay_batch(), q.relay_batch()):
            q.relay_results(b, 451, "4.3.2", "busy")
        q.wait_log("status=deferred", 2)
        st, text, rows = q.ctl("list")
        assert st == 0 and [r["id"] for r in rows] == sorted([r1, r2]), rows
        assert {"id", "age", "size", "sender", "state", "recipients"} <= set(rows[0])
        st, text, rows = q.ctl("list", token="abc")
        assert [r["id"] for r in rows] == [r1]
        st, text, rows = q.ctl("show", id=r1.lower())
        assert st == 0 and rows[0]["sender"] == "<scans@example.com>"
        assert rows[1]["rcpt"] == "a@example.org" and rows[1]["state"] == "pending"
        assert any(r.get("header", "").startswith("Subject: scan 1") for r in rows)
        # Bad requests are answers, never exits.
        for cmd, kv in (("show", {"id": "../../etc"}), ("show", {"id": "0" * 16}),
                        ("hold", {"id": "zz"}), ("delete", {}), ("hold", {"token": "xyz"})):
            st, text, _ = q.ctl(cmd, **kv)
            assert st != 0, (cmd, kv, text)
        assert q.proc.poll() is None
        # hold by token, flush leaves it held, release brings it back.
        assert q.ctl("hold", token="abc")[0] == 0
        assert q.ctl("list", token="abc")[2][0]["state"] == "held"
        assert q.ctl("flush")[0] == 0
        b = q.relay_batch()
        assert b["qid"] == r2, "a held message was flushed"
        q.relay_results(b, 250)
        assert q.relayd.quiet(1.0)
        assert q.ctl("release", id=r1)[0] == 0
        b = q.relay_batch()
        assert b["qid"] == r1
        q.relay_results(b, 451, "4.3.2", "busy")
        q.wait_log("status=deferred", 3)
        assert q.ctl("delete", id=r1)[0] == 0
        assert q.ctl("list")[2] == []
        postern_test.wait_for(lambda: q.files() == [], 5, "spool empty")


def ctl_with_ping(q, cmd, **kv):
    """A control request with a health check right behind it, in the same
    write, so that it is there to be read at once: (status, text, whether
    the ping was answered before the request)."""
    q.reqid += 1
    w = W().u32(CTL[cmd]).u32(len(kv))
    for k, v in kv.items():
        w.str(k).str(v)
    ping = W().u32(7).data
    q.master.sock.sendall(HDR.pack(MSG_CTL_REQ, len(w.data), q.reqid, 0) +
                          w.data + HDR.pack(MSG_PING, len(ping), 0, 0) + ping)
    ponged = False
    while True:
        t, peerid, p, _ = q.master.recv(30)
        if t == MSG_PONG:
            ponged = True
        elif t == MSG_CTL_DONE and peerid == q.reqid:
            r = R(p)
            return r.u32(), r.str(), ponged


def test_list_in_pages():
    # More messages than one page of `queue list' (200): every one is
    # listed once, in id order, and the process answers between pages.
    n = 450
    with Queued(queue={"concurrency": "1"}) as q:
        qids = [q.submit("scans@example.com", ["a@example.org"], msg(i),
                         token=0xabc if i % 3 == 0 else 0)[1] for i in range(n)]
        st, text, rows = q.ctl("list")
        assert st == 0 and text == "%d message(s)" % n, text
        assert [r["id"] for r in rows] == sorted(qids)
        st, text, rows = q.ctl("list", token="abc")
        assert st == 0 and [r["id"] for r in rows] == sorted(qids[::3]), text
        # A health check sent behind the request is answered before the
        # listing ends: the event loop is not held for the whole queue.
        st, text, ponged = ctl_with_ping(q, "list")
        assert st == 0 and ponged, "no answer to the ping during the listing"
        assert q.proc.poll() is None


def test_change_by_token_in_slices():
    # hold, release and delete by token rewrite or remove every message
    # of the token: thousands of them are done a slice at a time, the
    # event loop answering the master's health checks in between (done
    # in one pass, a large token stopped the whole tree), and the answer
    # counts them all.
    n = 3000
    with Queued(queue={"concurrency": "1"}) as q:
        # the first ones, one of which relayd holds, are of no token
        qids = [q.submit("scans@example.com", ["a@example.org"], msg(i),
                         token=0xabc if i >= 10 and i % 3 else 0)[1]
                for i in range(n)]
        mine = {qid for i, qid in enumerate(qids) if i >= 10 and i % 3}
        for cmd, verb in (("hold", "held"), ("release", "released"),
                          ("hold", "held"), ("delete", "deleted")):
            st, text, ponged = ctl_with_ping(q, cmd, token="abc")
            assert st == 0 and text == "%d message(s) %s" % (len(mine), verb), text
            assert ponged, "no answer to the ping during queue %s" % cmd
            rows = q.ctl("list", token="abc")[2]
            if cmd == "hold":
                assert {r["id"] for r in rows} == mine
                assert {r["state"] for r in rows} == {"held"}, rows[:3]
            elif cmd == "release":
                assert "held" not in {r["state"] for r in rows}
        assert q.ctl("list", token="abc")[2] == []
        left = {r["id"] for r in q.ctl("list")[2]}
        assert left == set(qids) - mine, len(left)
        postern_test.wait_for(lambda: len(q.files()) == 2 * len(left), 10,
                              "the deleted messages' files gone")
        # flush of every message goes in slices too
        st, text, ponged = ctl_with_ping(q, "flush")
        assert st == 0 and ponged, text
        assert q.proc.poll() is None


def test_remote_reply_stays_one_log_field():
    # The reply text is the remote server's: quotes in it are escaped, so
    # it cannot end reply="..." and add a status of its own.
    with Queued(queue={"retry-initial": "600s"}) as q:
        q.submit("scans@example.com", ["a@example.org"], msg(1))
        q.relay_results(q.relay_batch(), 451, "4.3.2",
                        'busy" status=sent dsn=2.0.0 x="')
        q.wait_log("status=deferred")
        line = [l for l in q.log().splitlines() if "status=deferred" in l][-1]
        fields = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)
        assert [v for k, v in fields if k == "status"] == ["deferred"], line
        assert ("reply", '"451 busy\\" status=sent dsn=2.0.0 x=\\""') in fields, line


def test_kill9_recovery_backoff_and_crash_hold():
    with Queued(queue={"crash-hold": "2", "retry-initial": "60s"}) as q:
        qid = q.submit("scans@example.com", ["a@example.org"], msg(1))[1]
        q.relay_batch()                         # in flight, never answered
        q.restart()
        q.wait_log("was in flight at a crash")
        assert q.relayd.quiet(1.0), "retried at once after a crash"
        q.advance(61)
        assert q.relay_batch()["qid"] == qid    # after the back-off
        q.restart()                             # second crash in flight
        q.wait_log("id=%s held: in flight at 2 crashes" % qid)
        q.advance(3600)
        assert q.relayd.quiet(1.0), "a crash-held message was sent"
        assert q.ctl("show", id=qid)[2][0]["state"] == "crash-held"
        assert q.ctl("release", id=qid)[0] == 0
        b = q.relay_batch()
        q.relay_results(b, 250)
        q.wait_log("id=%s removed" % qid)


def test_kill9_during_submissions_loses_nothing():
    """kill -9 at random moments while messages are submitted: every
    acknowledged message is delivered after the restart (losses 0); a
    message delivered twice is counted (relayd reported it, the record
    was not yet on disk)."""
    random.seed(5)
    acked, delivered = set(), {}
    # The fake relayd leaves batches unanswered at every kill: with the
    # default crash-hold those messages would (rightly) be held.
    with Queued(queue={"crash-hold": "100", "lifetime": "30d"}) as q:
        for rnd in range(8):
            pending = []
            for i in range(random.randint(5, 25)):
                res, mid = q.open("scans@example.com")
                q.send_message(mid, ["a%d@example.org" % i], msg(rnd * 100 + i))
                pending.append(mid)
            cut = random.randint(0, len(pending))
            try:
                for _ in range(cut):
                    q.answer_sign()
                deadline = time.time() + random.uniform(0, 0.05)
                while time.time() < deadline:
                    mid, res, qid, _ = q.commit_res(timeout=0.05)
                    if res == RES_OK:
                        acked.add(qid)
            except TimeoutError:
                pass
            # Deliver some of what is there, then kill in the middle.
            try:
                for _ in range(random.randint(0, 3)):
                    b = q.relay_batch(timeout=0.2)
                    delivered[b["qid"]] = delivered.get(b["qid"], 0) + 1
                    q.relay_results(b, 250)
            except TimeoutError:
                pass
            q.restart()
        # Now let everything be delivered (past the crash back-off).
        q.advance(120)
        while True:
            try:
                b = q.relay_batch(timeout=3)
            except TimeoutError:
                break
            delivered[b["qid"]] = delivered.get(b["qid"], 0) + 1
            q.relay_results(b, 250)
        lost = acked - set(delivered)
        dups = sum(1 for v in delivered.values() if v > 1)
        print("# acknowledged %d, delivered %d, lost %d, duplicates %d"
              % (len(acked), len(delivered), len(lost), dups))
        assert not lost, lost
        assert q.files("incoming") == []


def test_peer_protocol_error_is_fatal():
    with Queued() as q:
        q.smtpd.send(MSG_Q_RCPT, W().u64(0xdead).str("a@example.org"))
        q.proc.wait(10)
        assert q.proc.returncode != 0
        assert "protocol error" in q.log()


def test_concurrency_per_domain():
    with Queued(queue={"concurrency-per-domain": "1"}) as q:
        for i in range(3):
            q.submit("scans@example.com", ["a%d@example.org" % i], msg(i))
        q.submit("scans@example.com", ["x@example.net"], msg(9))
        got = [q.relay_batch(), q.relay_batch()]
        assert sorted(b["domain"] for b in got) == ["example.net", "example.org"]
        assert q.relayd.quiet(1.0), "two batches for one domain at once"
        for b in got:
            q.relay_results(b, 250)
        b = q.relay_batch()
        assert b["domain"] == "example.org"
        q.relay_results(b, 250)
        q.relay_results(q.relay_batch(timeout=15), 250)
        q.wait_log("removed: all recipients final", 4)
