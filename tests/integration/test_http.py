"""HTTP behaviour through raw sockets and curl: keep-alive, pipelining, HEAD, headers,
exact bodies, every error status, traversal and symlinks, odd files, slow and vanishing clients."""

import email.utils
import os
import re
import subprocess
import time
from datetime import datetime, timezone

import pytest

import httpclient
from httpclient import build_request
from conftest import BIG, KIB, MIB, all_files, file_sha, fname

CT_HTML = "text/html; charset=utf-8"
CT_TEXT = "text/plain; charset=utf-8"
CT_PNG = "image/png"
CT_BIN = "application/octet-stream"


def norm(value):
    return re.sub(r"\s+", "", value or "").lower()


def assert_file(server, resp, path):
    """resp is a 200 carrying exactly the bytes of the file behind `path`."""
    assert resp.status == 200, "%s: %r" % (path, resp.raw_head)
    want = server.data(path)
    assert resp.content_length() == len(want)
    assert resp.body == want, "%s: body differs (%d bytes, want %d)" % (
        path, len(resp.body), len(want))


def assert_error(resp, status):
    """An error response: the status, and a short HTML body matching its Content-Length."""
    assert resp.status == status, "want %d, got %r" % (status, resp.raw_head)
    assert resp.reason.strip(), resp.raw_head
    assert norm(resp.header("Content-Type")).startswith("text/html"), resp.raw_head
    assert 0 < len(resp.body) <= 4096
    assert b"<" in resp.body, resp.body


def assert_closes(server, conn, resp):
    """The response said Connection: close and the server then closed the socket."""
    assert norm(resp.header("Connection")) == "close", resp.raw_head
    conn.wait_closed(timeout=server.t(5))


# ---------------------------------------------------------------- keep-alive

def test_keep_alive_http11_many_requests(server):
    with server.conn() as c:
        for path in ["/static/hello.txt", "/dynamic/hello.txt", "/static/" + fname(4097),
                     "/dynamic/" + fname(513), "/dynamic/" + fname(0), "/static/" + fname(0)]:
            c.request("GET", path)
            resp = c.read_response()
            assert_file(server, resp, path)
            assert norm(resp.header("Connection")) == "keep-alive", resp.raw_head
        c.request("GET", "/static/missing")
        resp = c.read_response()
        assert_error(resp, 404)
        c.request("GET", "/static/index.html")
        assert_file(server, c.read_response(), "/static/index.html")
        c.assert_open()
        server.wait_established([c.local_port()])


@pytest.mark.parametrize("tree", ["static", "dynamic"])
def test_http10_closes_by_default(server, tree):
    path = "/%s/hello.txt" % tree
    with server.conn() as c:
        c.request("GET", path, version="HTTP/1.0")
        resp = c.read_response()
        assert_file(server, resp, path)
        assert_closes(server, c, resp)


def test_http10_keep_alive_stays_open(server):
    with server.conn() as c:
        for path in ["/static/hello.txt", "/dynamic/" + fname(4096)]:
            c.request("GET", path, version="HTTP/1.0", headers=[("Connection", "keep-alive")])
            resp = c.read_response()
            assert_file(server, resp, path)
            assert norm(resp.header("Connection")) == "keep-alive", resp.raw_head
        c.assert_open()
        c.request("GET", "/static/pic.png", version="HTTP/1.0")
        resp = c.read_response()
        assert_file(server, resp, "/static/pic.png")
        assert_closes(server, c, resp)


@pytest.mark.parametrize("tree", ["static", "dynamic"])
def test_connection_close_honoured(server, tree):
    with server.conn() as c:
        c.request("GET", "/%s/hello.txt" % tree)
        assert_file(server, c.read_response(), "/%s/hello.txt" % tree)
        c.request("GET", "/%s/%s" % (tree, fname(4097)), headers=[("Connection", "close")])
        resp = c.read_response()
        assert_file(server, resp, "/%s/%s" % (tree, fname(4097)))
        assert_closes(server, c, resp)


def test_connection_close_on_404(server):
    with server.conn() as c:
        c.request("GET", "/dynamic/missing", headers=[("Connection", "close")])
        resp = c.read_response()
        assert_error(resp, 404)
        assert_closes(server, c, resp)


# ---------------------------------------------------------------- pipelining

