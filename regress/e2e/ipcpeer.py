"""ipcpeer: speak postern's framed channel protocol (lib/ipc.h) from Python,
so that a test can stand in for the master or for a peer daemon.

    ch = Channel(sock)
    ch.send(P.MSG_AUTH_LOGIN, 7, W().u64(1).str("a@b").bytes(b"tok").str("::1").data)
    msg = ch.recv()                     # Msg(type, peerid, payload, fds)
    r = R(msg.payload); r.u64(); r.u32(); ...; r.end()

Constants (message types, process ids, control commands, results) are read
from lib/proto.h itself, so the tests never drift from the C code.
"""
import os
import re
import socket
import struct
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

HDR = struct.Struct("=IIII")    # type, len, peerid, flags: host order
IPC_F_FD = 1

Msg = namedtuple("Msg", "type peerid payload fds")


def _parse_enums(path):
    """{NAME: value} for every enumerator in a C header."""
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = {}
    for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", text, flags=re.S):
        val = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            m = re.match(r"(\w+)\s*(?:=\s*(\w+))?$", item)
            if not m:
                continue
            if m.group(2) is not None:
                v = m.group(2)
                val = out[v] if v in out else int(v, 0)
            else:
                val += 1
            out[m.group(1)] = val
    return out


class _Consts:
    def __init__(self):
        self.__dict__.update(_parse_enums(os.path.join(TOP, "lib", "proto.h")))


P = _Consts()


class W:
    """Payload writer: the mw_* calls of lib/ipc.h."""

    def __init__(self):
        self.data = b""

    def u8(self, v):
        self.data += struct.pack("=B", v)
        return self

    def u32(self, v):
        self.data += struct.pack("=I", v)
        return self

    def u64(self, v):
        self.data += struct.pack("=Q", v)
        return self

    def i64(self, v):
        self.data += struct.pack("=q", v)
        return self

    def str(self, s):
        if isinstance(s, str):
            s = s.encode()
        return self.bytes(s)

    def bytes(self, b):
        self.data += struct.pack("=I", len(b)) + b
        return self


class R:
    """Payload reader: the mr_* calls; raises ValueError when short."""

    def __init__(self, data):
        self.data = data
        self.off = 0

    def _take(self, n):
        if self.off + n > len(self.data):
            raise ValueError("short payload")
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def u32(self):
        return struct.unpack("=I", self._take(4))[0]

    def u64(self):
        return struct.unpack("=Q", self._take(8))[0]

    def i64(self):
        return struct.unpack("=q", self._take(8))[0]

    def bytes(self):
        return self._take(self.u32())

    def str(self):
        return self.bytes().decode("utf-8", "replace")

    def end(self):
        if self.off != len(self.data):
            raise ValueError("%d bytes left over" % (len(self.data) - self.off))


def kv_write(w, pairs):
    w.u32(len(pairs))
    for k, v in pairs:
        w.str(k).str(v)
    return w


def kv_read(r):
    n = r.u32()
    return [(r.str(), r.str()) for _ in range(n)]


class Channel:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.fds = []

    def send(self, type_, peerid, payload=b"", fd=None):
        hdr = HDR.pack(type_, len(payload), peerid, IPC_F_FD if fd is not None else 0)
        data = hdr + payload
        if fd is not None:
            # The descriptor travels with the first byte of its message.
            socket.send_fds(self.sock, [data[:1]], [fd])
            data = data[1:]
        if data:
            self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 16)
        finally:
            self.sock.settimeout(None)
        if not data:
            raise EOFError("channel closed")
        self.buf += data
        self.fds += fds

    def recv(self, timeout=10.0):
        while len(self.buf) < HDR.size:
            self._fill(timeout)
        type_, length, peerid, flags = HDR.unpack(self.buf[:HDR.size])
        while len(self.buf) < HDR.size + length:
            self._fill(timeout)
        payload = self.buf[HDR.size:HDR.size + length]
        self.buf = self.buf[HDR.size + length:]
        fds = []
        if flags & IPC_F_FD:
            fds = [self.fds.pop(0)]
        return Msg(type_, peerid, payload, fds)

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def socketpair():
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

