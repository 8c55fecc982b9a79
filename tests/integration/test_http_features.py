"""HTTP features on /static and /dynamic, as clients see them: byte ranges (single, multipart,
If-Range, resumed downloads with curl and wget), validators and conditional requests, HEAD,
Content-Type by extension, directory redirects and indexes, strict request parsing, request
smuggling attempts, OPTIONS, TRACE, CONNECT and Upgrade. The server runs without options."""

import email.utils
import os
import re
import subprocess

import pytest

from conftest import BIG, MIB, TYPE_EXTS, file_sha, fname
from httpcheck import (ETAG_RE, ask, content_range, expect_close, norm, parse_byteranges,
                       raw_expect_close, read_any, request_bytes, same_headers, still_serves,
                       tokens, file_slice)

TREES = ["static", "dynamic"]
MID = fname(4097)                 # a 4097-byte file: ranges at the start, middle and end
MID_SIZE = 4097
CT_TEXT = "text/plain; charset=utf-8"
ALLOW = ["get", "head", "options"]


def whole(server, resp, path):
    """resp is a 200 with exactly the file's bytes and Accept-Ranges: bytes."""
    assert resp.status == 200, "%s: %r" % (path, resp.raw_head)
    assert resp.header("Content-Range") is None, resp.raw_head
    assert resp.body == server.data(path), "%s: body differs" % path
    assert norm(resp.header("Accept-Ranges")) == "bytes", resp.raw_head


def parts_of(server, resp, path):
    """The ranges a 206 carries, single-part or multipart: [(first, last)], each checked to
    hold exactly those bytes of the file, with the file's size and (multipart) Content-Type."""
    assert resp.status == 206, "%s: %r" % (path, resp.raw_head)
    assert norm(resp.header("Accept-Ranges")) == "bytes", resp.raw_head
    size = os.stat(server.path(path)).st_size
    if not norm(resp.header("Content-Type")).startswith("multipart/byteranges"):
        first, last, total = content_range(resp)
        assert total == size and 0 <= first <= last < size, resp.raw_head
        assert resp.content_length() == last - first + 1 == len(resp.body)
        assert resp.body == file_slice(server, path, first, last)
        return [(first, last)]
    assert resp.header("Content-Range") is None, resp.raw_head
    ctype = ask(server, "HEAD", path).header("Content-Type")
    out = []
    for ptype, first, last, total, data in parse_byteranges(resp):
        assert norm(ptype) == norm(ctype), "part Content-Type %r, file %r" % (ptype, ctype)
        assert total == size and 0 <= first <= last < size, (first, last, total)
        assert data == file_slice(server, path, first, last), "part %d-%d differs" % (first, last)
        out.append((first, last))
    return out


def validators(server, path, conn=None):
    """(ETag, Last-Modified) of a 200 GET of path."""
    resp = ask(server, "GET", path, conn=conn)
    assert resp.status == 200, resp.raw_head
    return resp.header("ETag"), resp.header("Last-Modified")


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def lm_ts(lm):
    return email.utils.parsedate_to_datetime(lm).timestamp()


# ---------------------------------------------------------------- single ranges

SINGLE = [("bytes=0-0", 0, 0), ("bytes=100-199", 100, 199), ("bytes=4000-", 4000, 4096),
          ("bytes=-10", 4087, 4096), ("bytes=4096-4096", 4096, 4096), ("bytes=0-4096", 0, 4096),
          ("bytes=4000-99999", 4000, 4096), ("bytes=-99999", 0, 4096), ("bytes=0-", 0, 4096)]


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("spec,first,last", SINGLE, ids=[s[0] for s in SINGLE])
def test_single_range(server, tree, spec, first, last):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        resp = ask(server, "GET", path, [("Range", spec)], conn=c)
        assert parts_of(server, resp, path) == [(first, last)]
        assert content_range(resp) == (first, last, MID_SIZE)
        assert ETAG_RE.fullmatch(resp.header("ETag") or ""), resp.raw_head
        assert resp.header("Last-Modified"), resp.raw_head
        assert norm(resp.header("Content-Type")) == "application/octet-stream"
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
def test_accept_ranges_on_200(server, tree):
    path = "/%s/%s" % (tree, MID)
    whole(server, ask(server, "GET", path), path)


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("spec", ["bytes=4097-", "bytes=5000-6000", "bytes=4097-4097",
                                  "bytes=99999999999-", "bytes=-0", "bytes=5000-,6000-7000"])
