"""Session fixture for the integration tests: a generated document root and one running ./aws.

AWS_MODE selects how the server runs: plain, preload (sockop_preload.so splits every socket
I/O), or valgrind (memcheck; at the end it must exit 0, with no errors and nothing leaked).
The server takes no arguments: it listens on port 8888 and serves its working directory.
At teardown the server gets SIGTERM and must exit 0; its stderr may hold only `aws: <level>: `
lines (plus, under valgrind, its own `==PID==` and `--PID--` lines), and no `aws: error:`
line that a test did not announce with server.expect_error().
Set AWS_STDERR_COPY=FILE to keep a copy of the server's stderr after the run.
running_server() does all of this for any argument list and port; test_flags_http.py uses it
for a second server started with options.
"""

import contextlib
import gzip
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import httpclient

REPO = Path(__file__).resolve().parents[2]
MODE = os.environ.get("AWS_MODE", "plain")
# The server under test: ./aws, or another build of it (make check-asan sets AWS_BIN).
AWS_BIN = Path(os.environ.get("AWS_BIN") or REPO / "aws")
MODES = ("plain", "preload", "valgrind")
PORT = httpclient.PORT

KIB = 1024
MIB = 1024 * 1024
# Sizes around the 512-byte sector and 4 KiB page boundaries (O_DIRECT and AIO alignment),
# a body just over the sendfile/AIO chunk sizes, and one big enough to outlast socket buffers.
SIZES = [0, 1, 511, 512, 513, 2 * KIB, 4095, 4096, 4097, MIB + 1, 2 * MIB, 64 * MIB]
BIG = 64 * MIB
LINK_SIZES = [0, 513, 4096, 2 * MIB]     # dynamic/link_<size>.dat -> ../static/f_<size>.dat

START_LIMIT = 2.0 if MODE == "valgrind" else 1.0   # seconds from spawn to accepting
SLOW = 6.0 if MODE == "valgrind" else 1.0           # timeout multiplier

LINE_OK = re.compile(r"^aws: (error|warn|info): ")
# valgrind's own lines: `==PID== ` (its reports) and `--PID-- ` (its warnings, such as
# "unhandled syscall" for openat2, which valgrind 3.19 does not know; the server falls back).
VALGRIND_LINE = re.compile(r"^(==\d+==|--\d+--)")


def pytest_configure(config):
    config.addinivalue_line("markers", "heavy: many clients or 64 MiB bodies (-m 'not heavy' for a quick run)")


def fname(size):
    return "f_%d.dat" % size


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make_content(tmp):
    """Builds <tmp>/root (the document root) and <tmp>/outside_secret.txt next to it."""
    root = tmp / "root"
    static, dynamic = root / "static", root / "dynamic"
    for d in (static / "sub", dynamic / "sub"):
        d.mkdir(parents=True)
    # One random pool, sliced at a different offset for every file: static and dynamic
    # copies of one size differ, so serving the wrong file cannot go unnoticed.
    pool = memoryview(os.urandom(BIG + MIB))
    for i, size in enumerate(SIZES):
        _write(static / fname(size), pool[i * 4099:i * 4099 + size])
        off = MIB - 1 - i * 7919
        _write(dynamic / fname(size), pool[off:off + size])
    _write(static / "index.html", b"<!doctype html>\n<title>aws</title>\n<p>static index</p>\n")
    _write(static / "hello.txt", b"hello from static\n")
    _write(static / "pic.png", b"\x89PNG\r\n\x1a\n" + bytes(pool[5:1005]))
    _write(dynamic / "page.html", b"<!doctype html>\n<p>dynamic page</p>\n")
    _write(dynamic / "hello.txt", b"hello from dynamic\n")
    _write(dynamic / "pic.png", b"\x89PNG\r\n\x1a\n" + bytes(pool[7:777]))
    _write(static / "NOTES", b"a file without an extension\n")
    _write(static / "sub" / "inner.txt", b"inner static file\n")
    _write(dynamic / "sub" / "inner.txt", b"inner dynamic file\n")
    for size in LINK_SIZES:
        os.symlink("../static/" + fname(size), dynamic / ("link_%d.dat" % size))
    secret = ("OUTSIDE-SECRET-%s\n" % os.urandom(8).hex()).encode()
    _write(tmp / "outside_secret.txt", secret)
    for d in (static, dynamic):
        os.symlink("/etc/passwd", d / "abs_evil")
        os.symlink("../../outside_secret.txt", d / "rel_evil")   # from root/<d>/ to tmp/
        os.mkfifo(d / "fifo")
    assert (static / "rel_evil").read_bytes() == secret        # the link really escapes
    for d in (static, dynamic):
        make_feature_content(d, pool)
    return root, secret


