"""Helpers for test_ops.py: one `./aws` process started with options on its own port, stopped
and checked afterwards; what `ss` and /proc say about it; small socket probes.

Each AwsProc runs in AWS_MODE exactly as conftest's server does (plain, under
sockop_preload.so, or under valgrind with --error-exitcode=123), writes its stdout and stderr
to files in its own temporary directory, and is always stopped: SIGTERM, then SIGKILL (and a
test failure) if it does not exit in time.
"""

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

import conftest
import httpclient
from conftest import MODE, VALGRIND_LINE

# Ports for servers started with options (the session server has 8888). Handed out round
# robin, so a port is reused as late as possible.
PORTS = list(range(8891, 8900))
_next_port = [0]

# Hang detection only, never a performance claim: generous, and stretched under valgrind.
SLOW = 8.0 if MODE == "valgrind" else 1.0
START_TIMEOUT = 30.0 if MODE == "valgrind" else 5.0
STOP_TIMEOUT = 60.0 if MODE == "valgrind" else 10.0

LOG_LINE = re.compile(r"^aws: (error|warn|info|debug): ")
INFO_LINE = re.compile(r"^aws: info: [\w./-]+\.c:\d+: (.*)$")


def t(seconds):
    """A hang-detection timeout, stretched under valgrind."""
    return seconds * SLOW


def next_port():
    port = PORTS[_next_port[0] % len(PORTS)]
    _next_port[0] += 1
    return port


