"""Helpers for test_adversarial.py: servers on the ports 8880-8887 with extra environment
(sockop_preload.so's harder modes), what /proc says about them, raw-socket clients that read
slowly, reset or just connect, and the "does it still serve?" check every test ends with.

A server here is opsutil.AwsProc underneath, so it runs in AWS_MODE exactly as the other
suites' servers do (plain, under sockop_preload.so, or under valgrind) and is always stopped
and checked: exit status 0 after SIGTERM, stderr made of `aws: <level>: ` lines, no
unexpected `aws: error:` line, and valgrind clean.
"""

import hashlib
import os
import socket
import time

import pytest

import httpclient
import opsutil
from conftest import MODE, REPO

# Ports for the servers these tests start; the other suites use 8888-8899.
PORTS = list(range(8880, 8888))
_next = [0]

SLOW = opsutil.SLOW          # hang-detection multiplier: 8 under valgrind, else 1
PRELOAD = REPO / "sockop_preload.so"


def t(seconds):
    """A hang-detection timeout, stretched under valgrind. Never a performance claim."""
    return seconds * SLOW


def next_port():
    """The next port of 8880-8887, round robin, so that a port is reused as late as possible."""
    port = PORTS[_next[0] % len(PORTS)]
    _next[0] += 1
    return port


class Server(opsutil.AwsProc):
    """One ./aws on a port of 8880-8887, serving `root`, with `env` added to its environment.

    `preload_env` (e.g. {"SOCKOP_MODE": "hard"}) puts sockop_preload.so in LD_PRELOAD in every
    mode, valgrind included, and sets those variables: the preload reads them at load time."""

    def __init__(self, root, args=(), preload_env=None, **kw):
        kw.setdefault("port", next_port())
        super().__init__(args=args, cwd=root, **kw)
        self.root = root
        self.preload_env = dict(preload_env or {})

    def command(self):
        cmd, env = super().command()
        if self.preload_env:
            if not PRELOAD.is_file():
                pytest.exit("%s does not exist; run make first" % PRELOAD, returncode=3)
            env["LD_PRELOAD"] = str(PRELOAD)
            env.update(self.preload_env)
        return cmd, env

    # What httpcheck's helpers expect of a server object.
    def t(self, seconds):
        return t(seconds)

    def path(self, rel):
        return self.root / rel.lstrip("/")

    def data(self, rel):
        return self.path(rel).read_bytes()

    # /proc views of the process.
    def fd_targets(self):
        """What each descriptor of the server process points at now."""
        d = "/proc/%d/fd" % self.pid
        out = []
        for name in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, name)))
            except OSError:
                pass  # closed while we looked
        return out

    def fd_count(self):
        """How many descriptors the server holds now, leaving out the files its open-file cache
        keeps (regular files under the document root). Those are bounded instead: a cache holds
        one per request path, so a file open more than twice (as static/x and as dynamic/x, a
        symlink to it) when no client is connected is a leak."""
        root = os.path.realpath(str(self.root)) + "/"
        per_file = {}
        n = 0
        for target in self.fd_targets():
            if target.startswith(root) and os.path.isfile(target):
                per_file[target] = per_file.get(target, 0) + 1
            else:
                n += 1
        leaked = {f: k for f, k in per_file.items() if k > 2}
        return n + sum(leaked.values())

    def cpu(self):
        return opsutil.cpu_seconds(self.pid)

    def wait_fds(self, baseline, timeout=5.0):
        """Waits until the server is back to `baseline` descriptors; fails with what it holds."""
        deadline = time.monotonic() + t(timeout)
        while True:
            n = self.fd_count()
            if n <= baseline:
                return n
            if time.monotonic() > deadline:
                left = [s for s in self.sockets() if s[1] == self.port and s[0] != "LISTEN"]
                pytest.fail("server holds %d descriptors %.0f s after its clients left (baseline "
                            "%d); its connections: %s" % (n, t(timeout), baseline, left[:20]))
            time.sleep(0.05)

    def wait_gone(self, peer_ports, timeout=3.0):
        """Waits until the server holds no socket (in any state) to these client ports."""
        want = set(peer_ports)
        deadline = time.monotonic() + t(timeout)
        while True:
            left = [(st, p) for (st, lp, p) in self.sockets() if lp == self.port and p in want]
            if not left:
                return
            if time.monotonic() > deadline:
                pytest.fail("server still holds connections %.0f s after the clients left: %s"
                            % (t(timeout), sorted(left)[:20]))
            time.sleep(0.05)

    def recovers(self, paths=("/static/hello.txt", "/dynamic/hello.txt"), timeout=5.0):
        """A fresh GET of each path gets 200 with exactly the file's bytes within `timeout`."""
        for path in paths:
            want = self.data(path)
            deadline = time.monotonic() + t(timeout)
            while True:
                try:
                    resp = self.get(path)
                    if resp.status == 200 and resp.body == want:
                        break
                    last = "%r: %r" % (resp.raw_head, resp.body[:80])
                except (OSError, httpclient.ProtocolError) as e:
                    last = repr(e)
                if time.monotonic() > deadline:
                    pytest.fail("server did not serve %s (200, exact bytes) within %.0f s: %s"
                                % (path, t(timeout), last))
                time.sleep(0.1)
            assert self.alive(), "server died:\n" + self.stderr_tail()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def raw_conn(port, rcvbuf=None, linger_rst=False, timeout=10.0):
    """A connected blocking TCP socket; rcvbuf (set before connecting, so the window stays
    small) makes the server's sends stall early, linger_rst makes close() send an RST."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(t(timeout))
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if linger_rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect(("127.0.0.1", port))
    return s


class Reader:
    """Reads one response off a raw socket a piece at a time, so that a test can act on the
    served file between pieces. Keeps the body bytes it received."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.head = None
        self.length = None
        self.body = bytearray()
        self.eof = None             # None while open; "eof" or "reset" once the server closed

    def _recv(self, n):
        try:
            data = self.sock.recv(n)
        except ConnectionResetError:
            self.eof = "reset"
            return b""
        if not data:
            self.eof = "eof"
        return data

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            data = self._recv(65536)
            if not data:
                raise httpclient.ServerClosed("closed before a response head: %r" % bytes(self.buf))
            self.buf += data
        end = self.buf.index(b"\r\n\r\n")
        self.head = bytes(self.buf[:end])
        rest = bytes(self.buf[end + 4:])
        self.buf = bytearray()
        lines = self.head.split(b"\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(b":", 1)
            self.headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
        self.length = int(self.headers["content-length"])
        self.body += rest
        return self

    def read_body(self, upto, piece=65536, pause=0.0):
        """Reads until `upto` body bytes arrived (or the server closed); returns the count."""
        while len(self.body) < upto and self.eof is None:
            data = self._recv(min(piece, upto - len(self.body)))
            self.body += data
            if pause and data:
                time.sleep(pause)
        return len(self.body)

    def read_to_eof(self, limit):
        """Reads until the server closes, failing if more than `limit` body bytes arrive."""
        while self.eof is None:
            self.body += self._recv(1 << 20)
            if len(self.body) > limit:
                raise httpclient.ProtocolError("%d body bytes, more than the %d announced"
                                               % (len(self.body), limit))
        return self.eof


def skip_in_valgrind(reason):
    return pytest.mark.skipif(MODE == "valgrind", reason=reason)
