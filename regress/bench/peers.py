#!/usr/bin/env python3
"""peers.py: the same throughput workloads as run.py, against Postfix,
OpenSMTPD and Exim (make bench-peers).

    python3 regress/bench/peers.py [--build DIR] [--runs 5] [--seconds 30]
                                   [--warmup 5] [--only postfix,opensmtpd,exim]
                                   [--sizes 2048,102400] [--drain-timeout 180]
                                   [--keep] [--setup-only]

The peers come from Debian's own packages, fetched with `apt-get download'
and unpacked with `dpkg -x' side by side under a cache directory
(/var/tmp/postern-peers, or $POSTERN_PEERS_CACHE); none of them is
installed, so none becomes the system's MTA.  Only the shared libraries
they link against are installed with apt-get, and the system users they
drop privileges to are created (idempotently).

Every peer is configured alike (regress/bench/peers/*.in): STARTTLS on a
submission listener on a loopback address of its own, AUTH PLAIN
required, DKIM signing with RSA-2048 and Ed25519 (relaxed/relaxed),
everything relayed to a benchsink on loopback, syncs as the peer does by
default.  Each run starts a fresh instance (own config, spool and ports),
drives it with loadgen (50 sessions x 20 messages, steady state -d/-w),
and ends only when the sink has every message the peer accepted (its
queue is empty; a run whose queue has not emptied --drain-timeout seconds
after the load is marked so).  Besides loadgen's figures (messages
accepted per second in the window, acceptance latency), each run gives an
end-to-end rate: messages delivered over the time from the start of the
load to the last delivery.  The first delivered message is verified with
python3-dkim, its DNS lookups answered from the keys made here.  The
figures are the medians of --runs runs; they are printed next to
postern's from DIR/bench.json (if present) with postern's ratio to the
best peer, and written to DIR/bench-peers.json.

Processes are started and stopped by pid only; every wait is bounded.
"""
import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BenchSink, Progress, dkim_verify, free_port, parse_kv, pick_ip

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CONFDIR = os.path.join(HERE, "peers")

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--seconds", type=int, default=30)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--only", default=None, help="comma list of peers")
ap.add_argument("--sizes", default="2048,102400", help="comma list of message sizes")
ap.add_argument("--drain-timeout", type=int, default=180,
                help="seconds to wait for the queue to empty after the load")
ap.add_argument("--keep", action="store_true", help="keep each run's directory")
ap.add_argument("--setup-only", action="store_true")
args = ap.parse_args()

BUILD = os.path.abspath(os.path.join(TOP, args.build))
LOADGEN = os.path.join(BUILD, "regress", "bench", "loadgen")
SINK = os.path.join(BUILD, "regress", "bench", "benchsink")
CACHE = os.environ.get("POSTERN_PEERS_CACHE", "/var/tmp/postern-peers")
DEBS = os.path.join(CACHE, "debs")
ROOT = os.path.join(CACHE, "root")
SESSIONS, MSGS = 50, 20
USER = "bench@example.com"
DOMAIN = "example.com"
SEL_RSA, SEL_ED = "brsa", "bed"

# Debian packages unpacked (never installed), and what must be installed
# besides their own library dependencies: Cyrus SASL's PLAIN and sasldb
# plugins are loaded at run time, not linked.
PACKAGES = ["postfix", "opendkim", "sasl2-bin", "opensmtpd",
            "opensmtpd-filter-dkimsign", "exim4-daemon-light"]
EXTRA_LIBS = ["libsasl2-modules", "libsasl2-modules-db"]
USERS = [("postfix", "postfix"), ("opendkim", "opendkim"),
         ("opensmtpd", "opensmtpd"), ("opensmtpq", "opensmtpq"),
         ("Debian-exim", "Debian-exim")]
GROUPS = ["postdrop"]


def log(msg):
    sys.stderr.write("peers: %s\n" % msg)
    sys.stderr.flush()


def sh(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, **kw)


def deadline_loop(seconds, interval):
    """Yields until `seconds' pass, sleeping `interval' between turns."""
    end = time.time() + seconds
    while time.time() < end:
        yield
        time.sleep(interval)


# ---------------------------------------------------------------------
# Setting up: packages, libraries, users, python3-dkim.

def pkgroot(pkg):
    return os.path.join(ROOT, pkg)


