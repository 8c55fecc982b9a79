"""Hostile and unlucky clients: request smuggling and framing tricks, path traversal in every
spelling, slow and trickling clients, descriptor and connection exhaustion, clients that reset
mid-body, files that shrink, grow or are replaced while being sent, io_submit refusing, the
preload's hard mode (EINTR on every other socket call, 1-byte transfers) and files over 4 GiB.

Every server test asserts what the server must do, then that a fresh GET still gets 200 with
the exact bytes. Servers run on ports 8880-8887 in AWS_MODE (plain, preload, valgrind) and are
stopped and checked as opsutil.AwsProc does; none of these tests uses the session server on
port 8888. A few tests check sockop_preload.so's own modes through a small ctypes program.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import advutil
import conftest
import httpcheck
import httpclient
from advutil import Reader, Server, raw_conn, sha, skip_in_valgrind, t
from conftest import BIG, KIB, MIB, MODE, SIZES, fname

VALGRIND = MODE == "valgrind"
HELLO = b"hello from static\n"

# The big sparse file: 4.5 GiB, with marker bytes around 2^31 and 2^32 and at the end.
SPARSE_SIZE = 4831838208
SPARSE_MARKS = [0, 2 ** 31 - 4, 2 ** 32 - 4, SPARSE_SIZE - 8]   # 8 marker bytes at each


@pytest.fixture(autouse=True)
def _server_stays_up():
    """Replaces conftest's fixture of that name: these tests never need the session server
    (port 8888), so it is not started for them."""
    yield


@pytest.fixture(scope="module")
def content():
    """conftest's generated root plus: 16 MiB files, symlinks to / and out of the root, a
    character device (if mknod works here), and the 4.5 GiB sparse files. Removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="aws-adv-") as d:
        tmp = Path(d)
        root, secret = conftest.make_content(tmp)
        pool = os.urandom(16 * MIB + 4096)
        for i, sub in enumerate(("static", "dynamic")):
            (root / sub / "f16.dat").write_bytes(pool[i * 4096:i * 4096 + 16 * MIB])
            os.symlink("/", root / sub / "rootlink")
            os.symlink("/etc", root / sub / "etclink")
            os.symlink("../..", root / sub / "updir")          # root/<sub>/updir -> tmp
            os.symlink(str(tmp), root / sub / "abs_updir")
            try:
                os.mknod(root / sub / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
            except OSError:
                pass
        marks = {}
        for name in ("static/big.sparse", "dynamic/big2.sparse"):
            marks[name] = make_sparse(root / name)
        os.symlink("../static/big.sparse", root / "dynamic" / "big.sparse")
        marks["dynamic/big.sparse"] = marks["static/big.sparse"]
        yield root, secret, marks


def make_sparse(path):
    """A SPARSE_SIZE file of holes with 8 random bytes at each SPARSE_MARKS offset; returns
    {offset: bytes}."""
    marks = {}
    with open(path, "wb") as f:
        f.truncate(SPARSE_SIZE)
        for off in SPARSE_MARKS:
            marks[off] = os.urandom(8)
            f.seek(off)
            f.write(marks[off])
    assert os.stat(path).st_blocks * 512 < 64 * MIB, "%s is not sparse here" % path
    return marks


@pytest.fixture(scope="module")
def srv(content):
    """The shared server with default options; tests that need options start their own."""
    root = content[0]
    with Server(root) as s:
        s.get("/static/hello.txt")
        fresh(s)
        yield s


def fresh(srv):
    """The descriptor count of the server with no client connected, measured the first time
    (just after start-up); later calls wait until the server is back to it."""
    srv.close_conns()
    if getattr(srv, "base", None) is None:
        time.sleep(0.3)
        srv.base = srv.fd_count()
    else:
        srv.wait_fds(srv.base)
    return srv.base


# =============================================================================================
# Request smuggling and framing (raw sockets)

def req(head, body=b""):
    """A raw request: `head` lines joined with CRLF, the blank line, then `body`."""
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


SMUGGLE_400 = {
    # Content-Length and Transfer-Encoding together, both orders, with a smuggled request.
    "cl-te": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 6",
                  "Transfer-Encoding: chunked"], b"0\r\n\r\nGET /static/NOTES HTTP/1.1\r\nHost: x\r\n\r\n"),
    "te-cl": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
                  "Content-Length: 44"], b"0\r\n\r\nGET /static/NOTES HTTP/1.1\r\nHost: x\r\n\r\n"),
    "te-cl-head-only": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 0",
                            "Transfer-Encoding: chunked"]),
    "post-cl-te": req(["POST /static/hello.txt HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
                       "Content-Length: 3"]),
    # Content-Length twice (equal or not), or not a plain decimal.
    "cl-twice-same": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 3",
                          "Content-Length: 3"]),
    "cl-twice-differ": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 3",
                            "Content-Length: 30"]),
    "cl-list": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 3, 3"]),
    "cl-plus": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: +3"]),
    "cl-minus": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: -1"]),
    "cl-hex": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 0x3"]),
    "cl-trailing-junk": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 3x"]),
    "cl-inner-space": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: 1 2"]),
    "cl-empty": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: "]),
    "cl-space-before-colon": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length : 3"]),
    # Obsolete line folding (space or tab), in an ordinary header and in Content-Length.
    "obs-fold-space": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "X-A: a", " b"]),
    "obs-fold-tab": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "X-A: a", "\tb"]),
    "obs-fold-cl": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length:", " 3"]),
    # A bare CR inside a header value, ending a header line, ending the request line.
    "bare-cr-value": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "X-A: a\rb"]),
    "bare-cr-line-end": b"GET /static/hello.txt HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
    "bare-cr-request-line": b"GET /static/hello.txt HTTP/1.1\rHost: x\r\n\r\n",
    # Chunked bodies whose framing is broken.
    "chunk-missing-crlf": req(["GET /static/hello.txt HTTP/1.1", "Host: x",
                               "Transfer-Encoding: chunked"], b"5\r\nhelloXY0\r\n\r\n"),
    "chunk-bad-size": req(["GET /static/hello.txt HTTP/1.1", "Host: x",
                           "Transfer-Encoding: chunked"], b"z\r\nhello\r\n0\r\n\r\n"),
    # Transfer-Encoding on HTTP/1.0, and twice.
    "te-http10": b"GET /static/hello.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-twice": req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
                     "Transfer-Encoding: chunked"], b"0\r\n\r\n"),
}