def test_pipelined_mixed_in_order(server):
    plan = [("GET", "/static/" + fname(4097), 200), ("GET", "/dynamic/" + fname(513), 200),
            ("GET", "/static/missing", 404), ("HEAD", "/static/" + fname(2048), 200),
            ("GET", "/dynamic/" + fname(MIB + 1), 200), ("HEAD", "/dynamic/" + fname(4095), 200),
            ("GET", "/dynamic/missing", 404), ("GET", "/static/" + fname(MIB + 1), 200),
            ("GET", "/static/hello.txt", 200)]
    data = b"".join(build_request(m, p) for m, p, _ in plan)
    with server.conn() as c:
        c.send(data + build_request("GET", "/dynamic/hello.txt", headers=[("Connection", "close")]))
        for method, path, status in plan:
            resp = c.read_response(head_only=(method == "HEAD"))
            if status == 404:
                assert_error(resp, 404)
            elif method == "HEAD":
                assert resp.status == 200
                assert resp.content_length() == len(server.data(path))
            else:
                assert_file(server, resp, path)
        resp = c.read_response()
        assert_file(server, resp, "/dynamic/hello.txt")
        assert_closes(server, c, resp)


def test_pipelined_hundred_small_requests(server):
    """More pipelined bytes than one receive buffer holds; answers stay in order."""
    paths = []
    for i in range(100):
        paths.append(["/static/hello.txt", "/dynamic/hello.txt", "/static/" + fname(1),
                      "/dynamic/" + fname(511), "/static/pic.png"][i % 5])
    with server.conn() as c:
        c.send(b"".join(build_request("GET", p) for p in paths))
        for p in paths:
            assert_file(server, c.read_response(), p)
        c.assert_open()


# ---------------------------------------------------------------- HEAD

@pytest.mark.parametrize("path", ["/static/" + fname(4097), "/dynamic/" + fname(4097),
                                  "/static/" + fname(2 * MIB), "/dynamic/" + fname(BIG),
                                  "/static/index.html", "/dynamic/link_513.dat"])
def test_head_same_headers_no_body(server, path):
    with server.conn() as c:
        c.request("GET", path)
        got = c.read_response(sink=lambda b: None)
        c.request("HEAD", path)
        head = c.read_response(head_only=True)
        assert head.status == 200
        assert head.content_length() == os.stat(server.path(path)).st_size
        for name in ("Content-Type", "Content-Length", "Last-Modified", "Server", "Connection"):
            assert head.header(name) == got.header(name), name
        # No body bytes may follow: the next response on the socket parses cleanly.
        c.request("GET", "/static/hello.txt")
        assert_file(server, c.read_response(), "/static/hello.txt")
        c.assert_open()


def test_head_of_missing_file(server):
    with server.conn() as c:
        c.request("HEAD", "/static/missing")
        resp = c.read_response(head_only=True)
        assert resp.status == 404
        resp.content_length()
        c.request("GET", "/dynamic/hello.txt")
        assert_file(server, c.read_response(), "/dynamic/hello.txt")


# ---------------------------------------------------------------- headers

@pytest.mark.parametrize("path,ctype", [
    ("/static/index.html", CT_HTML), ("/static/hello.txt", CT_TEXT),
    ("/static/pic.png", CT_PNG), ("/static/" + fname(513), CT_BIN),
    ("/dynamic/page.html", CT_HTML), ("/dynamic/hello.txt", CT_TEXT),
    ("/dynamic/pic.png", CT_PNG), ("/dynamic/" + fname(513), CT_BIN),
    ("/dynamic/link_513.dat", CT_BIN), ("/static/sub/inner.txt", CT_TEXT),
    ("/static/NOTES", CT_BIN)])
def test_response_headers(server, path, ctype):
    with server.conn() as c:
        c.request("GET", path)
        resp = c.read_response()
    assert resp.raw_head.startswith(b"HTTP/1.1 200 "), resp.raw_head
    assert_file(server, resp, path)
    assert norm(resp.header("Content-Type")) == norm(ctype), resp.raw_head
    assert re.fullmatch(r"aws/[0-9][^\s]*", resp.header("Server") or ""), resp.raw_head
    assert norm(resp.header("Connection")) == "keep-alive", resp.raw_head
    date = resp.header("Date")
    assert date and date.endswith(" GMT"), resp.raw_head
    when = email.utils.parsedate_to_datetime(date)
    # Sanity, not speed: the clock the server reports is today's, not a fixed or zero date.
    assert abs((when - datetime.now(timezone.utc)).total_seconds()) < 600, date
    lm = resp.header("Last-Modified")
    assert lm and lm.endswith(" GMT"), resp.raw_head
    mtime = int(os.stat(server.path(path)).st_mtime)
    assert email.utils.parsedate_to_datetime(lm).timestamp() == mtime, (lm, mtime)


