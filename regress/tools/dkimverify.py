#!/usr/bin/env python3
"""dkimverify.py: verify every DKIM-Signature of a message with dkimpy
(python3-dkim), the public keys given in files instead of the DNS.

    dkimverify.py --pubkey FILE [--pubkey FILE ...] MESSAGE

Each FILE holds lines "NAME RECORD" (NAME like sel._domainkey.example.com,
RECORD the TXT text "v=DKIM1; k=...; p=..."), or one bare RECORD that
answers for any name.  Prints one line per signature ("pass d=... s=...
a=..." or "fail ...") and exits 0 when there is at least one signature
and every one passes, 1 when any fails or there is none, and 2 when the
dkim module (or nacl, for ed25519) is missing: a test must not mistake a
missing verifier for a verdict.
"""
import argparse
import sys

try:
    import dkim
    import nacl.signing  # noqa: F401 (dkimpy needs it for ed25519)
except ImportError as e:
    sys.stderr.write("dkimverify.py: %s: install python3-dkim and "
                     "python3-nacl\n" % e)
    sys.exit(2)


def load_keys(files):
    names, anyrec = {}, None
    for fn in files:
        with open(fn) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if line.startswith("v=DKIM1"):
                    anyrec = line
                    continue
                name, rec = line.split(None, 1)
                names[name.rstrip(".").lower()] = rec
    return names, anyrec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pubkey", action="append", required=True)
    ap.add_argument("message")
    args = ap.parse_args()
    names, anyrec = load_keys(args.pubkey)

    def dnsfunc(name, timeout=5):
        n = name.decode("ascii", "replace").rstrip(".").lower()
        rec = names.get(n, anyrec)
        return rec.encode() if rec else None

    with open(args.message, "rb") as f:
        msg = f.read()
    try:
        d = dkim.DKIM(msg)
    except Exception as e:  # dkimpy's parser raises plain errors too
        print("fail: unparseable message: %s" % e)
        return 1
    nsig = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    if nsig == 0:
        print("fail: no DKIM-Signature")
        return 1
    bad = 0
    for i in range(nsig):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
            why = ""
        except dkim.DKIMException as e:
            ok, why = False, str(e)
        tags = d.signature_fields or {}
        desc = " ".join("%s=%s" % (k, tags.get(k.encode(), b"?").decode())
                        for k in ("d", "s", "a"))
        print("%s %s %s" % ("pass" if ok else "fail", desc, why))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