# One file per extension whose Content-Type the server must know (test_http_features.py).
TYPE_EXTS = ["html", "htm", "css", "js", "mjs", "json", "map", "xml", "txt", "md", "csv", "svg",
             "png", "jpg", "jpeg", "gif", "webp", "avif", "ico", "bmp", "woff", "woff2", "ttf",
             "otf", "wasm", "pdf", "zip", "gz", "tar", "mp3", "ogg", "wav", "mp4", "webm", "mov",
             "zzqx"]
# What a directory listing of listdir/ must show: names (dirs end in '/') and file sizes.
LISTDIR_FILES = {"Zed.txt": 3, "a&b<c>.txt": 12345, "50% off.txt": 7, "caf\u00e9.txt": 1,
                 "b dir/inside.txt": 9}
LISTDIR_HIDDEN = [".hidden", ".git/config"]


def brotli_stored(data):
    """A valid brotli stream (RFC 7932) holding `data` in uncompressed meta-blocks."""
    out = bytearray()
    lead = 1            # the stream starts with one 0 bit: WBITS = 16
    for i in range(0, len(data), 65536):
        block = data[i:i + 65536]
        # Bits from the least significant: ISLAST=0, MNIBBLES=0 (two bits: 4 nibbles),
        # MLEN-1 (16 bits), ISUNCOMPRESSED=1; zero bits up to the byte; then the raw bytes.
        bits = ((len(block) - 1) << (lead + 3)) | (1 << (lead + 19))
        out += bits.to_bytes(3, "little") + block
        lead = 0
    # The last meta-block: ISLAST=1, ISLASTEMPTY=1 (after the WBITS bit if it is the only one).
    out.append(0b11 << lead)
    return bytes(out)


def make_feature_content(d, pool):
    """Files for types, directory indexes, listings and precompressed variants under `d`."""
    (d / "types").mkdir()
    for ext in TYPE_EXTS:
        _write(d / "types" / ("t." + ext), ("content of a .%s file in %s\n" % (ext, d.name)).encode())
    (d / "withindex").mkdir()
    _write(d / "withindex" / "index.html", ("<!doctype html>\n<p>index of %s/withindex</p>\n"
                                             % d.name).encode())
    _write(d / "withindex" / "other.txt", b"not the index\n")
    for name, size in LISTDIR_FILES.items():
        p = d / "listdir" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        _write(p, bytes(pool[size:size + size]))
    for name in LISTDIR_HIDDEN:
        p = d / "listdir" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        _write(p, b"hidden\n")
    text = ("precompressed text in %s\n" % d.name).encode() * 40
    _write(d / "pre.txt", text)
    _write(d / "pre.txt.gz", gzip.compress(text, mtime=0))
    _write(d / "pre.txt.br", brotli_stored(text))


def _accepts(family, addr, port=PORT):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _port_busy(port=PORT):
    if _accepts(socket.AF_INET, "127.0.0.1", port):
        return True
    out = subprocess.run(["ss", "-tlnH", "sport = :%d" % port], capture_output=True, text=True)
    return bool(out.stdout.strip())


def server_command(args=()):
    aws = AWS_BIN
    if not os.access(aws, os.X_OK):
        pytest.exit("%s does not exist or is not executable; run make first" % aws, returncode=3)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if MODE == "plain":
        return [str(aws)] + list(args), env
    if MODE == "preload":
        so = REPO / "sockop_preload.so"
        if not so.is_file():
            pytest.exit("%s does not exist; run make first" % so, returncode=3)
        env["LD_PRELOAD"] = str(so)
        return [str(aws)] + list(args), env
    return ["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--error-exitcode=123",
            str(aws)] + list(args), env


