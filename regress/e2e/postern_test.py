"""postern_test: start the real daemon for a test, and the peers it meets.

Every test runs postern from the build tree, as root, in its own
temporary root (config, spool, token store, keys, control socket), on its
own loopback address and ports, with the real system users and chroots.
Nothing here touches an installed instance.

    with Postern(build) as p:          # starts posternd -d, waits for ready
        p.ctl("token", "add", "--name", "x", "--address", "a@example.com")
        with Sink() as sink:           # aiosmtpd sink on loopback
            ...
    # leaving the block stops the daemon by PID and checks nothing is left

Processes started here are stopped here, by PID.
"""
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(TOP, "regress", "tools")
CACHE = os.environ.get("POSTERN_TEST_CACHE", "/var/tmp/postern-test-cache")
BUILD = os.environ.get("POSTERN_BUILD", os.path.join(TOP, "build"))


def build_dir():
    return os.path.abspath(BUILD)


_used_ips = set()


def pick_ip():
    """A loopback address of our own (127.0.0.0/8 is all loopback)."""
    for _ in range(1000):
        ip = "127.%d.%d.%d" % (random.randint(1, 250), random.randint(1, 250),
                               random.randint(2, 250))
        if ip not in _used_ips:
            _used_ips.add(ip)
            return ip
    raise RuntimeError("no loopback address left")


