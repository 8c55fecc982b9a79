"""Behaviour behind command-line options: directory listings (--listing) and precompressed
variants (--precompressed), on /static and /dynamic. A second server runs for this module on
port 8890 in its own generated root, with the same exit, stderr and valgrind checks as the
session server; the module is skipped while ./aws rejects these options (exit status 2)."""

import gzip
import re
import subprocess
import urllib.parse

import pytest

from conftest import LISTDIR_FILES, LISTDIR_HIDDEN, UsageError, running_server
from httpcheck import (ETAG_RE, ask, content_range, norm, parse_listing, same_headers,
                       still_serves, tokens)

FLAGS_PORT = 8890
FLAGS = ["--port", str(FLAGS_PORT), "--listing", "--precompressed"]
TREES = ["static", "dynamic"]
CT_TEXT = "text/plain; charset=utf-8"


@pytest.fixture(scope="module")
def fserver():
    try:
        with running_server(FLAGS, port=FLAGS_PORT) as srv:
            yield srv
    except UsageError as e:
        pytest.skip("the server does not take %s yet: %s" % (" ".join(FLAGS), e))


@pytest.fixture(autouse=True)
def _fserver_stays_up(fserver):
    assert fserver.alive(), "flags server is not running:\n" + fserver.stderr_tail()
    yield
    assert fserver.alive(), "flags server died during this test (exit %r):\n%s" % (
        fserver.proc.returncode, fserver.stderr_tail())


# ---------------------------------------------------------------- listings

def expected_entries():
    """Top-level names of listdir/ as the listing must show them, in strcmp order."""
    names = {n.split("/")[0] + ("/" if "/" in n else "") for n in LISTDIR_FILES}
    return sorted(names, key=lambda n: n.encode("utf-8"))


def listing(fserver, path):
    resp = ask(fserver, "GET", path)
    assert resp.status == 200, resp.raw_head
    assert norm(resp.header("Content-Type")) == "text/html;charset=utf-8", resp.raw_head
    return resp


@pytest.mark.parametrize("tree", TREES)
def test_listing_names_sorted_dotfiles_hidden(fserver, tree):
    base = "/%s/listdir/" % tree
    body = listing(fserver, base).body
    entries, _ = parse_listing(body, base)
    assert list(entries) == expected_entries(), body.decode()
    for hidden in LISTDIR_HIDDEN:
        assert hidden.split("/")[0].encode() not in body, "%s shown:\n%s" % (hidden, body.decode())


@pytest.mark.parametrize("tree", TREES)
def test_listing_escapes_names(fserver, tree):
    base = "/%s/listdir/" % tree
    body = listing(fserver, base).body
    assert b"a&amp;b&lt;c" in body, body.decode()        # escaped in text...
    assert b"a&b" not in body and b"<c>" not in body, body.decode()
    entries, links = parse_listing(body, base)
    for name, (target, _) in entries.items():
        href = target[len(base):]
        bare = re.sub(r"%[0-9A-Fa-f]{2}", "", href)
        assert not re.search(r"[ <>\"&%\x80-\U0010ffff]", bare), "%r not percent-encoded" % href
        assert urllib.parse.unquote(href) == name
    hrefs = [t[len(base):].lower() for t, _ in entries.values()]
    assert "a%26b%3cc%3e.txt" in hrefs and "50%25%20off.txt" in hrefs, links


@pytest.mark.parametrize("tree", TREES)
def test_listing_sizes_and_links_work(fserver, tree):
    base = "/%s/listdir/" % tree
    entries, _ = parse_listing(listing(fserver, base).body, base)
    with fserver.conn() as c:
        for name, (target, texts) in entries.items():
            assert name in texts, "row for %r shows %r" % (name, texts)
            resp = ask(fserver, "GET", target, conn=c)
            assert resp.status == 200, "%s: %r" % (target, resp.raw_head)
            if name.endswith("/"):
                sub, _ = parse_listing(resp.body, target)
                assert list(sub) == ["inside.txt"], resp.body.decode()
                continue
            size = LISTDIR_FILES[name]
            assert str(size) in texts, "size %d of %r not in %r" % (size, name, texts)
            assert resp.body == fserver.data(base + name)
        still_serves(fserver, c)


@pytest.mark.parametrize("tree", TREES)
def test_listing_head_and_redirect(fserver, tree):
    base = "/%s/listdir/" % tree
    with fserver.conn() as c:
        get = ask(fserver, "GET", base, conn=c)
        head = ask(fserver, "HEAD", base, conn=c)
        assert head.status == 200
        same_headers(get, head)
        resp = ask(fserver, "GET", base[:-1] + "?q=1", conn=c)
        assert resp.status == 301 and resp.header("Location") == base + "?q=1", resp.raw_head
        still_serves(fserver, c)


@pytest.mark.parametrize("tree", TREES)
def test_index_wins_over_listing(fserver, tree):
    path = "/%s/withindex/" % tree
    resp = ask(fserver, "GET", path)
    assert resp.status == 200 and resp.body == fserver.data(path + "index.html"), resp.raw_head


def test_curl_reads_listing(fserver):
    r = subprocess.run(["curl", "-s", "-f", fserver.url("/static/listdir/b%20dir/")],
                       capture_output=True, timeout=fserver.t(30))
    assert r.returncode == 0 and b'href="' in r.stdout and b"inside.txt" in r.stdout, r