def accepts(port, host="127.0.0.1", timeout=0.5):
    """True when a TCP connect to host:port succeeds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listeners(port):
    """Lines of `ss -tlnH` for a listening socket on `port` (any process)."""
    out = subprocess.run(["ss", "-tlnH", "sport = :%d" % port], capture_output=True, text=True,
                         timeout=10)
    return [l for l in out.stdout.splitlines() if l.strip()]


def wait_port_free(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while listeners(port):
        if time.monotonic() > deadline:
            pytest.fail("port %d is still in use by something else: %s" % (port, listeners(port)))
        time.sleep(0.1)


def tcp_sockets(pid):
    """(state, local_port, peer_port) for every TCP socket process `pid` holds (ss -tanp)."""
    out = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    found = []
    for line in out.stdout.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or not re.search(r"pid=%d," % pid, parts[5]):
            continue
        lport = int(parts[3].rsplit(":", 1)[1]) if parts[3][-1].isdigit() else None
        pport = int(parts[4].rsplit(":", 1)[1]) if parts[4][-1].isdigit() else None
        found.append((parts[0], lport, pport))
    return found


def cpu_seconds(pid):
    """utime + stime of process `pid` (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def children(pid):
    """Pids whose parent is `pid`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(name))
    return out


class AwsProc:
    """One ./aws with options. Use as a context manager: start() on entry; on exit stop()
    (if the test did not) and check(): exit status, stderr lines and valgrind's verdict."""

    def __init__(self, args=(), port=None, cwd=None, prefix=(), wait_host="127.0.0.1",
                 expect_rc=0, allow_errors=(), valgrind=True, add_port=True):
        self.port = port if port is not None else next_port()
        self.args = (["-p", str(self.port)] if add_port else []) + [str(a) for a in args]
        self.cwd = cwd
        self.prefix = list(prefix)
        self.wait_host = wait_host
        self.expect_rc = expect_rc
        self.allow_errors = [re.compile(p) for p in allow_errors]
        self.under_valgrind = MODE == "valgrind" and valgrind
        self.tmp = Path(tempfile.mkdtemp(prefix="aws-ops-"))
        self.stderr_path = self.tmp / "stderr"
        self.stdout_path = self.tmp / "stdout"
        self.proc = None
        self.rc = None
        self.conns = []

    # -- life cycle --
    def command(self):
        cmd, env = conftest.server_command(self.args)
        if not self.under_valgrind and cmd[0] == "valgrind":
            cmd = cmd[cmd.index(str(conftest.AWS_BIN)):]
        return self.prefix + cmd, env

    def spawn(self):
        """Starts the process without waiting for it to listen."""
        cmd, env = self.command()
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, start_new_session=True)
        self.pid = self.proc.pid
        return self

    def start(self):
        wait_port_free(self.port)
        self.spawn()
        deadline = time.monotonic() + START_TIMEOUT
        while not accepts(self.port, self.wait_host):
            if self.proc.poll() is not None:
                pytest.fail("`aws %s` exited with %d before listening on %s:%d\n%s"
                            % (" ".join(self.args), self.proc.returncode, self.wait_host,
                               self.port, self.stderr_tail()))
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("`aws %s` not accepting on %s:%d within %.0f s\n%s"
                            % (" ".join(self.args), self.wait_host, self.port, START_TIMEOUT,
                               self.stderr_tail()))
            time.sleep(0.02)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Waits for the exit; returns the status, or None if still running after timeout."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.rc

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self, close_conns=True):
        """SIGTERM and wait; SIGKILL and fail if it does not exit. Returns the exit status."""
        if close_conns:
            self.close_conns()
        if self.proc is None:
            return None
        if self.alive():
            self.signal(signal.SIGTERM)
            if self.wait(STOP_TIMEOUT) is None:
                self.kill()
                pytest.fail("`aws %s` did not exit within %.0f s of SIGTERM\n%s"
                            % (" ".join(self.args), STOP_TIMEOUT, self.stderr_tail()))
        self.rc = self.proc.wait()
        return self.rc

    def check(self):
        """Exit status as expected, well-formed stderr, valgrind clean (in valgrind mode)."""
        problems = []
        if self.rc != self.expect_rc:
            problems.append("`aws %s` exit status %r (want %r)\n%s"
                            % (" ".join(self.args), self.rc, self.expect_rc, self.stderr_tail(40)))
        bad = [l for l in self.lines() if not LOG_LINE.match(l)]
        if bad:
            problems.append("stderr lines without the `aws: <level>: ` prefix:\n" + "\n".join(bad[:20]))
        errors = [l for l in self.lines() if l.startswith("aws: error:")
                  and not any(rx.search(l) for rx in self.allow_errors)]
        if errors:
            problems.append("unexpected `aws: error:` lines:\n" + "\n".join(errors[:20]))
        if self.under_valgrind:
            text = self.stderr_text()
            if "ERROR SUMMARY: 0 errors" not in text:
                problems.append("valgrind reported errors:\n" + self.stderr_tail(60))
            if not re.search(r"in use at exit: 0 bytes in 0 blocks", text):
                problems.append("heap blocks still allocated at exit:\n" + self.stderr_tail(60))
        assert not problems, "\n\n".join(problems)

    def cleanup(self):
        self.close_conns()
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
            if exc_type is None:
                self.check()
        finally:
            self.cleanup()
        return False

    # -- clients --
    def conn(self, timeout=10.0, host="127.0.0.1", **kw):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        c = httpclient.Conn(host=host, port=self.port, timeout=t(timeout), family=family, **kw)
        self.conns.append(c)
        return c

    def get(self, path, headers=(), method="GET", host="127.0.0.1"):
        """One request on a fresh connection, closed afterwards; returns the response."""
        c = self.conn(host=host)
        try:
            c.request(method, path, headers=list(headers))
            return c.read_response(head_only=(method == "HEAD"))
        finally:
            c.close()

    def close_conns(self):
        for c in self.conns:
            c.close()
        self.conns = []

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def sockets(self):
        return tcp_sockets(self.pid)

    def established(self):
        """Peer ports of the ESTABLISHED connections the process holds on its port."""
        return {p for (st, lp, p) in self.sockets() if st == "ESTAB" and lp == self.port}

    # -- output --
    def stderr_text(self):
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def stdout_text(self):
        return self.stdout_path.read_bytes().decode("utf-8", "replace")

    def lines(self):
        """stderr lines, without valgrind's own."""
        return [l for l in self.stderr_text().splitlines() if not VALGRIND_LINE.match(l)]

    def stderr_tail(self, n=30):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def wait_line(self, pattern, timeout=5.0, source=None):
        """Waits for a line of stderr (or of `source()`) matching `pattern`; returns it."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + t(timeout)
        while True:
            lines = source() if source else self.lines()
            hit = [l for l in lines if rx.search(l)]
            if hit:
                return hit[0]
            if time.monotonic() > deadline:
                pytest.fail("no line matching %r within %.0f s; lines:\n%s"
                            % (pattern, t(timeout), "\n".join(lines[-30:])))
            time.sleep(0.05)


def run_usage(args, timeout=None):
    """Runs ./aws `args` that should exit by itself (help, version, usage errors, start-up
    failures) in AWS_MODE; returns (status, stdout, stderr lines without valgrind's).
    A process that is still running after `timeout` is killed and fails the test."""
    proc = AwsProc(args, port=0, add_port=False)
    cmd, env = proc.command()
    try:
        out = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=timeout or START_TIMEOUT * 2, cwd=str(conftest.REPO))
    except subprocess.TimeoutExpired:
        pytest.fail("`aws %s` was still running after %.0f s (it should have exited)"
                    % (" ".join(args), timeout or START_TIMEOUT * 2))
    finally:
        proc.cleanup()
    err = out.stderr.decode("utf-8", "replace")
    if MODE == "valgrind":
        assert "ERROR SUMMARY: 0 errors" in err, "valgrind reported errors for `aws %s`:\n%s" % (
            " ".join(args), err[-4000:])
    lines = [l for l in err.splitlines() if not VALGRIND_LINE.match(l)]
    return out.returncode, out.stdout.decode("utf-8", "replace"), lines