class Server:
    """The running server and what tests need to talk about it."""

    def __init__(self, tmp, root, secret, proc, stderr_path, startup, port=PORT, args=()):
        self.port = port
        self.args = list(args)
        self.tmp = tmp
        self.root = root
        self.secret = secret
        self.proc = proc
        self.pid = proc.pid
        self.mode = MODE
        self.stderr_path = stderr_path
        self.startup_seconds = startup
        self.start_limit = START_LIMIT
        self.expected_errors = []
        self._sha = {}

    # -- timeouts and URLs --
    def t(self, seconds):
        """A hang-detection timeout, stretched under valgrind."""
        return seconds * SLOW

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def conn(self, timeout=10.0, **kw):
        return httpclient.Conn(port=self.port, timeout=self.t(timeout), **kw)

    # -- the files on disk --
    def path(self, rel):
        return self.root / rel.lstrip("/")

    def data(self, rel):
        return self.path(rel).read_bytes()

    def sha(self, rel):
        """sha256 of the file a URL path names, read from disk (through symlinks)."""
        if rel not in self._sha:
            self._sha[rel] = file_sha(self.path(rel))
        return self._sha[rel]

    # -- stderr --
    def expect_error(self, pattern):
        """Allows `aws: error:` lines matching the regex `pattern` for the rest of the run."""
        self.expected_errors.append(re.compile(pattern))

    def stderr_text(self):
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def stderr_size(self):
        return self.stderr_path.stat().st_size

    def wait_stderr_line(self, since, pattern, timeout=5.0):
        """Waits for a stderr line written after byte offset `since` that matches `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + self.t(timeout)
        while True:
            with open(self.stderr_path, "rb") as f:
                f.seek(since)
                new = f.read().decode("utf-8", "replace")
            lines = [l for l in new.splitlines() if not VALGRIND_LINE.match(l)]
            if any(rx.search(l) for l in lines):
                return lines
            if time.monotonic() > deadline:
                pytest.fail("no stderr line matching %r within %.0f s; new lines: %r"
                            % (pattern, self.t(timeout), lines))
            time.sleep(0.05)

    # -- sockets, as `ss` shows them --
    def tcp_sockets(self):
        """(state, local_port, peer_port) for every TCP socket the server process holds."""
        out = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr
        found = []
        for line in out.stdout.splitlines():
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            if not re.search(r"pid=%d," % self.pid, parts[5]):
                continue
            lport = int(parts[3].rsplit(":", 1)[1]) if parts[3][-1].isdigit() else None
            pport = int(parts[4].rsplit(":", 1)[1]) if parts[4][-1].isdigit() else None
            found.append((parts[0], lport, pport))
        return found

    def wait_established(self, peer_ports, timeout=5.0):
        """Waits until each client port shows as an ESTAB connection of the server's pid."""
        want = set(peer_ports)
        deadline = time.monotonic() + self.t(timeout)
        while True:
            have = {p for (st, lp, p) in self.tcp_sockets() if st == "ESTAB" and lp == self.port}
            if want <= have:
                return
            if time.monotonic() > deadline:
                pytest.fail("connections from ports %s not ESTABLISHED in pid %d (has %s)"
                            % (sorted(want - have), self.pid, sorted(have)))
            time.sleep(0.05)

    def wait_gone(self, peer_ports, timeout=3.0):
        """Waits until the server holds no socket (ESTAB, CLOSE-WAIT, ...) to these ports."""
        want = set(peer_ports)
        deadline = time.monotonic() + (timeout if MODE != "valgrind" else self.t(timeout))
        while True:
            left = [(st, p) for (st, lp, p) in self.tcp_sockets() if lp == self.port and p in want]
            if not left:
                return
            if time.monotonic() > deadline:
                pytest.fail("server pid %d still holds connections after the clients left: %s"
                            % (self.pid, sorted(left)))
            time.sleep(0.05)

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self, n=30):
        return "\n".join(self.stderr_text().splitlines()[-n:])


def check_stderr(server):
    """Fails on a stderr line that is not `aws: <level>: ` or an unexpected `aws: error:`."""
    bad, errors = [], []
    for line in server.stderr_text().splitlines():
        if MODE == "valgrind" and VALGRIND_LINE.match(line):
            continue
        if not LINE_OK.match(line):
            bad.append(line)
        elif line.startswith("aws: error:") and not any(rx.search(line) for rx in server.expected_errors):
            errors.append(line)
    assert not bad, "server stderr lines without the `aws: <level>: ` prefix:\n" + "\n".join(bad[:20])
    assert not errors, "unexpected `aws: error:` lines on server stderr:\n" + "\n".join(errors[:20])


def check_valgrind(server):
    text = server.stderr_text()
    assert "ERROR SUMMARY: 0 errors" in text, "valgrind reported errors:\n" + server.stderr_tail(60)
    # "frees everything": nothing may be left on the heap, not even still-reachable blocks.
    assert re.search(r"in use at exit: 0 bytes in 0 blocks", text), \
        "heap blocks still allocated at exit:\n" + server.stderr_tail(60)