def test_unsatisfiable_range_is_416(server, tree, spec):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        resp = ask(server, "GET", path, [("Range", spec)], conn=c)
        assert resp.status == 416, resp.raw_head
        assert resp.header("Content-Range") == "bytes */%d" % MID_SIZE, resp.raw_head
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("spec", ["bytes=5-2", "items=0-1", "bytes=x", "bytes=", "bytes=0-1,x",
                                  "bytes=1-2-3", "bytes 0-1"])
def test_invalid_range_is_ignored(server, tree, spec):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        whole(server, ask(server, "GET", path, [("Range", spec)], conn=c), path)
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
def test_head_with_range_is_200(server, tree):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        resp = ask(server, "HEAD", path, [("Range", "bytes=0-9")], conn=c)
        assert resp.status == 200, resp.raw_head
        assert resp.content_length() == MID_SIZE
        assert resp.header("Content-Range") is None, resp.raw_head
        still_serves(server, c)


# ---------------------------------------------------------------- several ranges

def _spread(n, step=10):
    return ",".join("%d-%d" % (i * step, i * step) for i in range(n))


MULTI = [
    ("bytes=500-599,0-99,50-149", [(0, 149), (500, 599)]),
    ("bytes=0-0,-1", [(0, 0), (4096, 4096)]),
    ("bytes=4000-,0-1", [(0, 1), (4000, 4096)]),
    ("bytes=10-19,30-39,20-29,100-109", [(10, 39), (100, 109)]),
    ("bytes=" + _spread(16), [(i * 10, i * 10) for i in range(16)]),
    ("bytes=" + ",".join("%d-%d" % (i * 5, i * 5 + 9) for i in range(10)) + ","
     + ",".join("%d-%d" % (2000 + i * 5, 2009 + i * 5) for i in range(10)),
     [(0, 54), (2000, 2054)]),
    ("bytes=0-4095,100-4096,-5000", [(0, 4096)]),
    ("bytes=0-9,10-19", [(0, 19)]),
]


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("spec,want", MULTI, ids=["%d" % i for i in range(len(MULTI))])
def test_several_ranges(server, tree, spec, want):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        resp = ask(server, "GET", path, [("Range", spec)], conn=c)
        assert parts_of(server, resp, path) == want, spec
        if len(want) > 1:
            assert norm(resp.header("Content-Type")).startswith("multipart/byteranges;boundary=")
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
def test_multipart_parts_carry_text_type(server, tree):
    path = "/%s/pre.txt" % tree
    resp = ask(server, "GET", path, [("Range", "bytes=0-4,-5")])
    size = os.stat(server.path(path)).st_size
    assert parts_of(server, resp, path) == [(0, 4), (size - 5, size - 1)]
    assert [norm(p[0]) for p in parse_byteranges(resp)] == [norm(CT_TEXT)] * 2


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("spec", [
    "bytes=" + _spread(17),                                            # 17 parts
    "bytes=" + ",".join("%d-%d" % (2 * (j % 100), 2 * (j % 100)) for j in range(1000)),
    "bytes=" + ",".join("%d-%d" % (i, i) for i in range(0, 40, 2)),   # 20 parts
], ids=["17-parts", "1000-specs", "20-parts"])
def test_too_many_ranges_is_200(server, tree, spec):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        whole(server, ask(server, "GET", path, [("Range", spec)], conn=c), path)
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
def test_multipart_bigger_than_twice_the_file_is_200(server, tree):
    path = "/%s/hello.txt" % tree
    with server.conn() as c:
        whole(server, ask(server, "GET", path, [("Range", "bytes=0-0,2-2,4-4")], conn=c), path)
        # One range of the same small file is still honoured.
        resp = ask(server, "GET", path, [("Range", "bytes=2-4")], conn=c)
        assert parts_of(server, resp, path) == [(2, 4)]


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("spec,want", [
    ("bytes=-10", [(BIG - 10, BIG - 1)]),
    ("bytes=16777200-16777299", [(16777200, 16777299)]),
    ("bytes=%d-" % (BIG - 3), [(BIG - 3, BIG - 1)]),
    ("bytes=0-9,33554430-33554449,-10", [(0, 9), (33554430, 33554449), (BIG - 10, BIG - 1)]),
], ids=["last-10", "across-2^24", "tail-3", "multipart"])
def test_ranges_in_big_file(server, tree, spec, want):
    path = "/%s/%s" % (tree, fname(BIG))
    with server.conn(timeout=30) as c:
        assert parts_of(server, ask(server, "GET", path, [("Range", spec)], conn=c), path) == want
        resp = ask(server, "GET", path, [("Range", "bytes=%d-" % BIG)], conn=c)
        assert resp.status == 416 and resp.header("Content-Range") == "bytes */%d" % BIG