def test_error_response_headers(server):
    with server.conn() as c:
        c.request("GET", "/static/missing")
        resp = c.read_response()
        assert resp.raw_head.startswith(b"HTTP/1.1 404 "), resp.raw_head
        assert_error(resp, 404)
        assert re.fullmatch(r"aws/[0-9][^\s]*", resp.header("Server") or ""), resp.raw_head
        email.utils.parsedate_to_datetime(resp.header("Date"))
        assert norm(resp.header("Connection")) == "keep-alive", resp.raw_head
        c.assert_open()


# ---------------------------------------------------------------- exact bodies

@pytest.mark.parametrize("path", all_files())
def test_curl_every_file(server, scratch, path):
    out = scratch / "out"
    r = subprocess.run(["curl", "-s", "-o", str(out), "-w", "%{http_code}", server.url(path)],
                       capture_output=True, text=True, timeout=server.t(60))
    assert r.returncode == 0, "curl exit %d" % r.returncode
    assert r.stdout == "200"
    assert file_sha(out) == server.sha(path)


@pytest.mark.parametrize("path", all_files())
def test_raw_every_file(server, path):
    resp, digest = httpclient.get_sha256(path, timeout=server.t(30))
    assert resp.status == 200, resp.raw_head
    assert resp.content_length() == os.stat(server.path(path)).st_size
    assert digest == server.sha(path)


# ---------------------------------------------------------------- error statuses

