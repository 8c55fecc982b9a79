"""The grading contract: how the binary is built and linked, how the process looks from the
outside, and that stock clients (nc, wget) get exact bytes for every file, alone and 50 at once."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

import httpclient
from conftest import MIB, MODE, PORT, REPO, all_files, file_sha, fname

AWS = REPO / "aws"


# ---------------------------------------------------------------- the binary

def test_nm_lists_epoll_sendfile_and_aio(server):
    out = subprocess.run(["nm", "-u", str(AWS)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    names = {line.split()[-1].split("@")[0] for line in out.stdout.splitlines() if line.strip()}
    assert names & {"epoll_create1", "epoll_create"}, "no epoll_create(1) in nm -u"
    for sym in ("epoll_ctl", "epoll_wait", "io_submit"):
        assert sym in names, "%s not among the undefined symbols of aws" % sym
    assert names & {"sendfile", "sendfile64"}, "no sendfile in nm -u"


def test_ldd_links_libaio_and_http_parser_dynamically(server):
    out = subprocess.run(["ldd", str(AWS)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    libs = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    assert any(l.startswith("libaio.so") for l in libs), out.stdout
    assert any(l.startswith("libhttp_parser.so") for l in libs), out.stdout


# ---------------------------------------------------------------- the process

def test_process_is_named_aws(server):
    if MODE == "valgrind":
        pytest.skip("under valgrind the process is valgrind's")
    assert Path("/proc/%d/comm" % server.pid).read_text() == "aws\n"


def test_one_process_one_thread(server):
    """One loop: after serving dynamic (AIO) and static files, no extra threads or children."""
    for path in ("/dynamic/" + fname(2 * MIB), "/static/" + fname(2 * MIB)):
        resp, _ = httpclient.get_sha256(path, timeout=server.t(30))
        assert resp.status == 200
    tasks = os.listdir("/proc/%d/task" % server.pid)
    assert tasks == [str(server.pid)], "server runs %d threads: %s" % (len(tasks), tasks)
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc/%s/stat" % entry).read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server.pid:
                children.append(entry)
    assert not children, "server has child processes: %s" % children


def test_preload_is_really_loaded(server):
    """preload mode is only worth its name if the shim sits in the server process."""
    maps = Path("/proc/%d/maps" % server.pid).read_text()
    loaded = "sockop_preload.so" in maps
    assert loaded == (MODE == "preload"), "sockop_preload.so loaded: %s in %s mode" % (loaded, MODE)


def test_listening_within_limit(server):
    assert server.startup_seconds <= server.start_limit
    listeners = [s for s in server.tcp_sockets() if s[0] == "LISTEN" and s[1] == PORT]
    assert len(listeners) == 1, "want one listening socket on %d, got %r" % (PORT, listeners)


def test_dual_stack_ipv6_loopback(server):
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with httpclient.Conn(host="::1", family=socket.AF_INET6, timeout=server.t(10)) as c:
        c.request("GET", "/static/hello.txt")
        resp = c.read_response()
    assert resp.status == 200
    assert resp.body == server.data("static/hello.txt")


def test_established_then_closed_promptly(server):
    conns = [server.conn() for _ in range(5)]
    ports = [c.local_port() for c in conns]
    try:
        server.wait_established(ports)
    finally:
        for c in conns:
            c.close()
    server.wait_gone(ports)


def test_established_after_requests_then_closed(server):
    """Connections that were served (idle keep-alive) also go away when the client does."""
    conns = [server.conn() for _ in range(5)]
    ports = [c.local_port() for c in conns]
    try:
        for i, c in enumerate(conns):
            c.request("GET", "/%s/%s" % ("static" if i % 2 else "dynamic", fname(4097)))
            assert c.read_response().status == 200
        server.wait_established(ports)
    finally:
        for c in conns:
            c.close()
    server.wait_gone(ports)


# ---------------------------------------------------------------- nc

@pytest.mark.parametrize("tree", ["static", "dynamic"])
def test_nc_http10_exact_bytes(server, tree):
    path = "/%s/%s" % (tree, fname(2048))
    wait = "5" if MODE == "valgrind" else "1"
    out = subprocess.run(["nc", "-q", wait, "127.0.0.1", str(PORT)],
                         input=("GET %s HTTP/1.0\r\n\r\n" % path).encode(),
                         capture_output=True, timeout=server.t(20))
    head, sep, body = out.stdout.partition(b"\r\n\r\n")
    assert sep, "no response head from nc: %r" % out.stdout[:300]
    assert head.split(b"\r\n")[0].startswith(b"HTTP/1.1 200 "), head
    assert body == server.data(path)


# ---------------------------------------------------------------- wget

def wget(server, url, out, timeout=60):
    return subprocess.run(["wget", "-t", "1", "-q", "-O", str(out), url],
                          capture_output=True, timeout=server.t(timeout))


@pytest.mark.parametrize("path", all_files())
def test_wget_every_file(server, scratch, path):
    out = scratch / "out"
    r = wget(server, server.url(path), out)
    assert r.returncode == 0, "wget exit %d: %s" % (r.returncode, r.stderr)
    assert out.stat().st_size == server.path(path).stat().st_size
    assert file_sha(out) == server.sha(path)


@pytest.mark.heavy
def test_fifty_simultaneous_wget_2mib(server, scratch):
    n = 50
    paths = ["/%s/%s" % ("static" if i % 2 else "dynamic", fname(2 * MIB)) for i in range(n)]
    procs = [subprocess.Popen(["wget", "-t", "1", "-q", "-O", str(scratch / ("o%d" % i)),
                               server.url(p)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i, p in enumerate(paths)]
    deadline = time.monotonic() + server.t(120)
    codes = []
    try:
        for p in procs:
            codes.append(p.wait(timeout=max(1.0, deadline - time.monotonic())))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()
    assert codes == [0] * n, "wget exit codes: %r" % codes
    bad = [i for i, p in enumerate(paths) if file_sha(scratch / ("o%d" % i)) != server.sha(p)]
    assert not bad, "downloads %r differ from the files on disk" % bad


# ---------------------------------------------------------------- 404

NOT_FOUND = ["/", "/index.html", "/other/x", "/static/missing", "/dynamic/missing",
             "/staticx/hello.txt", "/dynamicx", "/Static/hello.txt", "/static.txt"]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_path_is_404_for_wget(server, scratch, path):
    r = wget(server, server.url(path), scratch / "out")
    assert r.returncode == 8, "wget exit %d for %s (want 8, server error response)" % (
        r.returncode, path)


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_path_is_404_raw(server, path):
    resp = httpclient.get(path, timeout=server.t(10))
    assert resp.raw_head.startswith(b"HTTP/1.1 404 "), resp.raw_head
    assert resp.status == 404