def free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition", interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Stops a process the tests started, by its PID: `sig', then SIGKILL
    if it has not exited within `timeout' seconds.  Returns its exit
    status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_listening(ip, port, proc, what, timeout=10, log=None):
    """Waits until ip:port accepts a connection; fails at once if proc
    exits first, with what log() returns if given."""
    def up():
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s exited%s" % (what, ": " + log() if log else ""))
        try:
            socket.create_connection((ip, port), 0.2).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout, "%s to listen" % what)


def tls_files():
    """A self-signed certificate for tests (made once, cached)."""
    d = os.path.join(CACHE, "tls")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not os.path.exists(cert):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "3650", "-subj", "/CN=postern.test",
                        "-addext", "subjectAltName=DNS:postern.test,DNS:localhost,IP:127.0.0.1",
                        "-keyout", key + ".tmp", "-out", cert + ".tmp"],
                       check=True, capture_output=True)
        os.chmod(key + ".tmp", 0o600)
        os.rename(key + ".tmp", key)
        os.rename(cert + ".tmp", cert)
    return cert, key


def pids_of_parent(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == ppid:
            out.append(int(d))
    return out


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


class Postern:
    """One postern instance in its own temporary root."""

    def __init__(self, plain=True, starttls=False, tls=False, conf_extra="",
                 domains=("example.com",), relay=None, test_clock=True,
                 timeouts=None, limits=None, verbose=True, queue=None):
        self.build = build_dir()
        self.bin = os.path.join(self.build, "bin")
        self.root = tempfile.mkdtemp(prefix="postern-test-")
        os.chmod(self.root, 0o755)
        self.ip = pick_ip()
        self.ports = {}
        self.cert, self.key = tls_files()
        lines = ['hostname "mx.postern.test"',
                 'libexec-dir "%s"' % self.bin,
                 'spool-dir "%s/spool"' % self.root,
                 'auth-dir "%s/auth"' % self.root,
                 'dkim-dir "%s/dkim"' % self.root,
                 'empty-dir "%s/empty"' % self.root,
                 'control-socket "%s/run/control.sock"' % self.root,
                 'pid-file "%s/run/posternd.pid"' % self.root,
                 'token-key "%s/token.key"' % self.root,
                 'resolver 127.0.0.1 port 53']
        if plain:
            self.ports["plain"] = free_port(self.ip)
            lines.append("listen on %s port %d plain no-auth" % (self.ip, self.ports["plain"]))
        if starttls:
            self.ports["starttls"] = free_port(self.ip)
            lines.append('listen on %s port %d starttls certificate "%s" key "%s"' %
                         (self.ip, self.ports["starttls"], self.cert, self.key))
        if tls:
            self.ports["tls"] = free_port(self.ip)
            lines.append('listen on %s port %d tls certificate "%s" key "%s"' %
                         (self.ip, self.ports["tls"], self.cert, self.key))
        for d in domains:
            lines.append('domain "%s" {\n}' % d)
        if relay:
            lines.append("relay via %s" % relay)
        if test_clock:
            lines.append("test-clock yes")
        for k, v in (timeouts or {}).items():
            lines.append("timeout %s %s" % (k, v))
        for k, v in (limits or {}).items():
            lines.append("limit %s %s" % (k, v))
        if queue:
            lines.append("queue {")
            for k, v in queue.items():
                lines.append("\t%s %s" % (k, v))
            lines.append("}")
        lines.append(conf_extra)
        self.conf = os.path.join(self.root, "postern.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.logpath = os.path.join(self.root, "posternd.log")
        self.proc = None
        self.verbose = verbose

    # -- life cycle --------------------------------------------------------

    def start(self, wait=True):
        self.logf = open(self.logpath, "ab")
        args = [os.path.join(self.bin, "posternd"), "-d", "-f", self.conf]
        if self.verbose:
            args.insert(2, "-v")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("posternd exited with %s:\n%s" %
                                     (self.proc.returncode, self.log()[-3000:]))
            return "ready: pid=%d" % self.proc.pid in self.log()
        wait_for(ready, timeout, "posternd to be ready")

    def stop(self, timeout=15):
        """SIGTERM the master by PID; it stops its children.  Returns the
        exit status."""
        if self.proc is None:
            return None
        kids = self.children()
        rc = stop_process(self.proc, timeout)
        for pid in kids.values():
            if proc_exists(pid):
                os.kill(pid, signal.SIGKILL)
        self.logf.close()
        self.proc = None
        return rc

    def wait_exit(self, timeout=15):
        rc = self.proc.wait(timeout)
        return rc

    def cleanup(self):
        self.stop()
        if os.environ.get("POSTERN_KEEP"):
            sys.stderr.write("kept %s\n" % self.root)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stdout.write("# posternd log (tail):\n")
            for line in self.log()[-4000:].splitlines():
                sys.stdout.write("#   " + line + "\n")
        self.cleanup()
        return False

    # -- observation -------------------------------------------------------

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        return wait_for(lambda: len(rx.findall(self.log())) >= count and rx.findall(self.log()),
                        timeout, "log line /%s/ x%d" % (pattern, count))

    def children(self):
        """{'smtpd': pid, ...} of the running master."""
        out = {}
        if self.proc is None:
            return out
        for pid in pids_of_parent(self.proc.pid):
            c = proc_comm(pid)
            if c:
                out[c] = pid
        return out

    # -- clients -----------------------------------------------------------

    def ctl(self, *args, check=True, as_user=None, json_out=False):
        cmd = [os.path.join(self.bin, "posternctl"), "-f", self.conf,
               "-s", os.path.join(self.root, "run", "control.sock")]
        if json_out:
            cmd.append("--json")
        cmd += list(args)
        preexec = None
        if as_user is not None:
            import pwd
            pw = pwd.getpwnam(as_user)

            def preexec():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           preexec_fn=preexec)
        if check and r.returncode != 0:
            raise AssertionError("posternctl %s failed (%d): %s%s" %
                                 (" ".join(args), r.returncode, r.stdout, r.stderr))
        if json_out:
            return json.loads(r.stdout) if r.stdout.strip() else None, r
        return r

    def ctl_json(self, *args, check=True):
        data, r = self.ctl(*args, check=check, json_out=True)
        return data

    def add_token(self, address, name="device"):
        data = self.ctl_json("token", "add", "--name", name, "--address", address)
        item = data["items"][0]
        return item["token"], item

    def smtp(self, kind="plain", timeout=30):
        """An smtplib client connected to one of our listeners."""
        import ssl
        port = self.ports[kind]
        if kind == "tls":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return smtplib.SMTP_SSL(self.ip, port, timeout=timeout, context=ctx)
        s = smtplib.SMTP(self.ip, port, timeout=timeout)
        return s

    def smtp_starttls(self, timeout=30):
        import ssl
        s = smtplib.SMTP(self.ip, self.ports["starttls"], timeout=timeout)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.ehlo("client.test")
        s.starttls(context=ctx)
        s.ehlo("client.test")
        return s

    def spool_files(self):
        out = []
        for dp, dn, fn in os.walk(os.path.join(self.root, "spool")):
            for f in fn:
                out.append(os.path.join(dp, f))
        return out


class Sink:
    """A receiving SMTP server on loopback (regress/tools/sink.py, on
    Python's aiosmtpd) that stores every message it accepts in a
    directory; options script its replies."""

    def __init__(self, ip=None, port=None, args=()):
        self.ip = ip or pick_ip()
        self.port = port or free_port(self.ip)
        self.dir = tempfile.mkdtemp(prefix="postern-sink-")
        self.args = list(args)
        self.proc = None

    def start(self):
        self.logpath = os.path.join(self.dir, "sink.log")
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([sys.executable, os.path.join(TOOLS, "sink.py"),
                                      "--ip", self.ip, "--port", str(self.port),
                                      "--dir", self.dir] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf)

        wait_listening(self.ip, self.port, self.proc, "sink",
                       log=lambda: open(self.logpath).read())
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def messages(self):
        """[(envelope dict, raw bytes)] in arrival order."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(self.dir, name)) as f:
                env = json.load(f)
            with open(os.path.join(self.dir, name[:-5] + ".eml"), "rb") as f:
                out.append((env, f.read()))
        return out

    def wait_messages(self, n, timeout=20):
        return wait_for(lambda: len(self.messages()) >= n and self.messages(),
                        timeout, "%d message(s) at the sink" % n)

    def url(self):
        return '"smtp://%s:%d"' % (self.ip, self.port)