# ---------------------------------------------------------------- precompressed variants

def variant(fserver, tree, ext):
    return fserver.data("/%s/pre.txt%s" % (tree, ext))


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("accept,coding", [
    ("gzip", "gzip"), ("br, gzip", "br"), ("br;q=0.5, gzip;q=0.9", "gzip"),
    ("br;q=0, gzip", "gzip"), ("GZIP", "gzip"), ("x-foo, gzip;q=1.0", "gzip"),
    ("gzip;q=0", None), ("identity", None), ("deflate", None), ("gzip;q=0, br;q=0", None),
    (None, None),
])
def test_precompressed_choice(fserver, tree, accept, coding):
    path = "/%s/pre.txt" % tree
    headers = [("Accept-Encoding", accept)] if accept is not None else []
    with fserver.conn() as c:
        identity = ask(fserver, "GET", path, conn=c)
        resp = ask(fserver, "GET", path, headers, conn=c)
        assert resp.status == 200, resp.raw_head
        assert "accept-encoding" in tokens(resp.header("Vary")), resp.raw_head
        assert norm(resp.header("Content-Type")) == norm(CT_TEXT), resp.raw_head
        etag = resp.header("ETag")
        assert ETAG_RE.fullmatch(etag or ""), resp.raw_head
        if coding is None:
            assert resp.header("Content-Encoding") is None, resp.raw_head
            assert resp.body == fserver.data(path)
            assert etag == identity.header("ETag")
        else:
            assert norm(resp.header("Content-Encoding")) == coding, resp.raw_head
            assert resp.body == variant(fserver, tree, ".gz" if coding == "gzip" else ".br")
            assert etag != identity.header("ETag"), resp.raw_head
        if coding == "gzip":
            assert gzip.decompress(resp.body) == fserver.data(path)
        still_serves(fserver, c)


@pytest.mark.parametrize("tree", TREES)
def test_precompressed_conditional_and_head(fserver, tree):
    path = "/%s/pre.txt" % tree
    ae = [("Accept-Encoding", "gzip")]
    with fserver.conn() as c:
        gz = ask(fserver, "GET", path, ae, conn=c)
        head = ask(fserver, "HEAD", path, ae, conn=c)
        same_headers(gz, head)
        resp = ask(fserver, "GET", path, ae + [("If-None-Match", gz.header("ETag"))], conn=c)
        assert resp.status == 304 and resp.header("ETag") == gz.header("ETag"), resp.raw_head
        # The identity ETag does not match the gzip variant, and the other way round.
        ident = ask(fserver, "GET", path, conn=c).header("ETag")
        resp = ask(fserver, "GET", path, ae + [("If-None-Match", ident)], conn=c)
        assert resp.status == 200 and resp.body == variant(fserver, tree, ".gz"), resp.raw_head
        resp = ask(fserver, "GET", path, [("If-None-Match", gz.header("ETag"))], conn=c)
        assert resp.status == 200 and resp.body == fserver.data(path), resp.raw_head
        still_serves(fserver, c)


@pytest.mark.parametrize("tree", TREES)
def test_precompressed_ranges_are_of_encoded_bytes(fserver, tree):
    path = "/%s/pre.txt" % tree
    gz = variant(fserver, tree, ".gz")
    with fserver.conn() as c:
        resp = ask(fserver, "GET", path, [("Accept-Encoding", "gzip"), ("Range", "bytes=0-9")],
                   conn=c)
        assert resp.status == 206, resp.raw_head
        assert norm(resp.header("Content-Encoding")) == "gzip", resp.raw_head
        assert content_range(resp) == (0, 9, len(gz))
        assert resp.body == gz[:10]
        resp = ask(fserver, "GET", path, [("Accept-Encoding", "gzip"), ("Range", "bytes=-5")],
                   conn=c)
        assert content_range(resp) == (len(gz) - 5, len(gz) - 1, len(gz)) and resp.body == gz[-5:]
        still_serves(fserver, c)


@pytest.mark.parametrize("tree", TREES)
def test_curl_compressed_gets_original(fserver, scratch, tree):
    path = "/%s/pre.txt" % tree
    out = scratch / "pre.txt"
    r = subprocess.run(["curl", "-s", "--compressed", "-D", "-", "-o", str(out),
                        fserver.url(path)], capture_output=True, text=True, timeout=fserver.t(30))
    assert r.returncode == 0, r.stderr
    assert re.search(r"^content-encoding: *(br|gzip)\r?$", r.stdout, re.I | re.M), r.stdout
    assert out.read_bytes() == fserver.data(path)


@pytest.mark.parametrize("tree", TREES)
def test_file_without_variants_is_identity(fserver, tree):
    path = "/%s/hello.txt" % tree
    resp = ask(fserver, "GET", path, [("Accept-Encoding", "gzip, br")])
    assert resp.status == 200 and resp.body == fserver.data(path), resp.raw_head
    assert resp.header("Content-Encoding") is None, resp.raw_head


@pytest.mark.parametrize("tree", TREES)
def test_variants_are_also_plain_files(fserver, tree):
    path = "/%s/pre.txt.gz" % tree
    resp = ask(fserver, "GET", path)
    assert resp.status == 200 and resp.body == fserver.data(path), resp.raw_head
    assert norm(resp.header("Content-Type")) == "application/gzip", resp.raw_head
