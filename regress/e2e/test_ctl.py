"""posternctl against what others put in its answers: text from the
network must not reach the operator's terminal as escape sequences."""
import json

from postern_test import Postern, Sink

DEFERRED = r"queued: id=\w+ to=<[^>]*> .*status=deferred"
# A header that sets the terminal's title, rings its bell and clears the
# screen, and an 8-bit CSI (C1 control) for terminals not in UTF-8 mode.
SUBJECT = b"Subject: \x1b]2;owned\x07\x1b[2J\x9b1m caf\xc3\xa9"


def test_queue_show_prints_no_escape_sequences():
    with Sink(args=["--reply-rcpt", "grey@dest.test=451"]) as sink:
        with Postern(relay=sink.url(), queue={"retry-initial": "10m"}) as p:
            s = p.smtp()
            s.sendmail("dev@example.com", ["grey@dest.test"],
                       b"From: dev@example.com\r\n" + SUBJECT +
                       b"\r\n\r\nbody\r\n")
            s.quit()
            p.wait_log(DEFERRED, timeout=20)
            qid = p.ctl_json("queue", "list")["items"][0]["id"]
            out = p.ctl("queue", "show", qid).stdout
            assert "Subject: ?]2;owned??[2J?1m caf\u00e9" in out, out
            for c in range(0x20):
                assert chr(c) not in out.replace("\n", ""), (c, out)
            assert "\x7f" not in out and "\x9b" not in out
            # --json keeps the text, the controls escaped, and always
            # parses: a byte that is no UTF-8 becomes U+FFFD.
            r = p.ctl("queue", "show", qid, json_out=True)[1]
            assert "\x1b" not in r.stdout and "\\u001b" in r.stdout
            hdrs = [i.get("header") for i in json.loads(r.stdout)["items"]]
            want = "Subject: \x1b]2;owned\x07\x1b[2J\ufffd1m caf\u00e9"
            assert want in hdrs, hdrs