MALFORMED = {
    "header-without-colon": b"GET /static/hello.txt HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n",
    "bad-protocol-name": b"GET /static/hello.txt HTTX/1.1\r\nHost: a\r\n\r\n",
    "bad-version-digits": b"GET /static/hello.txt HTTP/1.x\r\nHost: a\r\n\r\n",
    "space-in-url": b"GET /static/hello world.txt HTTP/1.1\r\nHost: a\r\n\r\n",
    "bad-content-length": b"GET /static/hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    "control-char-in-header": b"GET /static/hello.txt HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_is_400_and_closes(server, name):
    with server.conn() as c:
        c.send(MALFORMED[name])
        resp = c.read_response()
        assert_error(resp, 400)
        assert_closes(server, c, resp)


def test_malformed_after_good_request_on_same_connection(server):
    with server.conn() as c:
        c.send(build_request("GET", "/static/hello.txt") + MALFORMED["header-without-colon"])
        assert_file(server, c.read_response(), "/static/hello.txt")
        resp = c.read_response()
        assert_error(resp, 400)
        assert_closes(server, c, resp)


def test_bad_input_is_logged(server):
    since = server.stderr_size()
    with server.conn() as c:
        c.send(b"FOO /static/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        assert c.read_response().status == 501
    server.wait_stderr_line(since, r"^aws: (info|warn): ")


def _long_head():
    return (b"GET /static/hello.txt HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")


def _many_headers():
    lines = b"".join(b"X-H%03d: %s\r\n" % (i, b"b" * 80) for i in range(120))
    return b"GET /static/hello.txt HTTP/1.1\r\nHost: a\r\n" + lines + b"\r\n"


@pytest.mark.parametrize("make", [_long_head, _many_headers], ids=["one-long-header", "many-headers"])
def test_head_over_8k_is_431_and_closes(server, make):
    with server.conn() as c:
        c.send(make())
        resp = c.read_response()
        assert_error(resp, 431)
        assert_closes(server, c, resp)


def test_head_under_8k_is_served(server):
    with server.conn() as c:
        c.request("GET", "/static/hello.txt", headers=[("X-Pad", "c" * 7000)])
        assert_file(server, c.read_response(), "/static/hello.txt")
        c.assert_open()


def test_url_over_8k_is_414_and_closes(server):
    with server.conn() as c:
        c.request("GET", "/static/" + "a" * 9000)
        resp = c.read_response()
        assert_error(resp, 414)
        assert_closes(server, c, resp)


def test_long_url_under_8k_is_404(server):
    with server.conn() as c:
        c.request("GET", "/static/" + "abcdefghi/" * 300 + "x")
        assert_error(c.read_response(), 404)


def test_body_over_1mib_is_413_and_closes(server):
    with server.conn() as c:
        c.request("GET", "/static/hello.txt", headers=[("Content-Length", "2000000")])
        resp = c.read_response()
        assert_error(resp, 413)
        assert_closes(server, c, resp)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_known_method_is_405_with_allow(server, method):
    with server.conn() as c:
        c.request(method, "/static/hello.txt", headers=[("Content-Length", "0")])
        resp = c.read_response()
        assert_error(resp, 405)
        assert norm(resp.header("Allow")) == "get,head,options", resp.raw_head
        c.request("GET", "/dynamic/hello.txt")
        assert_file(server, c.read_response(), "/dynamic/hello.txt")
        c.assert_open()


@pytest.mark.parametrize("copies", [1, 2500], ids=["small-body", "100k-body"])
def test_post_body_is_discarded_not_parsed(server, copies):
    """The POST body looks like requests; it must be skipped, not answered."""
    body = build_request("GET", "/static/pic.png") * copies
    data = (build_request("POST", "/static/hello.txt",
                          headers=[("Content-Length", str(len(body)))], body=body)
            + build_request("GET", "/static/hello.txt"))
    with server.conn() as c:
        c.send(data)
        resp = c.read_response()
        assert_error(resp, 405)
        assert norm(resp.header("Allow")) == "get,head,options", resp.raw_head
        assert_file(server, c.read_response(), "/static/hello.txt")
        c.assert_open()


@pytest.mark.parametrize("method", ["FOO", "XYZZY"])
def test_unknown_method_is_501_and_closes(server, method):
    with server.conn() as c:
        c.send(("%s /static/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n" % method).encode())
        resp = c.read_response()
        assert_error(resp, 501)
        assert_closes(server, c, resp)


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0"])
def test_unsupported_version_is_505_and_closes(server, version):
    with server.conn() as c:
        c.request("GET", "/static/hello.txt", version=version)
        resp = c.read_response()
        assert_error(resp, 505)
        assert_closes(server, c, resp)


# ---------------------------------------------------------------- traversal and symlinks

TRAVERSAL = [
    "/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2E%2E/%2E%2E/%2E%2E/etc/passwd", "/static/..%2f..%2fetc/passwd",
    "/dynamic/../../etc/passwd", "/static/../../outside_secret.txt",
    "/dynamic/%2e%2e/%2e%2e/outside_secret.txt", "/static/..%2f..%2foutside_secret.txt",
    "/static/.%2e/.%2e/outside_secret.txt", "/static/../../../../../../../../etc/passwd",
    "/static/hello.txt%00", "/static/hello.txt%00.png", "/static/sub%2finner.txt",
    "/static%2f..%2f..%2fetc/passwd", "/../etc/passwd", "/%2e%2e/etc/passwd",
    "/static/sub/../../../outside_secret.txt",
]


def _forbidden_bytes(server):
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    return [server.secret.strip(), passwd.splitlines()[0], b"root:"]


@pytest.mark.parametrize("path", TRAVERSAL)
def test_traversal_never_escapes(server, path):
    with server.conn() as c:
        c.send(("GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % path).encode())
        resp = c.read_response()
    assert resp.status in (400, 404), "%s gave %r" % (path, resp.raw_head)
    for bad in _forbidden_bytes(server):
        assert bad not in resp.body, "%s leaked %r" % (path, bad)


def test_raw_nul_in_url_rejected(server):
    with server.conn() as c:
        c.send(b"GET /static/hello.txt\x00.png HTTP/1.1\r\nHost: a\r\n\r\n")
        resp = c.read_response()
    assert resp.status in (400, 404), resp.raw_head


@pytest.mark.parametrize("size", [0, 513, 4096, 2 * MIB])
def test_symlink_inside_root_followed(server, size):
    with server.conn() as c:
        c.request("GET", "/dynamic/link_%d.dat" % size)
        resp = c.read_response()
    assert resp.status == 200, resp.raw_head
    assert resp.body == server.data("/static/" + fname(size))


@pytest.mark.parametrize("path", ["/static/abs_evil", "/static/rel_evil",
                                  "/dynamic/abs_evil", "/dynamic/rel_evil"])
def test_symlink_leaving_root_is_404(server, path):
    with server.conn() as c:
        c.request("GET", path)
        resp = c.read_response()
        assert_error(resp, 404)
        for bad in _forbidden_bytes(server):
            assert bad not in resp.body
        c.request("GET", "/static/hello.txt")
        assert_file(server, c.read_response(), "/static/hello.txt")


# ---------------------------------------------------------------- odd files

# A directory without its trailing slash is redirected (301); with it, its index.html is served
# (static/ has one), else 404; "/static" is outside /static/ and so 404 like any other path.
@pytest.mark.parametrize("path,status", [
    ("/static/fifo", 404), ("/dynamic/fifo", 404), ("/static/sub", 301), ("/static/sub/", 404),
    ("/dynamic/sub", 301), ("/dynamic/sub/", 404), ("/static/", 200), ("/dynamic/", 404),
    ("/static", 404), ("/dynamic", 404)])
def test_fifo_and_directory_answered_at_once(server, path, status):
    with server.conn(timeout=5) as c:
        c.request("GET", path)
        resp = c.read_response()
        assert resp.status == status, "%s gave %r" % (path, resp.raw_head)
        c.request("HEAD", path)
        assert c.read_response(head_only=True).status == resp.status
    # The server is not stuck on the FIFO: another connection is served.
    assert_file(server, httpclient.get("/static/sub/inner.txt", timeout=server.t(5)),
                "/static/sub/inner.txt")
    assert_file(server, httpclient.get("/dynamic/sub/inner.txt", timeout=server.t(5)),
                "/dynamic/sub/inner.txt")


# ---------------------------------------------------------------- slow and vanishing clients

@pytest.mark.parametrize("tree", ["static", "dynamic"])
def test_request_one_byte_at_a_time(server, tree):
    path = "/%s/%s" % (tree, fname(4097))
    data = build_request("GET", path, headers=[("User-Agent", "byte-by-byte")])
    with server.conn() as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.004)
        assert_file(server, c.read_response(), path)
        c.assert_open()


@pytest.mark.parametrize("tree", ["static", "dynamic"])
def test_slow_reader_gets_exact_bytes(server, tree):
    path = "/%s/%s" % (tree, fname(2 * MIB))
    with server.conn() as c:
        c.request("GET", path)
        resp = c.read_response(chunk=4 * KIB, pause=0.001)
        assert_file(server, resp, path)
        c.request("GET", "/%s/hello.txt" % tree)
        assert_file(server, c.read_response(), "/%s/hello.txt" % tree)


@pytest.mark.heavy
@pytest.mark.parametrize("tree", ["static", "dynamic"])
@pytest.mark.parametrize("rst", [False, True], ids=["fin", "rst"])
def test_client_leaving_mid_file_disturbs_nobody(server, tree, rst):
    other = "dynamic" if tree == "static" else "static"
    bystander_path = "/%s/%s" % (other, fname(2 * MIB))
    bystander = server.conn()
    bystander.request("GET", bystander_path)
    head = bystander.read_head()
    assert head.status == 200
    received = bytearray(bystander.read_exact(64 * KIB))

    ports = []
    for _ in range(3):
        c = server.conn(linger_rst=rst)
        ports.append(c.local_port())
        c.request("GET", "/%s/%s" % (tree, fname(BIG)))
        assert c.read_head().status == 200
        c.read_some(100 * 1000)
        c.close()
    # A client that asked for the big file and left without reading a byte.
    c = server.conn(linger_rst=rst)
    ports.append(c.local_port())
    c.request("GET", "/%s/%s" % (tree, fname(BIG)))
    c.close()

    server.wait_gone(ports)
    received += bystander.read_exact(head.content_length() - len(received))
    assert bytes(received) == server.data(bystander_path)
    bystander.assert_open()
    bystander.close()

    resp, digest = httpclient.get_sha256("/%s/%s" % (tree, fname(2 * MIB)), timeout=server.t(30))
    assert resp.status == 200
    assert digest == server.sha("/%s/%s" % (tree, fname(2 * MIB)))


# ---------------------------------------------------------------- cold page cache

def evict(path):
    """Writes the file back and drops its pages, so the next read must go to the device."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", [513, 4097, MIB + 1, 2 * MIB])
def test_dynamic_reads_with_the_page_cache_evicted(server, size):
    """/dynamic first asks the page cache (RWF_NOWAIT) and on a miss reads with O_DIRECT:
    whole files and ranges come out exact either way, cold, then warm."""
    path = "/dynamic/" + fname(size)
    want = server.data(path)
    for cold in (True, False):
        if cold:
            evict(server.path(path))
        resp, sha = httpclient.get_sha256(path, timeout=server.t(10))
        assert resp.status == 200 and sha == server.sha(path), "cold=%s" % cold
        if cold:
            evict(server.path(path))
        first, last = size // 3, size - 2
        resp = httpclient.get(path, timeout=server.t(10),
                              headers=[("Range", "bytes=%d-%d" % (first, last))])
        assert resp.status == 206, resp.raw_head
        assert resp.body == want[first:last + 1], "cold=%s" % cold