@pytest.mark.parametrize("name", sorted(SMUGGLE_400))
def test_smuggling_framing_400_and_close(srv, name):
    """Exactly one 400 with Connection: close, then the close: no second response ever."""
    resp = httpcheck.raw_expect_close(srv, SMUGGLE_400[name], 400)
    assert b"NOTES" not in resp.body
    srv.recovers()


def test_get_body_holding_a_request_is_not_a_request(srv):
    """A GET whose Content-Length body is itself a request: one response (for the GET), and
    the body's bytes are discarded, not answered."""
    inner = b"GET /static/NOTES HTTP/1.1\r\nHost: x\r\n\r\n"
    data = req(["GET /static/hello.txt HTTP/1.1", "Host: x", "Content-Length: %d" % len(inner)],
               inner)
    with srv.conn() as c:
        c.send(data)
        resp = c.read_response()
        assert resp.status == 200 and resp.body == HELLO, resp.raw_head
        c.assert_open(quiet=t(0.5))               # no second response, no close
        httpcheck.still_serves(srv, c, "/dynamic/hello.txt")
        c.assert_open(quiet=0.2)
    srv.recovers()


PIPELINE_AFTER_BODIES = [
    ("cl", b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
     "/static/hello.txt"),
    ("chunked", b"GET /dynamic/hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", "/dynamic/hello.txt"),
    ("plain", b"GET /static/NOTES HTTP/1.1\r\nHost: x\r\n\r\n", "/static/NOTES"),
    ("chunked-ext-trailer", b"GET /static/f_513.dat HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n4;name=value\r\nGET \r\nA\r\n/static/xy\r\n0\r\n"
     b"X-Trailer: 1\r\n\r\n", "/static/f_513.dat"),
    ("cl-zero", b"GET /dynamic/f_4097.dat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
     "/dynamic/f_4097.dat"),
    ("cl-body-looks-like-head", b"GET /dynamic/f_511.dat HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 4\r\n\r\n\r\n\r\n", "/dynamic/f_511.dat"),
]


@pytest.mark.parametrize("split", ["one-send", "byte-by-byte"])
def test_pipelined_after_bodies(srv, split):
    """Requests with bodies (Content-Length, chunked with extensions and trailers) pipelined
    with plain ones: each answered exactly once, in order, then the connection is idle."""
    data = b"".join(raw for _, raw, _ in PIPELINE_AFTER_BODIES)
    with srv.conn() as c:
        if split == "one-send":
            c.send(data)
        else:
            for i in range(len(data)):
                c.send(data[i:i + 1])
        for name, _, path in PIPELINE_AFTER_BODIES:
            resp = c.read_response()
            assert resp.status == 200, "%s: %r" % (name, resp.raw_head)
            assert resp.body == srv.data(path), "%s: wrong body for %s" % (name, path)
        c.assert_open(quiet=t(0.5))
    srv.recovers()


@pytest.mark.parametrize("sub", ["static", "dynamic"])
def test_error_after_pipelined_response_keeps_it(srv, sub):
    """A slow client pipelines a 2 MiB GET, a malformed request and 3,000 more GETs (which the
    server must never answer). The 2 MiB response was accepted in full before the malformed
    request was read, so the client must get all of it, then the 400 page, then the close
    (RFC 9112 §9.6: a server closing at once risks destroying what it has sent)."""
    path = "/%s/%s" % (sub, fname(2 * MIB))
    bad = b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n"
    more = b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3000
    head = httpclient.build_request("GET", path) + bad
    sock = raw_conn(srv.port, rcvbuf=32 * KIB)
    try:
        sock.sendall(head)
        sock.setblocking(False)
        sent = 0
        try:
            while sent < len(more):
                sent += sock.send(more[sent:])
        except BlockingIOError:
            pass
        sock.settimeout(t(10))
        time.sleep(t(0.5))                        # the server has answered both by now
        r = Reader(sock).read_head()
        assert r.status == 200 and r.length == 2 * MIB, r.head
        got = r.read_body(r.length, piece=16 * KIB, pause=0.001)
        assert got == r.length, ("%s: %d of %d body bytes, then %s (the server sent a 400 for "
                                 "the next request and closed)" % (path, got, r.length, r.eof))
        assert bytes(r.body) == srv.data(path)
        err = Reader(sock)
        err.buf = r.buf
        err.read_head()
        assert err.status == 400 and err.headers.get("connection") == "close", err.head
        err.read_body(err.length)
        assert len(err.body) == err.length, "400 page cut: %d of %d bytes" % (len(err.body), err.length)
        assert err.read_to_eof(err.length) in ("eof", "reset")
    finally:
        sock.close()
    srv.recovers()


# =============================================================================================
# Traversal