def fetch_packages():
    os.makedirs(DEBS, exist_ok=True)
    have = os.listdir(DEBS)
    missing = [p for p in PACKAGES if not any(f.startswith(p + "_") for f in have)]
    if missing:
        log("apt-get download %s" % " ".join(missing))
        r = sh(["apt-get", "download"] + missing, cwd=DEBS, check=False)
        if r.returncode != 0:
            sh(["apt-get", "update", "-q"])
            sh(["apt-get", "download"] + missing, cwd=DEBS)
    debs = {}
    for p in PACKAGES:
        files = sorted(f for f in os.listdir(DEBS) if f.startswith(p + "_") and f.endswith(".deb"))
        if not files:
            sys.exit("peers: %s did not download" % p)
        debs[p] = os.path.join(DEBS, files[-1])
    for p, deb in debs.items():
        stamp = os.path.join(pkgroot(p), ".unpacked")
        mark = os.path.basename(deb)
        if os.path.exists(stamp) and open(stamp).read() == mark:
            continue
        shutil.rmtree(pkgroot(p), ignore_errors=True)
        os.makedirs(pkgroot(p))
        sh(["dpkg", "-x", deb, pkgroot(p)])
        with open(stamp, "w") as f:
            f.write(mark)
    return debs


def installed(pkg):
    r = sh(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return r.returncode == 0 and "install ok installed" in r.stdout


def install_libraries(debs):
    want = set(EXTRA_LIBS)
    for deb in debs.values():
        r = sh(["dpkg-deb", "-f", deb, "Depends"])
        for dep in r.stdout.split(","):
            name = dep.split("|")[0].strip().split(" ")[0].split(":")[0]
            # Only shared libraries: never a daemon, never adduser &c.
            if name.startswith("lib") or name.startswith("zlib"):
                want.add(name)
    missing = sorted(p for p in want if not installed(p))
    if missing:
        log("apt-get install %s" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = sh(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing,
               env=env, check=False)
        if r.returncode != 0:
            sh(["apt-get", "update", "-q"])
            sh(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, env=env)


def ensure_users():
    for g in GROUPS + [g for _, g in USERS]:
        if sh(["getent", "group", g], check=False).returncode != 0:
            sh(["groupadd", "--system", g])
    for u, g in USERS:
        if sh(["getent", "passwd", u], check=False).returncode != 0:
            sh(["useradd", "--system", "-g", g, "-d", "/nonexistent", "-s",
                "/usr/sbin/nologin", u])


def import_dkim():
    """python3-dkim, from Debian's python3 tree when python3 is another
    interpreter (the package is pure Python; PyNaCl has the same ABI)."""
    import importlib
    for attempt in range(3):
        try:
            return importlib.import_module("dkim")
        except ImportError:
            if attempt == 0:
                sys.path.append("/usr/lib/python3/dist-packages")
            elif attempt == 1:
                sh(["apt-get", "install", "-y", "-q", "python3-dkim", "python3-nacl"],
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    sys.exit("peers: python3-dkim cannot be imported")


SHIM_SRC = os.path.join(CONFDIR, "opensmtpd-ossl3.c")
SHIM = os.path.join(CACHE, "opensmtpd-ossl3.so")


def build_shim():
    """The preload that lets Debian's OpenSMTPD 6.8 do TLS with OpenSSL 3
    (see opensmtpd-ossl3.c), rebuilt when its source changes."""
    if os.path.exists(SHIM) and os.path.getmtime(SHIM) >= os.path.getmtime(SHIM_SRC):
        return
    sh(["cc", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-o", SHIM + ".tmp", SHIM_SRC,
        "-lcrypto", "-ldl"])
    os.rename(SHIM + ".tmp", SHIM)


def setup():
    debs = fetch_packages()
    install_libraries(debs)
    ensure_users()
    build_shim()
    # OpenSMTPD's spool and chroot paths are compiled in; its runs bind
    # their own spool over the first in a mount namespace of their own.
    os.makedirs("/var/spool/smtpd", exist_ok=True)
    os.makedirs("/var/lib/opensmtpd/empty", exist_ok=True)
    # Likewise Exim's configuration file (/etc/exim4/exim4.conf).
    os.makedirs("/etc/exim4", exist_ok=True)
    for prog in (LOADGEN, SINK):
        if not os.access(prog, os.X_OK):
            sys.exit("peers: %s is missing: make O=%s %s" % (prog, args.build, prog))


# ---------------------------------------------------------------------
# Keys, certificates, addresses.

class Keys:
    """DKIM keys (RSA-2048, Ed25519), their DNS records, TLS
    certificates (ECDSA P-256, and RSA-2048 for OpenSMTPD) and the AUTH
    password, made once per invocation."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="postern-peerkeys-", dir="/var/tmp")
        d = self.dir
        self.rsa = os.path.join(d, "dkim-rsa.pem")
        self.ed = os.path.join(d, "dkim-ed25519.pem")
        sh(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", self.rsa])
        sh(["openssl", "genpkey", "-algorithm", "ed25519", "-out", self.ed])
        rsa_pub = sh(["openssl", "pkey", "-in", self.rsa, "-pubout", "-outform", "DER"],
                     text=False).stdout
        ed_pub = sh(["openssl", "pkey", "-in", self.ed, "-pubout", "-outform", "DER"],
                    text=False).stdout
        # RFC 8463: p= is the bare 32-octet key, not SubjectPublicKeyInfo.
        self.records = {
            "%s._domainkey.%s" % (SEL_RSA, DOMAIN):
                "v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_pub).decode(),
            "%s._domainkey.%s" % (SEL_ED, DOMAIN):
                "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_pub[-32:]).decode(),
        }
        self.cert, self.key = self._cert("ec", ["-pkeyopt", "ec_paramgen_curve:P-256"])
        self.rsacert, self.rsakey = self._cert("rsa", ["-pkeyopt", "rsa_keygen_bits:2048"])
        self.password = "peer-" + secrets.token_hex(12)

    def _cert(self, alg, opts):
        cert = os.path.join(self.dir, "tls-%s-cert.pem" % alg)
        key = os.path.join(self.dir, "tls-%s-key.pem" % alg)
        sh(["openssl", "req", "-x509", "-newkey", alg] + opts + [
            "-nodes", "-days", "3650", "-subj", "/CN=peer.test",
            "-keyout", key, "-out", cert])
        return cert, key

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def smtp_greets(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=2) as s:
            s.settimeout(5)
            banner = s.recv(512)
            s.sendall(b"QUIT\r\n")
            return banner.startswith(b"220")
    except OSError:
        return False


def port_open(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------
# Processes: started by the script, stopped by pid.

def proc_starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        rest = st[st.rindex(")") + 2:].split()
        return int(rest[1]), rest[19]      # ppid, starttime
    except (OSError, ValueError, IndexError):
        return None, None


def descendants(root):
    """Pids (with their start times) of the process tree under root."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            ppid, start = proc_starttime(int(d))
            if ppid is not None:
                kids.setdefault(ppid, []).append((int(d), start))
    out, todo = [], [root]
    while todo and len(out) < 100000:
        for pid, start in kids.get(todo.pop(), []):
            out.append((pid, start))
            todo.append(pid)
    return out


def mentions(pid, needle):
    """Whether a process names `needle' (a run directory) in its command
    line or environment: a daemon's grandchildren that were reparented."""
    for what in ("cmdline", "environ"):
        try:
            with open("/proc/%d/%s" % (pid, what), "rb") as f:
                if needle.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


class Daemon:
    def __init__(self, name, cmd, logdir, env=None, cwd=None):
        self.name = name
        out = open(os.path.join(logdir, name + ".out"), "ab")
        # A session of its own: Postfix's master signals its own process
        # group on the way out, which must not be ours.
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                     start_new_session=True)
        out.close()

    def alive(self):
        return self.proc.poll() is None


def stop_daemons(daemons, rundir):
    """SIGTERM each daemon by pid, wait (bounded), then SIGKILL whatever
    of its process tree, or of processes naming the run directory, is
    left (matched by pid and start time)."""
    tree = []
    for d in daemons:
        if d.alive():
            tree.append((d.proc.pid, proc_starttime(d.proc.pid)[1]))
            tree += descendants(d.proc.pid)
    for d in reversed(daemons):
        if d.alive():
            d.proc.send_signal(signal.SIGTERM)
    for d in reversed(daemons):
        try:
            d.proc.wait(15)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait(10)
    strays = set(tree)
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid() and mentions(int(p), rundir):
            strays.add((int(p), proc_starttime(int(p))[1]))
    for _ in deadline_loop(10, 0.2):
        left = [(p, s) for p, s in strays if s is not None and proc_starttime(p)[1] == s]
        if not left:
            return
        for p, _s in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


# ---------------------------------------------------------------------
# The peers.

def render(name, values):
    """Fills regress/bench/peers/NAME.in: @KEY@ becomes values[KEY]."""
    with open(os.path.join(CONFDIR, name + ".in")) as f:
        text = f.read()
    missing = []

    def sub(m):
        if m.group(1) not in values:
            missing.append(m.group(1))
            return m.group(0)
        return str(values[m.group(1)])
    text = re.sub(r"@([A-Z0-9_]+)@", sub, text)
    if missing:
        raise RuntimeError("%s.in: no value for %s" % (name, ", ".join(missing)))
    return text


def write(path, text, mode=0o644, owner=None):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner:
        shutil.chown(path, *owner)


def install_file(src, dst, mode, owner):
    shutil.copyfile(src, dst)
    os.chmod(dst, mode)
    shutil.chown(dst, *owner)


def mkdirs(path, mode=0o755, owner=("root", "root")):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    shutil.chown(path, *owner)


def count_files(top):
    n = 0
    for _dirpath, _dirs, files in os.walk(top):
        n += len(files)
    return n


class Peer:
    name = "?"
    label = "?"
    signs = "RSA-2048 + Ed25519"
    # What departs from stock, and what is known to bound the figures.
    about = ""

    def __init__(self, keys, sink):
        self.keys, self.sink = keys, sink
        self.dir = tempfile.mkdtemp(prefix="postern-peer-%s-" % self.name, dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.logdir = os.path.join(self.dir, "log")
        os.makedirs(self.logdir)
        os.chmod(self.logdir, 0o777)
        self.ip = pick_ip()
        self.port = free_port(self.ip)
        self.daemons = []

    def install_keys(self, conf, tls, tls_owner, dkim_owner):
        """conf/tls-cert.pem, tls-key.pem, dkim-rsa.pem, dkim-ed25519.pem;
        the keys 0600 to their owners."""
        install_file(tls[0], os.path.join(conf, "tls-cert.pem"), 0o644, ("root", "root"))
        install_file(tls[1], os.path.join(conf, "tls-key.pem"), 0o600, tls_owner)
        for src, name in ((self.keys.rsa, "dkim-rsa.pem"), (self.keys.ed, "dkim-ed25519.pem")):
            install_file(src, os.path.join(conf, name), 0o600, dkim_owner)

    def spawn(self, name, cmd, **kw):
        d = Daemon(name, cmd, self.logdir, **kw)
        self.daemons.append(d)
        return d

    def wait_ready(self, timeout=30):
        for _ in deadline_loop(timeout, 0.2):
            dead = [d.name for d in self.daemons if not d.alive()]
            if dead:
                raise RuntimeError("%s: %s exited: %s" % (self.name, dead, self.logtail()))
            if smtp_greets(self.ip, self.port):
                return
        raise RuntimeError("%s: no greeting on %s:%d: %s" % (self.name, self.ip, self.port,
                                                             self.logtail()))

    def logtail(self, n=1500):
        out = []
        for f in sorted(os.listdir(self.logdir)):
            try:
                with open(os.path.join(self.logdir, f), errors="replace") as fh:
                    t = fh.read()[-n:]
            except OSError:
                continue
            if t.strip():
                out.append("[%s] %s" % (f, t))
        return "\n".join(out)

    def queued(self):
        """Files in the queue: 0 once every accepted message went out."""
        raise NotImplementedError

    def stop(self):
        stop_daemons(self.daemons, self.dir)

    def cleanup(self):
        self.stop()
        if not args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log("kept %s" % self.dir)


class Postfix(Peer):
    """Postfix 3.7: master and its daemons from the unpacked package,
    Cyrus SASL (sasldb auxprop) for AUTH, two OpenDKIM milters (RSA,
    Ed25519: OpenDKIM 2.11 signs with one algorithm per instance)."""
    name = "postfix"
    label = "Postfix 3.7 + OpenDKIM 2.11 + Cyrus SASL"
    about = ("two OpenDKIM milters, one per key (2.11 signs with one algorithm per "
             "instance); a process per session; chroot off")

    def start(self):
        pf = pkgroot("postfix")
        conf = os.path.join(self.dir, "conf")
        spool = os.path.join(self.dir, "spool")
        data = os.path.join(self.dir, "data")
        sasl = os.path.join(conf, "sasl")
        mkdirs(conf)
        mkdirs(sasl)
        mkdirs(spool)
        mkdirs(data, 0o700, ("postfix", "postfix"))
        for q in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                  "incoming", "private", "saved", "trace"):
            mkdirs(os.path.join(spool, q), 0o700, ("postfix", "root"))
        mkdirs(os.path.join(spool, "maildrop"), 0o730, ("postfix", "postdrop"))
        mkdirs(os.path.join(spool, "public"), 0o710, ("postfix", "postdrop"))
        mkdirs(os.path.join(spool, "pid"), 0o755)
        self.spool = spool
        tls_key = os.path.join(conf, "tls-key.pem")
        install_file(self.keys.key, tls_key, 0o600, ("root", "root"))
        install_file(self.keys.cert, os.path.join(conf, "tls-cert.pem"), 0o644, ("root", "root"))

        # OpenDKIM: one instance per key (see opendkim.conf.in), each on a
        # loopback address and port of its own, milters in this order.
        milters = []
        for alg, sel, key in (("rsa-sha256", SEL_RSA, self.keys.rsa),
                              ("ed25519-sha256", SEL_ED, self.keys.ed)):
            dk = os.path.join(self.dir, "opendkim-" + sel)
            mkdirs(dk, 0o750, ("opendkim", "opendkim"))
            ip = pick_ip()
            port = free_port(ip)
            install_file(key, os.path.join(dk, "key.pem"), 0o600, ("opendkim", "opendkim"))
            v = {"DIR": dk, "IP": ip, "PORT": port, "DOMAIN": DOMAIN, "SELECTOR": sel,
                 "SIGNALG": alg, "KEY": os.path.join(dk, "key.pem")}
            for tmpl, f in (("opendkim.conf", "opendkim.conf"), ("opendkim-keytable", "keytable"),
                            ("opendkim-signingtable", "signingtable"),
                            ("opendkim-internalhosts", "internalhosts")):
                write(os.path.join(dk, f), render(tmpl, v))
            d = self.spawn("opendkim-" + sel, [os.path.join(pkgroot("opendkim"),
                                                             "usr/sbin/opendkim"),
                                                "-f", "-x", os.path.join(dk, "opendkim.conf")])
            for _ in deadline_loop(20, 0.1):
                if port_open(ip, port) or not d.alive():
                    break
            if not port_open(ip, port):
                raise RuntimeError("opendkim did not listen: " + self.logtail())
            milters.append("inet:%s:%d" % (ip, port))

        # Cyrus SASL: the password in a sasldb of this run.
        sasldb = os.path.join(sasl, "sasldb2")
        write(os.path.join(sasl, "smtpd.conf"), render("postfix-sasl-smtpd.conf",
                                                       {"SASLDB": sasldb}))
        sp = pkgroot("sasl2-bin")
        user, realm = USER.split("@")
        sh([os.path.join(sp, "usr/sbin/saslpasswd2"), "-f", sasldb, "-p", "-c", "-u", realm,
            user], input=self.keys.password)
        os.chmod(sasldb, 0o640)
        shutil.chown(sasldb, "root", "postfix")

        v = {"CONF": conf, "SPOOL": spool, "DATA": data, "PF": pf, "IP": self.ip,
             "PORT": self.port, "SINK_IP": self.sink.ip, "SINK_PORT": self.sink.port,
             "LOG": os.path.join(self.logdir, "maillog"), "SASL": sasl,
             "MILTERS": ", ".join(milters)}
        write(os.path.join(conf, "main.cf"), render("postfix-main.cf", v))
        write(os.path.join(conf, "master.cf"), render("postfix-master.cf", v))
        write(os.path.join(conf, "dynamicmaps.cf"), "")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
               "LD_LIBRARY_PATH": os.path.join(pf, "usr/lib/postfix"),
               "MAIL_CONFIG": conf}
        self.spawn("master", [os.path.join(pf, "usr/lib/postfix/sbin/master"), "-d", "-c",
                              conf], env=env)
        self.wait_ready()

    def queued(self):
        return sum(count_files(os.path.join(self.spool, q))
                   for q in ("maildrop", "incoming", "active", "deferred", "hold"))


class OpenSMTPD(Peer):
    """OpenSMTPD 6.8 with two filter-dkimsign processes chained (RSA, then
    Ed25519), AUTH against a table of crypt(3) hashes.  Its spool path is
    compiled in: each run binds its own over it in a private mount
    namespace.  It gets an RSA certificate (its Debian build cannot finish
    a handshake with OpenSSL 3 and an ECDSA key) and, for the same bug
    with RSA under OpenSSL 3.0.2x, a preload (opensmtpd-ossl3.c); its
    listen backlog is a compiled-in 5.  Its outbound limits for a route
    (5 connections, 5 s between connections, 3 s after a disconnect,
    tasks released 10 at a time) are raised in smtpd.conf.in, as for a
    smarthost relay; stock, they hold it to about 20 deliveries a
    second."""
    name = "opensmtpd"
    label = "OpenSMTPD 6.8 + filter-dkimsign 0.5"
    about = ("RSA certificate and a preload fixing its privsep TLS under OpenSSL 3 "
             "(opensmtpd-ossl3.c); two chained filter processes; listen backlog 5 "
             "(compiled in: the conn_errors); outbound route limits raised to Postfix's "
             "(20 connections, no delays between them, larger task batches): stock, "
             "it relays to one host at about 20 messages a second")

    def start(self):
        sm = pkgroot("opensmtpd")
        spool = os.path.join(self.dir, "spool")
        run = os.path.join(self.dir, "run")
        conf = os.path.join(self.dir, "conf")
        mkdirs(spool, 0o711)
        mkdirs(run, 0o755)
        mkdirs(conf, 0o755)
        self.spool = spool
        # smtpd refuses a TLS key others may read; the filters run as
        # opensmtpd.
        self.install_keys(conf, (self.keys.rsacert, self.keys.rsakey), ("root", "root"),
                          ("opensmtpd", "opensmtpd"))
        hashed = sh(["openssl", "passwd", "-6", "-stdin"], input=self.keys.password).stdout
        write(os.path.join(conf, "creds"), "%s %s\n" % (USER, hashed.strip()), 0o640,
              ("root", "opensmtpd"))
        v = {"CONF": conf, "IP": self.ip, "PORT": self.port, "SINK_IP": self.sink.ip,
             "SINK_PORT": self.sink.port, "DOMAIN": DOMAIN, "SEL_RSA": SEL_RSA,
             "SEL_ED": SEL_ED, "FILTER": os.path.join(pkgroot("opensmtpd-filter-dkimsign"),
                                                      "usr/libexec/opensmtpd/filter-dkimsign")}
        cf = os.path.join(conf, "smtpd.conf")
        write(cf, render("smtpd.conf", v), 0o644)
        smtpd = os.path.join(sm, "usr/sbin/smtpd")
        # smtpd -n checks the grammar before the real start.
        r = sh([smtpd, "-n", "-f", cf], check=False)
        if r.returncode != 0:
            raise RuntimeError("smtpd.conf: " + r.stdout + r.stderr)
        script = ("mount --bind %s /var/spool/smtpd && mount --bind %s /run && "
                  "exec %s -d -f %s" % (spool, run, smtpd, cf))
        self.spawn("smtpd", ["unshare", "--mount", "--propagation", "private",
                             "sh", "-c", script], env=dict(os.environ, LD_PRELOAD=SHIM))
        self.wait_ready()

    def queued(self):
        return sum(count_files(os.path.join(self.spool, q))
                   for q in ("incoming", "queue", "temporary"))


class Exim(Peer):
    """Exim 4.96 (exim4-daemon-light: GnuTLS, built-in DKIM signing in
    the smtp transport, a colon list of selectors for the two keys),
    AUTH PLAIN by the plaintext authenticator."""
    name = "exim"
    label = "Exim 4.96 (built-in DKIM)"
    about = ("exim4-daemon-light; smtp_accept_max 200 and smtp_connect_backlog 128 "
             "(stock 20 and 20), smtp_accept_queue_per_connection 0 (stock 10); "
             "a process per session and a fork+exec per delivery")

    def start(self):
        ex = pkgroot("exim4-daemon-light")
        conf = os.path.join(self.dir, "conf")
        spool = os.path.join(self.dir, "spool")
        mkdirs(conf, 0o755)
        mkdirs(spool, 0o750, ("Debian-exim", "Debian-exim"))
        self.spool = spool
        # Exim reads them all as its own user.
        self.install_keys(conf, (self.keys.cert, self.keys.key), ("Debian-exim", "Debian-exim"),
                          ("Debian-exim", "Debian-exim"))
        os.chmod(self.logdir, 0o755)
        shutil.chown(self.logdir, "Debian-exim", "Debian-exim")
        user, _ = USER.split("@")
        v = {"EXIM": os.path.join(ex, "usr/sbin/exim4"), "CONF": conf, "SPOOL": spool,
             "LOG": self.logdir, "IP": self.ip, "PORT": self.port, "SINK_IP": self.sink.ip,
             "SINK_PORT": self.sink.port, "DOMAIN": DOMAIN, "SEL_RSA": SEL_RSA,
             "SEL_ED": SEL_ED, "USER": USER, "PASSWORD": self.keys.password}
        # The file name is the one compiled in: the run binds conf/ over
        # /etc/exim4 in a mount namespace of its own, so that Exim runs
        # as stock (with -C it would drop privilege in every re-exec and
        # log that to its paniclog per message).
        cf = os.path.join(conf, "exim4.conf")
        write(cf, render("exim.conf", v), 0o644)
        exim = v["EXIM"]
        r = sh([exim, "-C", cf, "-bV"], check=False)
        if r.returncode != 0:
            raise RuntimeError("exim.conf: " + r.stdout + r.stderr)
        # -bdf: the listening daemon in the foreground; -q: a queue runner
        # for what could not go at once.
        script = "mount --bind %s /etc/exim4 && exec %s -bdf -q15s" % (conf, exim)
        self.spawn("exim", ["unshare", "--mount", "--propagation", "private",
                            "sh", "-c", script])
        self.wait_ready()

    def queued(self):
        return count_files(os.path.join(self.spool, "input"))


PEERS = [Postfix, OpenSMTPD, Exim]


# ---------------------------------------------------------------------
# Measuring.

def run_loadgen(peer, size, password):
    cmd = [LOADGEN, "-H", peer.ip, "-p", str(peer.port), "-c", str(SESSIONS), "-m", str(MSGS),
           "-z", str(size), "-t", "starttls", "-u", USER, "-k", password,
           "-r", "sink@dest.test", "-d", str(args.seconds), "-w", str(args.warmup)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        # loadgen gives up by itself 120 s after its window; this bound
        # is only a backstop.
        try:
            proc.wait(args.seconds + args.warmup + 300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        kv = parse_kv(lines[-1]) if lines else {}
        kv["_raw"] = (lines[-1] if lines else "") + " " + err.read().strip()[-300:]
    return kv


def drain(peer, progress, accepted, timeout):
    """Waits until the sink has every message the run counted and the
    peer's queue is empty (every accepted message went out), the count
    steady for a second.  Returns whether it got there in time."""
    since = before = None
    for _ in deadline_loop(timeout, 0.25):
        n = progress.last
        steady, before = n == before, n
        if n >= accepted and steady and peer.queued() == 0:
            if since is None:
                since = time.time()
            elif time.time() - since >= 1:
                return True
        else:
            since = None
    return False


def measure(cls, size, keys, dkim):
    label = "%s %d KB" % (cls.name, size // 1024)
    runs, checks, notes = [], None, []
    for i in range(args.runs):
        sink = BenchSink(BUILD)
        peer = cls(keys, sink)
        progress = None
        try:
            peer.start()
            progress = Progress(sink)
            r = run_loadgen(peer, size, keys.password)
            lasted = time.time() - progress.t0
            if "msgs_per_s" not in r or int(r.get("messages", 0)) == 0:
                raise RuntimeError("loadgen: %s\n%s" % (r["_raw"], peer.logtail()))
            accepted = int(r.get("messages", 0))
            drained = drain(peer, progress, accepted, args.drain_timeout)
            r["delivered"] = progress.last
            # End to end: every delivered message over the time from the
            # start of the load to the last delivery; the drain is how
            # long that was after the load window closed.
            r["e2e_msgs_per_s"], r["drain_s"] = progress.end_to_end(args.warmup + args.seconds)
            if lasted > args.warmup + args.seconds + 60:
                # Sessions finish their message and quit once the window
                # closes; one still open a minute later is stuck, as after
                # a handshake the server's full listen queue dropped.
                notes.append("run %d: loadgen waited %.0f s for stuck sessions" %
                             (i + 1, lasted - args.warmup - args.seconds))
            if not drained:
                notes.append("run %d: queue not empty %d s after the load (%d files)" %
                             (i + 1, args.drain_timeout, peer.queued()))
            if checks is None and os.path.exists(sink.saved):
                checks = dkim_verify(dkim, sink.saved, keys.records)
            errs = " ".join("%s=%s" % (k, v) for k, v in r.items()
                            if k.startswith("err_") or (k == "conn_errors" and v != "0"))
            log("%s run %d: %.1f msg/s p50 %s p99 %s, delivered %d (%.1f/s end to end), "
                "drain %s s %s" %
                (label, i + 1, float(r["msgs_per_s"]), r.get("p50_ms"), r.get("p99_ms"),
                 r["delivered"], r["e2e_msgs_per_s"], "%.1f" % r["drain_s"] if drained
                 else "TIMEOUT", errs))
            runs.append(r)
        except Exception as e:  # noqa: BLE001 (one peer failing must not end the others)
            log("%s run %d failed: %s" % (label, i + 1, e))
            notes.append("run %d failed: %s" % (i + 1, str(e).splitlines()[0][:200]))
        finally:
            if progress is not None:
                progress.stop()
            peer.cleanup()
            sink.stop()
    res = {"runs": len(runs), "notes": notes, "dkim": checks, "signs": cls.signs}
    for k in ("msgs_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "e2e_msgs_per_s"):
        vals = [float(r[k]) for r in runs if k in r]
        res[k] = statistics.median(vals) if vals else None
    drains = [r["drain_s"] for r in runs if r.get("drain_s") is not None]
    res["drain_s"] = statistics.median(drains) if drains else None
    errs = {}
    for r in runs:
        for k, v in r.items():
            if k.startswith("err_") or k == "conn_errors":
                errs[k] = errs.get(k, 0) + int(v)
    res["errors"] = {k: v for k, v in errs.items() if v}
    return res


# ---------------------------------------------------------------------
# The table.

WORKLOAD = "50x20, %s, STARTTLS+AUTH, dual DKIM, to sink"


def size_name(size):
    return "%d KB" % (size // 1024)


def postern_figures():
    path = os.path.join(BUILD, "bench.json")
    try:
        with open(path) as f:
            data = json.load(f)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(path)))
        return data, when
    except (OSError, ValueError):
        return {}, None


def fmt(v, spec="%.0f"):
    return spec % v if isinstance(v, (int, float)) else "-"


def dkim_word(res):
    chk = res.get("dkim")
    if not chk:
        return "DKIM not checked"
    return "DKIM " + ", ".join("%s %s" % (a, "verified" if ok else "FAILED")
                               for a, ok in sorted(chk))


# Issue 8's targets: postern's msg/s over the best peer's, per workload.
TARGET = {2048: 2.0, 102400: 2.5}


def print_table(results, sizes, selected):
    postern, when = postern_figures()
    print("\npeers: %d run(s) of %d s after %d s warm-up, median; %d sessions x %d messages; "
          "msg/s accepted in the window, e2e = delivered / (load + drain)" %
          (args.runs, args.seconds, args.warmup, SESSIONS, MSGS))
    head = ("server", "msg/s", "p50 ms", "p99 ms", "e2e/s", "drain s", "runs", "notes")
    rows = []
    for size in sizes:
        wl = WORKLOAD % size_name(size)
        rows.append((wl,))
        # The best peer is the one that delivers most: a message counts
        # when it reaches the sink, not when it is accepted.
        best = None
        for cls in selected:
            res = results.get(cls.name, {}).get(size)
            if not res:
                continue
            if res["e2e_msgs_per_s"] is not None and (
                    best is None or res["e2e_msgs_per_s"] > best[1]["e2e_msgs_per_s"]):
                best = (cls, res)
            notes = [dkim_word(res)]
            if res["signs"] != Peer.signs:
                notes.append("signs " + res["signs"])
            if res["errors"]:
                notes.append(" ".join("%s=%d" % kv for kv in sorted(res["errors"].items())))
            notes += res["notes"]
            rows.append(("  " + cls.label, fmt(res["msgs_per_s"]), fmt(res["p50_ms"], "%.1f"),
                         fmt(res["p99_ms"], "%.1f"), fmt(res["e2e_msgs_per_s"]),
                         fmt(res["drain_s"], "%.1f"), "%d/%d" % (res["runs"], args.runs),
                         "; ".join(notes)))
        p = postern.get(wl)
        if p and isinstance(p.get("msgs_per_s"), (int, float)):
            verdict = "no peer figure"
            pe2e = p.get("e2e_msgs_per_s")
            if best and isinstance(pe2e, (int, float)):
                ratio = pe2e / best[1]["e2e_msgs_per_s"]
                verdict = "%.2fx the best peer (%s) end to end, %.2fx accepted" % (
                    ratio, best[0].name, p["msgs_per_s"] / best[1]["msgs_per_s"])
                if size in TARGET:
                    verdict += ", target %.1fx %s" % (TARGET[size], "met" if ratio >= TARGET[size]
                                                      else "NOT met")
                if isinstance(p.get("p99_ms"), (int, float)) and best[1]["p50_ms"]:
                    verdict += "; p99 %s its p50" % (
                        "below" if p["p99_ms"] < best[1]["p50_ms"] else "NOT below")
            rows.append(("  postern (bench.json of %s)" % when, fmt(p["msgs_per_s"]),
                         fmt(p.get("p50_ms"), "%.1f"), fmt(p.get("p99_ms"), "%.1f"),
                         fmt(p.get("e2e_msgs_per_s")), fmt(p.get("drain_s"), "%.1f"),
                         "", verdict))
        else:
            rows.append(("  postern", "-", "-", "-", "-", "-", "",
                         "no figure in %s" % os.path.join(BUILD, "bench.json")))
    w = max([len(head[0])] + [len(r[0]) for r in rows if len(r) > 1])
    line = "%-*s  %7s  %7s  %7s  %6s  %7s  %4s  %s"
    print(line % ((w,) + head))
    for r in rows:
        print(r[0] if len(r) == 1 else line % ((w,) + r))
    for cls in selected:
        print("%s: %s." % (cls.name, cls.about))


def main():
    selected = PEERS
    if args.only:
        names = args.only.split(",")
        selected = [c for c in PEERS if c.name in names]
        if not selected:
            sys.exit("peers: --only names none of %s" % ", ".join(c.name for c in PEERS))
    sizes = [int(s) for s in args.sizes.split(",")]
    setup()
    dkim = import_dkim()
    if args.setup_only:
        log("set up in %s" % CACHE)
        return
    keys = Keys()
    results = {}
    try:
        for size in sizes:
            for cls in selected:
                results.setdefault(cls.name, {})[size] = measure(cls, size, keys, dkim)
    finally:
        keys.cleanup()
    out = {cls.name: {WORKLOAD % size_name(s): r for s, r in results.get(cls.name, {}).items()}
           for cls in selected}
    with open(os.path.join(BUILD, "bench-peers.json"), "w") as f:
        json.dump(out, f, indent=1, default=str)
    print_table(results, sizes, selected)


if __name__ == "__main__":
    main()
