#!/usr/bin/env python3
"""sink.py: a scriptable receiving SMTP server for postern's tests.

Stores each accepted message as NNNNNN.eml (the exact bytes of DATA, as
aiosmtpd hands them over, CRLF line ends) and NNNNNN.json (mail_from,
rcpt_tos, peer, the session's connection number).  Options script
failures:
    --reply CMD=CODE     answer CMD (MAIL, RCPT, DATA, EOM) with CODE
    --reply-rcpt ADDR=CODE   a given recipient gets CODE
    --no-pipelining, --no-8bitmime, --tls CERT,KEY (offer STARTTLS)
    --close-in-data      drop the connection in the middle of DATA
    --delay CMD=SECONDS  answer CMD after a delay
"""
import argparse
import asyncio
import itertools
import json
import os
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, syntax

ap = argparse.ArgumentParser()
ap.add_argument("--ip", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--reply", action="append", default=[])
ap.add_argument("--reply-rcpt", action="append", default=[])
ap.add_argument("--no-pipelining", action="store_true")
ap.add_argument("--no-8bitmime", action="store_true")
ap.add_argument("--tls", default=None)
ap.add_argument("--close-in-data", action="store_true")
ap.add_argument("--delay", action="append", default=[])
args = ap.parse_args()

replies = dict(r.split("=", 1) for r in args.reply)
rcpt_replies = dict(r.split("=", 1) for r in args.reply_rcpt)
delays = {k: float(v) for k, v in (d.split("=", 1) for d in args.delay)}
counter = itertools.count(1)
conn_counter = itertools.count(1)


def code_line(code):
    code = code.strip()
    if " " in code:
        return code
    return "%s %s.0.0 scripted reply" % (code, code[0]) if code[0] in "245" else code


class Handler:
    async def handle_MAIL(self, server, session, envelope, address, options):
        if "MAIL" in delays:
            await asyncio.sleep(delays["MAIL"])
        if "MAIL" in replies:
            return code_line(replies["MAIL"])
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if "RCPT" in delays:
            await asyncio.sleep(delays["RCPT"])
        if address in rcpt_replies:
            return code_line(rcpt_replies[address])
        if "RCPT" in replies:
            return code_line(replies["RCPT"])
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if "EOM" in delays:
            await asyncio.sleep(delays["EOM"])
        if "EOM" in replies:
            return code_line(replies["EOM"])
        n = next(counter)
        base = os.path.join(args.dir, "%06d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".eml.tmp", base + ".eml")
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "peer": list(session.peer)[:2] if session.peer else None,
                "conn": getattr(session, "postern_conn", 0),
                "tls": session.ssl is not None}
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 stored as %06d" % n


class SinkSMTP(SMTP):
    def _set_rset_state(self):
        super()._set_rset_state()

    async def smtp_EHLO(self, arg):
        if not hasattr(self.session, "postern_conn"):
            self.session.postern_conn = next(conn_counter)
        if "EHLO" in replies:
            await self.push(code_line(replies["EHLO"]))
            return
        return await super().smtp_EHLO(arg)

    async def smtp_DATA(self, arg):
        if "DATA" in replies:
            await self.push(code_line(replies["DATA"]))
            return
        if args.close_in_data:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.read(10)
            self.transport.close()
            return
        return await super().smtp_DATA(arg)


class SinkController(Controller):
    def factory(self):
        kw = dict(enable_SMTPUTF8=True, decode_data=False,
                  hostname="sink.test")
        if args.tls:
            import ssl
            cert, key = args.tls.split(",")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            kw["tls_context"] = ctx
            kw["require_starttls"] = False
        s = SinkSMTP(self.handler, **kw)
        if args.no_8bitmime:
            s.command_size_limits = dict(s.command_size_limits)
        return s


ctl = SinkController(Handler(), hostname=args.ip, port=args.port)
ctl.start()
print("sink listening on %s:%d" % (args.ip, args.port), flush=True)
try:
    asyncio.get_event_loop_policy()
    import signal
    import threading
    ev = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: ev.set())
    signal.signal(signal.SIGINT, lambda *a: ev.set())
    while not ev.is_set():
        ev.wait(0.5)
finally:
    ctl.stop()