# (target, status the README implies). Every one must come back at once, never with outside
# bytes. 400: the path climbs above the root, or holds a NUL or an encoded slash.
TRAVERSAL = [
    ("/static/../../etc/passwd", 400),
    ("/static/../../../../../../../../etc/passwd", 400),
    ("/../etc/passwd", 400),
    ("/static/../../outside_secret.txt", 400),
    ("/dynamic/../../outside_secret.txt", 400),
    ("/static/sub/../../../outside_secret.txt", 400),
    ("/static/%2e%2e/%2e%2e/etc/passwd", 400),
    ("/static/%2E%2E/%2E%2E/outside_secret.txt", 400),
    ("/static/.%2e/.%2e/outside_secret.txt", 400),
    ("/static/..%2f..%2fetc%2fpasswd", 400),
    ("/static/%2f..%2f..%2foutside_secret.txt", 400),
    ("/static/hello.txt%2f", 400),
    ("/static/hello.txt%00", 400),
    ("/static/hello.txt%00.png", 400),
    ("/static/%00/../../etc/passwd", 400),
    ("http://x/static/../../etc/passwd", 400),
    ("http://x/dynamic/../../outside_secret.txt", 400),
    # Decoded once: "%2e%2e" is then a name, which does not exist.
    ("/static/%252e%252e/%252e%252e/etc/passwd", 404),
    ("/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd", 404),
    # Overlong UTF-8 dots and slashes are bytes of a name, not dots.
    ("/static/%c0%ae%c0%ae/%c0%ae%c0%ae/outside_secret.txt", 404),
    ("/static/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd", 404),
    ("/static/%e0%80%ae%e0%80%ae/outside_secret.txt", 404),
    # Backslashes are ordinary name bytes on Linux.
    ("/static/..\\..\\etc\\passwd", 404),
    ("/static/..%5c..%5coutside_secret.txt", 404),
    # Symlinks that leave the root, to files and to directories, relative and absolute.
    ("/static/abs_evil", 404),
    ("/static/rel_evil", 404),
    ("/dynamic/abs_evil", 404),
    ("/dynamic/rel_evil", 404),
    ("/static/rootlink/etc/passwd", 404),
    ("/dynamic/rootlink/etc/passwd", 404),
    ("/static/rootlink/dev/zero", 404),
    ("/static/rootlink/proc/self/environ", 404),
    ("/static/etclink/passwd", 404),
    ("/static/updir/outside_secret.txt", 404),
    ("/dynamic/updir/outside_secret.txt", 404),
    ("/static/abs_updir/outside_secret.txt", 404),
    ("/dynamic/abs_updir/outside_secret.txt", 404),
    ("/static/rootlink/", 404),
    # FIFOs and devices: 404 without blocking.
    ("/static/fifo", 404),
    ("/dynamic/fifo", 404),
    ("/static/zero", 404),
    ("/dynamic/zero", 404),
]


@pytest.mark.parametrize("target,status", TRAVERSAL, ids=[x[0] for x in TRAVERSAL])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_traversal(srv, content, target, status, method):
    root, secret, _ = content
    if target.endswith("/zero") and not srv.path(target).exists():
        pytest.skip("mknod of a character device failed here")
    raw = ("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, target)).encode("latin-1")
    with srv.conn(timeout=5) as c:
        c.send(raw)
        resp = httpcheck.read_any(c, method)
        assert resp.status == status, "%s %s: want %d, got %r" % (method, target, status, resp.raw_head)
        assert secret not in resp.body and b"root:" not in resp.body, resp.body[:200]
        if status == 404:                         # a miss keeps the connection
            httpcheck.still_serves(srv, c)
        else:
            httpcheck.expect_close(srv, c, resp, status)
    srv.recovers()


# =============================================================================================
# Slow clients

def have_slowhttptest():
    if shutil.which("slowhttptest"):
        return True
    if os.geteuid() != 0:
        return False
    out = subprocess.run(["apt-get", "install", "-y", "slowhttptest"], capture_output=True,
                         timeout=600)
    return out.returncode == 0 and shutil.which("slowhttptest") is not None


class Prober(threading.Thread):
    """GETs /static/hello.txt on fresh connections every 0.2 s; records (time, ok, why)."""

    def __init__(self, srv, timeout):
        super().__init__(daemon=True)
        self.srv = srv
        self.timeout = timeout
        self.stop = threading.Event()
        self.results = []

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with httpclient.Conn(port=self.srv.port, timeout=self.timeout) as c:
                    c.request("GET", "/static/hello.txt")
                    resp = c.read_response()
                ok = resp.status == 200 and resp.body == HELLO
                why = "" if ok else repr(resp.raw_head)
            except (OSError, httpclient.ProtocolError) as e:
                ok, why = False, repr(e)
            self.results.append((t0, ok, why))
            self.stop.wait(max(0.0, 0.2 - (time.monotonic() - t0)))


def test_slowloris_slowhttptest(content):
    """A few hundred slowloris connections for 10 s against --header-timeout 2: probes keep
    getting 200 (every second at least one, at most one failure overall)."""
    if not have_slowhttptest():
        pytest.skip("slowhttptest is not installed and could not be installed")
    conns = 100 if VALGRIND else 300
    window = 3.0 if VALGRIND else 1.0
    with Server(content[0], ["--header-timeout", "2"]) as s:
        baseline = fresh(s)
        log = s.tmp / "slowhttptest.out"
        cmd = ["slowhttptest", "-H", "-c", str(conns), "-r", str(conns), "-i", "1", "-x", "10",
               "-l", "10", "-p", "3", "-u", "http://127.0.0.1:%d/static/hello.txt" % s.port]
        prober = Prober(s, timeout=t(2))
        peak = 0
        with open(log, "wb") as out:
            attack = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                time.sleep(0.5)
                prober.start()
                start = time.monotonic()
                while attack.poll() is None and time.monotonic() - start < 40:
                    peak = max(peak, len(s.established()))
                    time.sleep(0.5)
                assert attack.poll() is not None, "slowhttptest still running after 40 s"
            finally:
                prober.stop.set()
                prober.join(t(10))
                if attack.poll() is None:
                    attack.kill()
                    attack.wait()
        end = time.monotonic()
        text = log.read_text("latin-1")
        assert peak >= conns // 3, ("the attack never held many connections (peak %d); "
                                    "slowhttptest said:\n%s" % (peak, text[-2000:]))
        fails = [(round(t0 - start, 2), why) for (t0, ok, why) in prober.results if not ok]
        assert len(fails) <= 1, "probes failed during the slowloris: %r" % fails
        oks = [t0 for (t0, ok, _) in prober.results if ok]
        n = int((end - start) // window)
        empty = [i for i in range(n) if not any(start + i * window <= x < start + (i + 1) * window
                                                for x in oks)]
        assert not empty, "no successful probe in the %.0f-second windows %r (of %d)" % (
            window, empty, n)
        s.wait_fds(baseline, timeout=5)
        s.recovers()


def test_reader_1kib_per_second_then_close(srv):
    """Two clients read 1 KiB a second of the 64 MiB files for 3 s, then close: the bytes they
    got are the files' first bytes, and the server lets go of both connections."""
    baseline = fresh(srv)
    readers = []
    for path in ("/static/" + fname(BIG), "/dynamic/" + fname(BIG)):
        sock = raw_conn(srv.port, rcvbuf=4096)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        readers.append((path, sock, Reader(sock)))
    try:
        for _, _, r in readers:
            r.read_head()
            assert r.status == 200 and r.length == BIG, r.head
        for _ in range(3):
            time.sleep(1)
            for path, _, r in readers:
                r.read_body(len(r.body) + KIB, piece=KIB)
        for path, _, r in readers:
            assert r.eof is None, "%s: server closed a slow reader after %d bytes" % (path, len(r.body))
            assert len(r.body) >= 3 * KIB
            assert bytes(r.body) == srv.data(path)[:len(r.body)], "%s: wrong bytes" % path
        ports = [sock.getsockname()[1] for _, sock, _ in readers]
    finally:
        for _, sock, _ in readers:
            sock.close()
    srv.wait_gone(ports, timeout=5)
    srv.wait_fds(baseline)
    srv.recovers()


def test_request_one_byte_at_a_time(srv):
    """Two pipelined requests sent one byte per send, a millisecond apart."""
    data = (b"GET /static/f_4097.dat HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n"
            b"GET /dynamic/f_4097.dat HTTP/1.1\r\nHost: x\r\n\r\n")
    with srv.conn() as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.001)
        for path in ("/static/f_4097.dat", "/dynamic/f_4097.dat"):
            resp = c.read_response()
            assert resp.status == 200 and resp.body == srv.data(path), resp.raw_head
        c.assert_open(quiet=0.3)
    srv.recovers()