# ---------------------------------------------------------------- If-Range

IF_RANGE = [
    ("etag", lambda etag, lm: etag, 206),
    ("other-etag", lambda etag, lm: '"other"', 200),
    ("weak-etag", lambda etag, lm: "W/" + etag, 200),
    ("last-modified", lambda etag, lm: lm, 206),
    ("other-date", lambda etag, lm: http_date(lm_ts(lm) - 86400), 200),
    ("later-date", lambda etag, lm: http_date(lm_ts(lm) + 1), 200),
]


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("name,value,status", IF_RANGE, ids=[c[0] for c in IF_RANGE])
def test_if_range(server, tree, name, value, status):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        etag, lm = validators(server, path, conn=c)
        resp = ask(server, "GET", path, [("Range", "bytes=10-19"), ("If-Range", value(etag, lm))],
                   conn=c)
        if status == 206:
            assert parts_of(server, resp, path) == [(10, 19)]
        else:
            whole(server, resp, path)
        still_serves(server, c)


# ---------------------------------------------------------------- clients that resume

def run(server, cmd, cwd=None):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=server.t(60))
    assert r.returncode == 0, "%s: exit %d\n%s" % (cmd[0], r.returncode, r.stderr[-2000:])
    return r


@pytest.mark.parametrize("tree", TREES)
def test_curl_range(server, scratch, tree):
    path = "/%s/%s" % (tree, MID)
    out = scratch / "part"
    r = run(server, ["curl", "-s", "--range", "100-199", "-o", str(out), "-w", "%{http_code}",
                     server.url(path)])
    assert r.stdout == "206"
    assert out.read_bytes() == file_slice(server, path, 100, 199)


@pytest.mark.parametrize("tree", TREES)
def test_curl_resumes_download(server, scratch, tree):
    path = "/%s/%s" % (tree, fname(2 * MIB))
    out = scratch / "file"
    out.write_bytes(file_slice(server, path, 0, 1234566))
    r = run(server, ["curl", "-s", "-C", "-", "-o", str(out), "-w", "%{http_code}",
                     server.url(path)])
    assert r.stdout == "206"
    assert file_sha(out) == server.sha(path)


@pytest.mark.parametrize("tree", TREES)
def test_wget_resumes_download(server, scratch, tree):
    path = "/%s/%s" % (tree, fname(2 * MIB))
    out = scratch / fname(2 * MIB)
    out.write_bytes(file_slice(server, path, 0, 777776))
    r = run(server, ["wget", "-c", "-t", "1", "-S", server.url(path)], cwd=scratch)
    assert re.search(r"^\s*HTTP/1\.1 206 ", r.stderr, re.M), r.stderr[-2000:]
    assert file_sha(out) == server.sha(path)


# ---------------------------------------------------------------- validators