def stop_server(server, proc, started):
    """SIGTERM with connections still open (idle, mid-request, mid-body); returns the exit code."""
    held = []
    try:
        if started and server.alive():
            idle = server.conn()
            partial = server.conn()
            partial.send(b"GET /static/hel")
            busy = server.conn()
            busy.request("GET", "/dynamic/" + fname(BIG))
            busy.read_head()
            busy.read_some(64 * KIB)
            busy2 = server.conn()
            busy2.request("GET", "/static/" + fname(BIG))
            busy2.read_head()
            busy2.read_some(64 * KIB)
            held = [idle, partial, busy, busy2]
            server.wait_established([c.local_port() for c in held])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=server.t(20))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("server did not exit within %.0f s of SIGTERM\n%s"
                        % (server.t(20), server.stderr_tail()))
        for c in held:
            c.close()
    return rc


class UsageError(Exception):
    """The server exited with status 2 before listening: it rejected its arguments."""


@contextlib.contextmanager
def running_server(args=(), port=PORT):
    """Generates a fresh root, runs ./aws `args` in it (in AWS_MODE) until it accepts on `port`,
    yields the Server; afterwards stops it (SIGTERM, exit 0) and checks its stderr (and
    valgrind's verdict). Raises UsageError if the server exits with status 2 at start-up."""
    if MODE not in MODES:
        pytest.exit("AWS_MODE=%r; expected one of %s" % (MODE, ", ".join(MODES)), returncode=3)
    cmd, env = server_command(args)
    with tempfile.TemporaryDirectory(prefix="aws-it-") as tmpname:
        tmp = Path(tmpname)
        root, secret = make_content(tmp)
        if _port_busy(port):
            pytest.exit("port %d is already in use (another server running?); "
                        "stop it and rerun" % port, returncode=3)
        stderr_path = tmp / "aws.stderr"
        stdout_path = tmp / "aws.stdout"
        with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        server = Server(tmp, root, secret, proc, stderr_path, None, port, args)
        started = False
        try:
            while not _accepts(socket.AF_INET, "127.0.0.1", port):
                if proc.poll() is not None:
                    if proc.returncode == 2:
                        first = [l for l in server.stderr_text().splitlines()
                                 if not VALGRIND_LINE.match(l)][:2]
                        raise UsageError("`aws %s` exited with status 2: %s"
                                         % (" ".join(args), " / ".join(first)))
                    pytest.fail("server exited with %d before listening:\n%s"
                                % (proc.returncode, server.stderr_tail()))
                if time.monotonic() - t0 > START_LIMIT:
                    pytest.fail("server not accepting on 127.0.0.1:%d within %.1f s of spawn\n%s"
                                % (port, START_LIMIT, server.stderr_tail()))
                time.sleep(0.01)
            server.startup_seconds = time.monotonic() - t0
            started = True
            yield server
        finally:
            rc = stop_server(server, proc, started)
        if os.environ.get("AWS_STDERR_COPY"):
            copy = os.environ["AWS_STDERR_COPY"]
            shutil.copyfile(stderr_path, copy if port == PORT else "%s.%d" % (copy, port))
        problems = []
        if rc != 0:
            problems.append("server exit status %r after SIGTERM (want 0)\n%s"
                            % (rc, server.stderr_tail(60)))
        for check in [check_stderr] + ([check_valgrind] if MODE == "valgrind" else []):
            try:
                check(server)
            except AssertionError as e:
                problems.append(str(e))
        assert not problems, "\n\n".join(problems)


@pytest.fixture(scope="session")
def server():
    with running_server() as srv:
        yield srv


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def all_files():
    """pytest params (url path) for every generated file: static, dynamic, dynamic symlinks."""
    out = []
    for size in SIZES:
        out.append(("/static/" + fname(size), "static-%d" % size))
        out.append(("/dynamic/" + fname(size), "dynamic-%d" % size))
    for size in LINK_SIZES:
        out.append(("/dynamic/link_%d.dat" % size, "link-%d" % size))
    return [pytest.param(p, id=i, marks=[pytest.mark.heavy] if size_of(p) == BIG else [])
            for p, i in out]


def size_of(path):
    return int(re.search(r"_(\d+)\.dat$", path).group(1))


@pytest.fixture
def scratch():
    """A private directory for downloaded files, removed after the test."""
    with tempfile.TemporaryDirectory(prefix="aws-dl-") as d:
        yield Path(d)


@pytest.fixture(autouse=True)
def _server_stays_up(server):
    """Every test starts and ends with the server still running."""
    assert server.alive(), "server is not running:\n" + server.stderr_tail()
    yield
    assert server.alive(), "server died during this test (exit %r):\n%s" % (
        server.proc.returncode, server.stderr_tail())