# =============================================================================================
# Exhaustion

@skip_in_valgrind("valgrind needs descriptors of its own under prlimit --nofile=64, and its "
                  "CPU use says nothing about a busy loop")
def test_descriptor_limit_300_connections(content):
    """Under prlimit --nofile=64:64, 300 clients each send a request: exactly `cap` of them are
    served (the rest wait in the kernel's queue), the server does not spin, and once they all
    leave it is back to its descriptors and serves."""
    with Server(content[0], prefix=["prlimit", "--nofile=64:64"],
                allow_errors=[r"(?i)descriptor|EMFILE|too many open files|accept"]) as s:
        line = s.wait_line(r"connection cap: \d+")
        cap = int(re.search(r"connection cap: (\d+)", line).group(1))
        # 32 reserved, a sixteenth (4) for the open-file cache, two per connection.
        assert cap == (64 - 32 - 64 // 16) // 2, line
        baseline = fresh(s)
        socks = []
        try:
            for _ in range(300):
                sock = raw_conn(s.port, timeout=2)
                sock.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(sock)
            time.sleep(0.5)
            assert s.alive(), "server died at the descriptor limit:\n" + s.stderr_tail()
            cpu0 = s.cpu()
            time.sleep(3)
            used = s.cpu() - cpu0
            assert used < 0.5, "server used %.2f s of CPU in 3 s at its descriptor limit" % used
            served = 0
            for sock in socks:
                sock.setblocking(False)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(HELLO), data[:200]
                served += 1
            assert served == cap, "%d of 300 connections answered with a cap of %d" % (served, cap)
        finally:
            for sock in socks:
                sock.close()
        s.wait_fds(baseline, timeout=10)
        s.recovers()


def hammer(port, cycles, threads=8):
    """`cycles` connections opened and closed from `threads` threads, in four manners (close at
    once; half a request then close; a whole request then an RST; a whole request read to the
    end). Returns the errors (at most a few) and the count of verified responses."""
    errors, served = [], [0]
    lock = threading.Lock()

    def work(k):
        for i in range(k, cycles, threads):
            how = i % 4
            try:
                sock = raw_conn(port, linger_rst=(how == 2), timeout=10)
                try:
                    if how == 1:
                        sock.sendall(b"GET /sta")
                    elif how >= 2:
                        sock.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                    if how == 3:
                        c = Reader(sock).read_head()
                        c.read_body(c.length)
                        if c.status != 200 or bytes(c.body) != HELLO:
                            raise AssertionError("bad response %r %r" % (c.head, bytes(c.body)))
                        with lock:
                            served[0] += 1
                finally:
                    sock.close()
            except (OSError, AssertionError, httpclient.ProtocolError) as e:
                with lock:
                    errors.append("cycle %d: %r" % (i, e))
                    if len(errors) > 5:
                        return

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return errors, served[0]


def test_connect_close_cycles(srv):
    cycles = 2000 if VALGRIND else 20000
    baseline = fresh(srv)
    errors, served = hammer(srv.port, cycles)
    assert not errors, errors
    assert served == cycles // 4
    srv.wait_fds(baseline, timeout=10)
    srv.recovers()


def test_keepalive_many_requests(srv):
    """20,000 requests (2,000 under valgrind) on 4 keep-alive connections, pipelined 50 at a
    time, each answered with exactly its file; afterwards the descriptors are back."""
    total = 2000 if VALGRIND else 20000
    paths = ["/static/hello.txt", "/dynamic/hello.txt", "/static/f_511.dat", "/dynamic/f_4097.dat"]
    want = {p: srv.data(p) for p in paths}
    baseline = fresh(srv)
    errors = []

    def work(k):
        try:
            with httpclient.Conn(port=srv.port, timeout=t(10)) as c:
                done = 0
                while done < total // 4:
                    batch = [paths[(done + j + k) % len(paths)] for j in range(50)]
                    c.send(b"".join(httpclient.build_request("GET", p) for p in batch))
                    for p in batch:
                        resp = c.read_response()
                        if resp.status != 200 or resp.body != want[p]:
                            raise AssertionError("request %d for %s: %r" % (done, p, resp.raw_head))
                        done += 1
        except Exception as e:              # reported by the test thread
            errors.append("connection %d: %r" % (k, e))

    pool = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors
    srv.wait_fds(baseline)
    srv.recovers()


@pytest.mark.parametrize("path", ["/static/f_4097.dat", "/dynamic/f_4097.dat"])
def test_thousand_part_range(srv, path):
    """1,000 ranges (20 disjoint ones, 50 times over): more than 16 parts, so the whole file."""
    parts = ",".join("%d-%d" % (2 * i, 2 * i) for i in range(20))
    value = "bytes=" + ",".join([parts] * 50)
    assert value.count(",") + 1 == 1000
    with srv.conn() as c:
        c.request("GET", path, headers=[("Range", value)])
        resp = c.read_response()
        assert resp.status == 200, resp.raw_head
        assert resp.header("Content-Range") is None, resp.raw_head
        assert resp.body == srv.data(path)
        httpcheck.still_serves(srv, c)
    srv.recovers()


# =============================================================================================
# Faults: resets mid-transfer, files that change while being sent

def test_resets_mid_transfer_while_others_download(srv):
    """Clients that reset (SO_LINGER 0) before, at and after the head of a 64 MiB response, on
    /static and /dynamic, while 4 others download 16 MiB files and must get every byte."""
    baseline = fresh(srv)
    results, errors = {}, []

    def download(k, path):
        try:
            h = hashlib.sha256()
            with httpclient.Conn(port=srv.port, timeout=t(30)) as c:
                c.request("GET", path)
                resp = c.read_response(sink=h.update, chunk=64 * KIB, pause=0.004)
            results[k] = (resp.status, h.hexdigest())
        except Exception as e:              # reported by the test thread
            errors.append("download %d: %r" % (k, e))

    def resetter(k, rounds):
        try:
            for i in range(rounds):
                path = ("/static/" if (i + k) % 2 else "/dynamic/") + fname(BIG)
                sock = raw_conn(srv.port, linger_rst=True, rcvbuf=64 * KIB)
                try:
                    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
                    if i % 3 >= 1:
                        r = Reader(sock).read_head()
                        assert r.status == 200, r.head
                        if i % 3 == 2:
                            r.read_body(MIB)
                            assert bytes(r.body) == srv.data(path)[:len(r.body)]
                finally:
                    sock.close()
        except Exception as e:              # reported by the test thread
            errors.append("resetter %d: %r" % (k, e))

    paths = ["/static/f16.dat", "/dynamic/f16.dat"] * 2
    rounds = 6 if VALGRIND else 30
    pool = [threading.Thread(target=download, args=(k, p)) for k, p in enumerate(paths)]
    pool += [threading.Thread(target=resetter, args=(k, rounds)) for k in range(3)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors
    for k, path in enumerate(paths):
        assert results[k] == (200, sha(srv.data(path))), "%s corrupted or cut" % path
    srv.wait_fds(baseline, timeout=10)
    srv.recovers()


def slow_start(srv, path, headers=b""):
    """A client with a small receive window that requested `path` and read 2 MiB of it: the
    server is then at most a few MiB into the 64 MiB body (its send buffer is at most 4 MiB)."""
    sock = raw_conn(srv.port, rcvbuf=64 * KIB, timeout=10)
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path.encode(), headers))
    r = Reader(sock).read_head()
    assert r.status == 200 and r.length == BIG, r.head
    r.read_body(2 * MIB, pause=0.001)
    assert r.eof is None and len(r.body) == 2 * MIB
    return sock, r