@pytest.mark.parametrize("tree", TREES)
def test_validators_on_200_and_206(server, tree):
    path = "/%s/%s" % (tree, MID)
    with server.conn() as c:
        first = ask(server, "GET", path, conn=c)
        second = ask(server, "GET", path, conn=c)
        part = ask(server, "GET", path, [("Range", "bytes=1-2")], conn=c)
        head = ask(server, "HEAD", path, conn=c)
    assert part.status == 206
    etag = first.header("ETag")
    assert ETAG_RE.fullmatch(etag or ""), first.raw_head
    for resp in (second, part, head):
        assert resp.header("ETag") == etag, resp.raw_head
        assert resp.header("Last-Modified") == first.header("Last-Modified"), resp.raw_head
    assert lm_ts(first.header("Last-Modified")) == int(os.stat(server.path(path)).st_mtime)


@pytest.mark.parametrize("tree", TREES)
def test_etag_changes_with_the_file(server, tree):
    path = "/%s/scratch_etag_%d.txt" % (tree, os.getpid())
    disk = server.path(path)
    disk.write_bytes(b"first version\n")
    try:
        st = os.stat(disk)
        os.utime(disk, (st.st_atime, st.st_mtime - 1000))
        resp = ask(server, "GET", path)
        assert resp.status == 200 and resp.body == b"first version\n", resp.raw_head
        etag1, lm1 = resp.header("ETag"), resp.header("Last-Modified")
        assert ETAG_RE.fullmatch(etag1 or ""), resp.raw_head
        assert validators(server, path) == (etag1, lm1)        # stable while nothing changes

        os.utime(disk, (st.st_atime, st.st_mtime - 500))         # same bytes, new mtime
        etag2, lm2 = validators(server, path)
        assert etag2 != etag1 and lm2 != lm1
        assert lm_ts(lm2) == int(st.st_mtime - 500)

        disk.write_bytes(b"second, longer version\n")            # new bytes
        resp = ask(server, "GET", path)
        assert resp.body == b"second, longer version\n"
        assert resp.header("ETag") not in (etag1, etag2), resp.raw_head
        # The old ETag no longer matches: If-None-Match with it gets the new file.
        resp = ask(server, "GET", path, [("If-None-Match", etag2)])
        assert resp.status == 200 and resp.body == b"second, longer version\n", resp.raw_head
    finally:
        disk.unlink()


# ---------------------------------------------------------------- conditional requests

def _older(lm):
    return http_date(lm_ts(lm) - 86400)


COND = [
    ("inm-etag", lambda e, lm: [("If-None-Match", e)], 304),
    ("inm-list", lambda e, lm: [("If-None-Match", '"x", ' + e)], 304),
    ("inm-star", lambda e, lm: [("If-None-Match", "*")], 304),
    ("inm-weak", lambda e, lm: [("If-None-Match", "W/" + e)], 304),
    ("inm-other", lambda e, lm: [("If-None-Match", '"other"')], 200),
    ("ims-equal", lambda e, lm: [("If-Modified-Since", lm)], 304),
    ("ims-older", lambda e, lm: [("If-Modified-Since", _older(lm))], 200),
    ("ims-garbage", lambda e, lm: [("If-Modified-Since", "yesterday-ish")], 200),
    ("inm-other+ims-equal", lambda e, lm: [("If-None-Match", '"other"'),
                                           ("If-Modified-Since", lm)], 200),
    ("im-other", lambda e, lm: [("If-Match", '"other"')], 412),
    ("im-etag", lambda e, lm: [("If-Match", e)], 200),
    ("im-list", lambda e, lm: [("If-Match", '"a", ' + e)], 200),
    ("im-star", lambda e, lm: [("If-Match", "*")], 200),
    ("im-weak", lambda e, lm: [("If-Match", "W/" + e)], 412),
    ("ius-older", lambda e, lm: [("If-Unmodified-Since", _older(lm))], 412),
    ("ius-equal", lambda e, lm: [("If-Unmodified-Since", lm)], 200),
    ("im-etag+ius-older", lambda e, lm: [("If-Match", e),
                                         ("If-Unmodified-Since", _older(lm))], 200),
]


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("name,make,status", COND, ids=[c[0] for c in COND])
def test_conditional(server, tree, name, make, status):
    path = "/%s/hello.txt" % tree
    with server.conn() as c:
        etag, lm = validators(server, path, conn=c)
        resp = ask(server, "GET", path, make(etag, lm), conn=c)
        assert resp.status == status, "%s: %r" % (name, resp.raw_head)
        if status == 304:
            assert resp.header("ETag") == etag, resp.raw_head
        elif status == 200:
            whole(server, resp, path)
        still_serves(server, c)           # after a 304 nothing follows; after 412, in sync
        c.assert_open()