def copy_big(srv, sub, name):
    """A private copy of the 64 MiB file under /<sub>/; returns (url path, its bytes)."""
    data = srv.data("/static/" + fname(BIG))
    path = srv.path("/%s/%s" % (sub, name))
    path.write_bytes(data)
    return "/%s/%s" % (sub, name), data


@pytest.mark.parametrize("sub", ["static", "dynamic"])
def test_file_truncated_while_sent(srv, sub):
    """The 64 MiB file is cut to 1 MiB while a slow client is 2 MiB in: the client gets a
    short body of the original bytes, then the close; the server does not spin."""
    url, data = copy_big(srv, sub, "trunc.dat")
    baseline = fresh(srv)
    sock, r = slow_start(srv, url)
    try:
        cpu0, t0 = srv.cpu(), time.monotonic()
        os.truncate(srv.path(url), MIB)
        try:
            how = r.read_to_eof(BIG)
        except socket.timeout:
            pytest.fail("%s: no close within %.0f s of the truncation (%d of %d bytes)"
                        % (url, t(10), len(r.body), BIG))
        assert len(r.body) < BIG, "%s: a full body from a truncated file" % url
        assert bytes(r.body) == data[:len(r.body)], "%s: the short body is not the file's bytes" % url
        window = 6.0 if VALGRIND else 3.0
        time.sleep(max(0.0, window - (time.monotonic() - t0)))
        used = srv.cpu() - cpu0
        assert used < window / 3, "%s: %.2f s of CPU in the %.0f s after the truncation" % (
            url, used, window)
        assert how in ("eof", "reset")
    finally:
        sock.close()
    srv.wait_fds(baseline)
    srv.recovers()