# ---------------------------------------------------------------- HEAD matches GET

HEAD_CASES = [
    ("file", "hello.txt", lambda e: []),
    ("mid", MID, lambda e: []),
    ("range-ignored", MID, lambda e: [("Range", "bytes=0-9")]),
    ("redirect", "sub", lambda e: []),
    ("index", "withindex/", lambda e: []),
    ("dir-no-index", "sub/", lambda e: []),
    ("missing", "missing.txt", lambda e: []),
    ("not-modified", "hello.txt", lambda e: [("If-None-Match", e)]),
    ("precondition-failed", "hello.txt", lambda e: [("If-Match", '"other"')]),
]


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("name,rel,make", HEAD_CASES, ids=[c[0] for c in HEAD_CASES])
def test_head_matches_get(server, tree, name, rel, make):
    path = "/%s/%s" % (tree, rel)
    with server.conn() as c:
        etag = validators(server, "/%s/hello.txt" % tree, conn=c)[0]
        extra = make(etag)
        get = ask(server, "GET", path, [h for h in extra if h[0] != "Range"], conn=c)
        head = ask(server, "HEAD", path, extra, conn=c)
        assert head.status == get.status
        same_headers(get, head)
        still_serves(server, c)
        c.assert_open()


# ---------------------------------------------------------------- Content-Type

TYPES = {"html": "text/html", "htm": "text/html", "css": "text/css", "js": "text/javascript",
         "mjs": "text/javascript", "json": "application/json", "map": "application/json",
         "xml": "application/xml", "txt": "text/plain", "md": "text/markdown", "csv": "text/csv",
         "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
         "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon",
         "bmp": "image/bmp", "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf",
         "otf": "font/otf", "wasm": "application/wasm", "pdf": "application/pdf",
         "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
         "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav", "mp4": "video/mp4",
         "webm": "video/webm", "mov": "video/quicktime", "zzqx": "application/octet-stream"}
assert sorted(TYPES) == sorted(TYPE_EXTS)


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("ext", TYPE_EXTS)
def test_content_type(server, tree, ext):
    path = "/%s/types/t.%s" % (tree, ext)
    want = TYPES[ext] + ("; charset=utf-8" if TYPES[ext].startswith("text/") else "")
    resp = ask(server, "GET", path)
    assert resp.status == 200 and resp.body == server.data(path), resp.raw_head
    assert norm(resp.header("Content-Type")) == norm(want), resp.raw_head


# ---------------------------------------------------------------- directories

@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("rel,location", [
    ("sub", "sub/"), ("sub?x=1", "sub/?x=1"), ("withindex", "withindex/"),
    ("listdir?a=b&c=%20d", "listdir/?a=b&c=%20d"), ("listdir/b%20dir", "listdir/b%20dir/"),
])
def test_directory_without_slash_redirects(server, tree, rel, location):
    with server.conn() as c:
        resp = ask(server, "GET", "/%s/%s" % (tree, rel), conn=c)
        assert resp.status == 301, resp.raw_head
        assert resp.header("Location") == "/%s/%s" % (tree, location), resp.raw_head
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
def test_directory_with_index(server, tree):
    path = "/%s/withindex/" % tree
    with server.conn() as c:
        resp = ask(server, "GET", path, conn=c)
        assert resp.status == 200, resp.raw_head
        assert resp.body == server.data(path + "index.html")
        assert norm(resp.header("Content-Type")) == "text/html;charset=utf-8"
        still_serves(server, c)