def next_response(sock, path):
    """Sends GET `path` on an open raw socket and returns the Reader with its whole body."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    r = Reader(sock).read_head()
    r.read_body(r.length)
    return r


@pytest.mark.parametrize("sub", ["static", "dynamic"])
def test_file_appended_while_sent(srv, sub):
    """1 MiB appended while a client is 2 MiB into the 64 MiB file: exactly Content-Length
    bytes, the original ones, then the next response on the same connection."""
    url, data = copy_big(srv, sub, "append.dat")
    baseline = fresh(srv)
    sock, r = slow_start(srv, url)
    try:
        with open(srv.path(url), "ab") as f:
            f.write(os.urandom(MIB))
        r.read_body(BIG, piece=MIB)
        assert r.eof is None and len(r.body) == BIG, "%s: %d bytes then %s" % (url, len(r.body), r.eof)
        assert bytes(r.body) == data, "%s: the body is not the original file" % url
        nxt = next_response(sock, "/static/hello.txt")
        assert nxt.status == 200 and bytes(nxt.body) == HELLO, nxt.head
    finally:
        sock.close()
    srv.wait_fds(baseline)
    srv.recovers()


@pytest.mark.parametrize("sub", ["static", "dynamic"])
def test_file_replaced_while_sent(srv, sub):
    """A new file renamed over the 64 MiB one while a client is 2 MiB in: the client gets the
    old content exactly; the next request on the connection gets the new one."""
    url, old = copy_big(srv, sub, "replace.dat")
    new = old.translate(bytes(255 - i for i in range(256)))        # differs at every byte
    baseline = fresh(srv)
    sock, r = slow_start(srv, url)
    try:
        tmp = srv.path(url + ".new")
        tmp.write_bytes(new)
        os.rename(tmp, srv.path(url))
        r.read_body(BIG, piece=MIB)
        assert r.eof is None and len(r.body) == BIG, "%s: %d bytes then %s" % (url, len(r.body), r.eof)
        assert bytes(r.body) == old, "%s: the body is not the old file" % url
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=4000-4199\r\n\r\n" % url.encode())
        nxt = Reader(sock).read_head()
        nxt.read_body(nxt.length)
        assert nxt.status == 206 and bytes(nxt.body) == new[4000:4200], nxt.head
    finally:
        sock.close()
    srv.wait_fds(baseline)
    srv.recovers()


# =============================================================================================
# io_submit refusing (SOCKOP_AIO_EAGAIN) and the preload's hard mode

def aio_summary(s):
    """(AIO reads, reads that waited for room) from the server's exit summary line."""
    for line in s.lines():
        m = re.search(r"(\d+) AIO reads \((?:[^()]*, )?(\d+) waited for room\)", line)
        if m:
            return int(m.group(1)), int(m.group(2))
    pytest.fail("no `N AIO reads (M waited for room)` in the exit summary:\n" + s.stderr_tail())