@pytest.mark.parametrize("tree", TREES)
def test_curl_follows_redirect_to_index(server, tree):
    r = run(server, ["curl", "-s", "-L", "-w", "%{http_code} %{num_redirects}",
                     "-o", "/dev/stdout", server.url("/%s/withindex" % tree)])
    want = server.data("/%s/withindex/index.html" % tree).decode()
    assert r.stdout == want + "200 1"


@pytest.mark.parametrize("path,status", [
    ("/static/", 200), ("/dynamic/", 404), ("/static/sub/", 404), ("/dynamic/sub/", 404),
    ("/static/listdir/", 404), ("/dynamic/listdir/", 404), ("/dynamic/listdir/b%20dir/", 404)])
def test_directory_index_or_404(server, path, status):
    with server.conn() as c:
        resp = ask(server, "GET", path, conn=c)
        assert resp.status == status, resp.raw_head
        if status == 200:
            assert resp.body == server.data(path + "index.html")
        else:
            assert b"inner" not in resp.body and b"Zed.txt" not in resp.body   # no listing
        still_serves(server, c)


# ---------------------------------------------------------------- strict parsing

H = b"GET /static/hello.txt HTTP/1.1\r\n"
STRICT = [
    ("no-host", H + b"\r\n", 400),
    ("two-hosts", H + b"Host: a\r\nHost: b\r\n\r\n", 400),
    ("space-before-colon-host", H + b"Host : a\r\n\r\n", 400),
    ("space-before-colon", H + b"Host: a\r\nAccept : */*\r\n\r\n", 400),
    ("obs-fold", H + b"Host: a\r\nX: a\r\n b\r\n\r\n", 400),
    ("bare-cr", H + b"Host: a\r\nX: a\rb\r\n\r\n", 400),
    ("ctl-01", H + b"Host: a\r\nX: a\x01b\r\n\r\n", 400),
    ("ctl-1b", H + b"Host: a\r\nX: a\x1bb\r\n\r\n", 400),
    ("ctl-7f", H + b"Host: a\r\nX: a\x7fb\r\n\r\n", 400),
    ("ctl-nul", H + b"Host: a\r\nX: a\x00b\r\n\r\n", 400),
    ("cl-plus", H + b"Host: a\r\nContent-Length: +5\r\n\r\nhello", 400),
    ("cl-list", H + b"Host: a\r\nContent-Length: 1,1\r\n\r\nx", 400),
    ("cl-negative", H + b"Host: a\r\nContent-Length: -1\r\n\r\n", 400),
    ("cl-and-te", H + b"Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("te-http10", b"GET /static/hello.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("te-gzip", H + b"Host: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    ("te-chunked-not-last", H + b"Host: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("te-foo-chunked", H + b"Host: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501),
]


@pytest.mark.parametrize("name,data,status", STRICT, ids=[s[0] for s in STRICT])
def test_strict_parsing_rejects_and_closes(server, name, data, status):
    raw_expect_close(server, data, status)


@pytest.mark.parametrize("header", [b"X: a\tb", b"X:a", b"X:   a   ", b"X:", b"X-Empty: "])
def test_lenient_where_allowed(server, header):
    """Tabs inside values, no or extra whitespace, empty values: all valid."""
    with server.conn() as c:
        c.send(H + b"Host: a\r\n" + header + b"\r\n\r\n")
        resp = c.read_response()
        assert resp.status == 200 and resp.body == server.data("/static/hello.txt"), resp.raw_head
        c.assert_open()


@pytest.mark.parametrize("tree", TREES)
def test_absolute_form_target(server, tree):
    path = "/%s/hello.txt" % tree
    with server.conn() as c:
        c.send(b"GET http://localhost:8888%s HTTP/1.1\r\nHost: localhost:8888\r\n\r\n"
               % path.encode())
        resp = c.read_response()
        assert resp.status == 200 and resp.body == server.data(path), resp.raw_head
        still_serves(server, c)


# ---------------------------------------------------------------- smuggling

@pytest.mark.parametrize("tree", TREES)
def test_get_body_holding_a_request_is_not_answered(server, tree):
    inner = request_bytes("GET", "/%s/pic.png" % tree)
    data = (request_bytes("GET", "/%s/hello.txt" % tree,
                          [("Content-Length", str(len(inner)))], body=inner)
            + request_bytes("GET", "/%s/%s" % (tree, MID), [("Connection", "close")]))
    with server.conn() as c:
        c.send(data)
        first = c.read_response()
        assert first.status == 200 and first.body == server.data("/%s/hello.txt" % tree)
        second = c.read_response()
        assert second.status == 200 and second.body == server.data("/%s/%s" % (tree, MID))
        expect_close(server, c, second, 200)          # and no third response


@pytest.mark.parametrize("tree", TREES)
def test_post_chunked_then_get(server, tree):
    inner = request_bytes("GET", "/%s/pic.png" % tree)
    body = b"%x\r\n%s\r\n3\r\nabc\r\n0\r\n\r\n" % (len(inner), inner)
    data = (request_bytes("POST", "/%s/hello.txt" % tree, [("Transfer-Encoding", "chunked")],
                          body=body)
            + request_bytes("GET", "/%s/hello.txt" % tree, [("Connection", "close")]))
    with server.conn() as c:
        c.send(data)
        first = c.read_response()
        assert first.status == 405, first.raw_head
        second = c.read_response()
        assert second.body == server.data("/%s/hello.txt" % tree)
        expect_close(server, c, second, 200)


# ---------------------------------------------------------------- OPTIONS, TRACE, CONNECT, Upgrade

@pytest.mark.parametrize("target", ["/static/hello.txt", "/dynamic/hello.txt", "*"])
def test_options(server, target):
    with server.conn() as c:
        resp = ask(server, "OPTIONS", target, conn=c)
        assert resp.status == 204, resp.raw_head
        assert tokens(resp.header("Allow")) == ALLOW, resp.raw_head
        still_serves(server, c)                  # a body would break this response's parse
        c.assert_open()


@pytest.mark.parametrize("tree", TREES)
def test_trace_is_405(server, tree):
    with server.conn() as c:
        resp = ask(server, "TRACE", "/%s/hello.txt" % tree, [("X-Secret", "s3cr3t")], conn=c)
        assert resp.status == 405, resp.raw_head
        assert tokens(resp.header("Allow")) == ALLOW, resp.raw_head
        assert b"s3cr3t" not in resp.body


def test_connect_is_405_never_a_tunnel(server):
    with server.conn() as c:
        c.send(b"CONNECT localhost:1 HTTP/1.1\r\nHost: localhost:1\r\n\r\n")
        resp = c.read_response()
        assert resp.status == 405, resp.raw_head
        assert tokens(resp.header("Allow")) == ALLOW, resp.raw_head
        if norm(resp.header("Connection")) == "close":
            c.wait_closed(timeout=server.t(5))
        else:
            still_serves(server, c)              # still HTTP, not a byte pipe


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("pipelined", [False, True], ids=["sequential", "pipelined"])
def test_upgrade_is_ignored(server, tree, pipelined):
    path = "/%s/hello.txt" % tree
    up = request_bytes("GET", path, [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                     ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                     ("Sec-WebSocket-Version", "13")])
    nxt = request_bytes("GET", "/%s/%s" % (tree, MID))
    with server.conn() as c:
        c.send(up + nxt if pipelined else up)
        resp = c.read_response()
        assert resp.status == 200 and resp.body == server.data(path), resp.raw_head
        assert resp.header("Upgrade") is None, resp.raw_head
        if not pipelined:
            c.send(nxt)
        resp = c.read_response()
        assert resp.status == 200 and resp.body == server.data("/%s/%s" % (tree, MID))
        c.assert_open()