def test_io_submit_refused_every_third_call(content):
    """Every third io_submit returns -EAGAIN: /dynamic files of every size are still exact,
    alone, ranged and 20 at a time, and the summary shows reads that waited."""
    root = content[0]
    sizes = [s for s in SIZES if not (VALGRIND and s == BIG)]
    with Server(root, preload_env={"SOCKOP_AIO_EAGAIN": "3"}) as s:
        preload_loaded(s, "SOCKOP_AIO_EAGAIN=3")
        for size in sizes:
            path = "/dynamic/" + fname(size)
            with s.conn(timeout=30) as c:
                h = hashlib.sha256()
                c.request("GET", path)
                resp = c.read_response(sink=h.update)
                assert resp.status == 200 and h.hexdigest() == sha(s.data(path)), path
        for first, last in [(0, 0), (4095, 4096), (4000, 9000), (MIB - 1, MIB + 1)]:
            path = "/dynamic/" + fname(2 * MIB)
            resp = httpcheck.ask(s, "GET", path, headers=[("Range", "bytes=%d-%d" % (first, last))])
            assert resp.status == 206 and resp.body == s.data(path)[first:last + 1], resp.raw_head
        results, errors = {}, []

        def fetch(k, path):
            try:
                h = hashlib.sha256()
                with httpclient.Conn(port=s.port, timeout=t(60)) as c:
                    c.request("GET", path)
                    resp = c.read_response(sink=h.update)
                results[k] = (resp.status, h.hexdigest())
            except Exception as e:          # reported by the test thread
                errors.append("%s: %r" % (path, e))

        pick = ["/dynamic/" + fname(x) for x in (2 * MIB, MIB + 1, 4097, 513, 0)] + \
               ["/dynamic/f16.dat", "/dynamic/link_2097152.dat"]
        paths = [pick[k % len(pick)] for k in range(20)]
        pool = [threading.Thread(target=fetch, args=(k, p)) for k, p in enumerate(paths)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        assert not errors, errors
        for k, path in enumerate(paths):
            assert results[k] == (200, sha(s.data(path))), path
        s.recovers()
        assert s.stop() == 0
        reads, waited = aio_summary(s)
        assert waited >= 1, "no read waited for room with every third io_submit refused (%d reads)" % reads


# What the preload itself does, seen by a small Python program calling libc through ctypes
# (Python would retry an EINTR by itself). It prints one JSON line of results.
PRELOAD_PROBE = r"""
import ctypes, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
libc.recv.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
libc.send.restype = libc.recv.restype = ctypes.c_ssize_t
a, b = socket.socketpair()
out = {"send": [], "recv": [], "pipe": [], "aio": []}
for _ in range(4):
    ctypes.set_errno(0)
    n = libc.send(a.fileno(), b"x" * 100, 100, 0)
    out["send"].append([n, ctypes.get_errno() if n < 0 else 0])
buf = ctypes.create_string_buffer(100)
for _ in range(4):
    n = libc.recv(b.fileno(), buf, 100, 0)
    out["recv"].append([n, ctypes.get_errno() if n < 0 else 0])
r, w = os.pipe()
out["pipe"] = [os.write(w, b"y" * 100) for _ in range(3)]
if os.environ.get("PROBE_AIO"):
    libc.io_submit.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p]
    out["aio"] = [libc.io_submit(None, 0, None) for _ in range(6)]
print(json.dumps(out))
"""


def run_probe(env_extra, preload=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKOP_")}
    env["LD_PRELOAD"] = preload or str(advutil.PRELOAD)
    env.update(env_extra)
    out = subprocess.run(["/usr/bin/python3", "-c", PRELOAD_PROBE], env=env, capture_output=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout), out.stderr.decode()


def test_preload_default_mode_unchanged():
    """No SOCKOP_ variable: sends halved, receives capped at 20 bytes, pipes untouched, and
    not a byte on stderr (test_preload_aio_eagain checks that io_submit passes through)."""
    res, err = run_probe({})
    assert err == ""
    assert res["send"] == [[50, 0], [50, 0], [50, 0], [50, 0]]
    assert res["recv"] == [[20, 0], [20, 0], [20, 0], [20, 0]]
    assert res["pipe"] == [100, 100, 100]


def test_preload_hard_mode():
    """SOCKOP_MODE=hard: every other socket call fails with EINTR having moved nothing, the
    others move exactly 1 byte; pipes are untouched; nothing on stderr."""
    res, err = run_probe({"SOCKOP_MODE": "hard"})
    assert err == ""
    eintr = 4                                     # errno.EINTR on Linux
    assert res["send"] == [[-1, eintr], [1, 0], [-1, eintr], [1, 0]]
    assert res["recv"] == [[-1, eintr], [1, 0], [-1, eintr], [1, 0]]
    assert res["pipe"] == [100, 100, 100]


def test_preload_aio_eagain():
    """SOCKOP_AIO_EAGAIN=3: calls 3 and 6 are refused with -EAGAIN without reaching libaio;
    the others reach it (and fail there with -EINVAL: there is no context)."""
    so = "%s libaio.so.1" % advutil.PRELOAD      # libaio after us: RTLD_NEXT finds it
    res, err = run_probe({"SOCKOP_AIO_EAGAIN": "3", "PROBE_AIO": "1"}, preload=so)
    assert err == ""
    assert res["aio"] == [-22, -22, -11, -22, -22, -11]
    res, err = run_probe({"PROBE_AIO": "1"}, preload=so)
    assert res["aio"] == [-22] * 6


@pytest.mark.parametrize("env", [{"SOCKOP_MODE": "soft"}, {"SOCKOP_AIO_EAGAIN": "0"},
                                 {"SOCKOP_AIO_EAGAIN": "x3"}])
def test_preload_bad_setting_is_reported(env):
    _, err = run_probe(env)
    assert err.startswith("sockop_preload: ") and len(err.splitlines()) == 1, err


HARD_SIZES = [0, 1, 511, 512, 513, 2 * KIB, 4095, 4096, 4097] + ([] if VALGRIND else [MIB + 1])


@pytest.fixture(scope="module")
def hard(content):
    """A server whose every other socket call fails with EINTR, the others moving 1 byte."""
    with Server(content[0], preload_env={"SOCKOP_MODE": "hard"}) as s:
        preload_loaded(s, "SOCKOP_MODE=hard")
        yield s


def preload_loaded(s, setting):
    """The server process has sockop_preload.so mapped and `setting` in its environment."""
    with open("/proc/%d/maps" % s.pid) as f:
        assert "sockop_preload.so" in f.read(), "sockop_preload.so not loaded in the server"
    with open("/proc/%d/environ" % s.pid, "rb") as f:
        assert setting.encode() in f.read().split(b"\0"), "%s not in the server's environment" % setting


@pytest.mark.parametrize("sub", ["static", "dynamic"])
def test_hard_mode_files(hard, sub):
    for size in HARD_SIZES:
        path = "/%s/%s" % (sub, fname(size))
        with hard.conn(timeout=60) as c:
            c.request("GET", path)
            resp = c.read_response()
            assert resp.status == 200 and resp.body == hard.data(path), "%s: %r" % (path, resp.raw_head)
    hard.recovers()


def test_hard_mode_keepalive_pipelining(hard):
    paths = ["/static/hello.txt", "/dynamic/hello.txt", "/dynamic/f_4097.dat", "/static/f_513.dat"]
    with hard.conn(timeout=60) as c:
        for p in paths:                                         # keep-alive, one at a time
            c.request("GET", p)
            resp = c.read_response()
            assert resp.status == 200 and resp.body == hard.data(p), p
        c.send(b"".join(httpclient.build_request("GET", p) for p in paths)   # pipelined
               + httpclient.build_request("HEAD", "/dynamic/f_2048.dat")
               + httpclient.build_request("GET", "/static/f_4097.dat", headers=[("Range", "bytes=5-9")])
               + b"GET /static/NOTES HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        for p in paths:
            resp = c.read_response()
            assert resp.status == 200 and resp.body == hard.data(p), p
        resp = c.read_response(head_only=True)
        assert resp.status == 200 and resp.content_length() == 2048, resp.raw_head
        resp = c.read_response()
        assert resp.status == 206 and resp.body == hard.data("/static/f_4097.dat")[5:10], resp.raw_head
        resp = c.read_response()
        assert resp.status == 200 and resp.body == hard.data("/static/NOTES")
        c.assert_open(quiet=0.3)
    hard.recovers()


def test_hard_mode_error_page_then_close(hard):
    """On keep-alive connections that already served a response, a malformed Content-Length:
    the whole 400 page (Content-Length bytes), then the close. Ten connections, since how
    much of a page a premature close destroys depends on timing."""
    for i in range(10):
        with hard.conn(timeout=30) as c:
            c.request("GET", "/static/f_4097.dat", headers=[("Range", "bytes=0-3")])
            resp = c.read_response()
            assert resp.status == 206 and resp.body == hard.data("/static/f_4097.dat")[:4]
            if i % 2:
                time.sleep(0.05)
            c.send(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n")
            try:
                resp = c.read_response()
            except httpclient.ServerClosed as e:
                pytest.fail("connection %d: the 400 page was cut by the close: %s" % (i, e))
            httpcheck.expect_close(hard, c, resp, 400)
    hard.recovers()


# =============================================================================================
# Files over 4 GiB (sparse)

SPARSE_PATHS = ["static/big.sparse", "dynamic/big.sparse", "dynamic/big2.sparse"]


def sparse_bytes(marks, first, last):
    """Bytes first..last (inclusive) of a sparse file with `marks` ({offset: 8 bytes})."""
    out = bytearray(last - first + 1)
    for off, data in marks.items():
        for i, b in enumerate(data):
            if first <= off + i <= last:
                out[off + i - first] = b
    return bytes(out)


SPARSE_RANGES = [
    (2 ** 31 - 4, 2 ** 31 + 3), (2 ** 31 - 1, 2 ** 31 - 1), (2 ** 31, 2 ** 31),
    (2 ** 31 - 1, 2 ** 31), (2 ** 32 - 4, 2 ** 32 + 3), (2 ** 32 - 1, 2 ** 32 - 1),
    (2 ** 32, 2 ** 32), (2 ** 32 - 1, 2 ** 32), (2 ** 32 - 5000, 2 ** 32 + 5000),
    (SPARSE_SIZE - 8, SPARSE_SIZE - 1), (SPARSE_SIZE - 1, SPARSE_SIZE - 1),
]


@pytest.mark.parametrize("rel", SPARSE_PATHS)
def test_sparse_4_5_gib(srv, content, rel):
    marks = content[2][rel]
    url = "/" + rel
    with srv.conn(timeout=30) as c:
        c.request("HEAD", url)
        resp = c.read_response(head_only=True)
        assert resp.status == 200 and resp.content_length() == SPARSE_SIZE, resp.raw_head
        for first, last in SPARSE_RANGES:
            c.request("GET", url, headers=[("Range", "bytes=%d-%d" % (first, last))])
            resp = c.read_response()
            assert resp.status == 206, resp.raw_head
            assert httpcheck.content_range(resp) == (first, last, SPARSE_SIZE), resp.raw_head
            assert resp.body == sparse_bytes(marks, first, last), "%s bytes %d-%d" % (url, first, last)
        for spec, first in (("-8", SPARSE_SIZE - 8), ("%d-" % (SPARSE_SIZE - 3), SPARSE_SIZE - 3)):
            c.request("GET", url, headers=[("Range", "bytes=" + spec)])
            resp = c.read_response()
            assert resp.status == 206, resp.raw_head
            assert resp.body == sparse_bytes(marks, first, SPARSE_SIZE - 1), spec
        # Several ranges above 2^31: one multipart body with each part exact.
        spans = [(2 ** 31 - 2, 2 ** 31 + 1), (2 ** 32 - 2, 2 ** 32 + 1), (SPARSE_SIZE - 2, SPARSE_SIZE - 1)]
        c.request("GET", url, headers=[("Range", "bytes=" + ",".join("%d-%d" % s for s in spans))])
        resp = c.read_response()
        assert resp.status == 206, resp.raw_head
        parts = httpcheck.parse_byteranges(resp)
        assert [(p[1], p[2], p[3]) for p in parts] == [(a, b, SPARSE_SIZE) for a, b in spans]
        for (_, a, b, _, data) in parts:
            assert data == sparse_bytes(marks, a, b), "%s part %d-%d" % (url, a, b)
        c.request("GET", url, headers=[("Range", "bytes=%d-" % SPARSE_SIZE)])
        resp = c.read_response()
        assert resp.status == 416, resp.raw_head
        assert resp.header("Content-Range") == "bytes */%d" % SPARSE_SIZE, resp.raw_head
        # The whole file: the head and the first bytes only, then hang up.
        c.request("GET", url)
        head = c.read_head()
        assert head.status == 200 and head.content_length() == SPARSE_SIZE, head.raw_head
        assert c.read_exact(64 * KIB) == sparse_bytes(marks, 0, 64 * KIB - 1)
    srv.recovers()
