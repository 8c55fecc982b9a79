"""Checks shared by test_http_features.py and test_flags_http.py: reading responses that may
have no body, "send this, expect that status and a close", byte slices of files on disk,
multipart/byteranges bodies, and directory listings parsed as HTML."""

import html.parser
import re
import urllib.parse

from httpclient import ProtocolError, build_request

ETAG_RE = re.compile(r'"[\x21\x23-\x7e\x80-\xff]*"')     # strong: quoted, no W/ prefix
CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def norm(value):
    return re.sub(r"\s+", "", value or "").lower()


def tokens(value):
    """A comma-separated header value as a lower-case list: "GET, HEAD" -> ["get", "head"]."""
    return [t for t in norm(value).split(",") if t]


def read_any(conn, method="GET"):
    """One response; no body for HEAD, 1xx, 204 and 304, else exactly Content-Length bytes."""
    resp = conn.read_head()
    if method == "HEAD" or resp.status in (204, 304) or resp.status < 200:
        length = resp.header("Content-Length")
        if resp.status == 204 and length is not None:
            assert length == "0", "204 with Content-Length %r" % length
        resp.body = b""
        return resp
    resp.body = conn.read_exact(resp.content_length())
    resp.body_len = len(resp.body)
    return resp


def ask(server, method, path, headers=(), version="HTTP/1.1", conn=None):
    """Sends one request (on `conn`, or a fresh connection closed afterwards); returns the
    response, body read per read_any()."""
    own = conn is None
    c = server.conn() if own else conn
    try:
        c.request(method, path, headers=list(headers), version=version)
        return read_any(c, method)
    finally:
        if own:
            c.close()


def still_serves(server, conn, path="/static/hello.txt"):
    """The connection is still in sync: another GET on it gets exactly the file."""
    conn.request("GET", path)
    resp = conn.read_response()
    assert resp.status == 200, resp.raw_head
    assert resp.body == server.data(path)


def expect_close(server, conn, resp, status):
    """resp has `status`, says Connection: close, and the server then closes the socket."""
    assert resp.status == status, "want %d, got %r" % (status, resp.raw_head)
    assert norm(resp.header("Connection")) == "close", resp.raw_head
    conn.wait_closed(timeout=server.t(5))


def raw_expect_close(server, data, status):
    """Sends raw bytes on a fresh connection: one response with `status`, then a close."""
    with server.conn() as c:
        c.send(data)
        resp = c.read_response()
        expect_close(server, c, resp, status)
        return resp


def file_slice(server, path, first, last):
    """Bytes first..last (inclusive) of the file behind a URL path, read from disk."""
    with open(server.path(path), "rb") as f:
        f.seek(first)
        return f.read(last - first + 1)


def content_range(resp):
    """(first, last, size) from a 206's `Content-Range: bytes a-b/size`."""
    m = CONTENT_RANGE_RE.fullmatch(resp.header("Content-Range") or "")
    assert m, "bad Content-Range in %r" % resp.raw_head
    return tuple(int(x) for x in m.groups())


def boundary_of(resp):
    ctype = resp.header("Content-Type") or ""
    m = re.fullmatch(r'\s*multipart/byteranges\s*;\s*boundary=("?)([^";]+)\1\s*', ctype, re.I)
    assert m, "not multipart/byteranges with a boundary: %r" % ctype
    return m.group(2).encode("latin-1")


def parse_byteranges(resp):
    """Parses a multipart/byteranges body strictly; returns [(ctype, first, last, size, data)].

    Each part is `--B CRLF headers CRLF CRLF data`, delimited by `CRLF --B`, closed by
    `CRLF --B--`; the data length is taken from the part's Content-Range, so a missing or extra
    byte anywhere makes the framing fail."""
    b = boundary_of(resp)
    body = resp.body
    pos = 2 if body.startswith(b"\r\n") else 0        # an empty preamble, with or without CRLF
    parts = []
    while True:
        assert body.startswith(b"--" + b, pos), "no delimiter at %d: %r" % (pos, body[pos:pos + 80])
        pos += 2 + len(b)
        if body.startswith(b"--", pos):
            pos += 2
            break
        assert body.startswith(b"\r\n", pos), "delimiter line not ended at %d" % pos
        end = body.index(b"\r\n\r\n", pos)
        headers = {}
        for line in body[pos + 2:end].split(b"\r\n"):
            name, value = line.split(b":", 1)
            headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
        pos = end + 4
        m = CONTENT_RANGE_RE.fullmatch(headers.get("content-range", ""))
        assert m, "part without a valid Content-Range: %r" % headers
        first, last, size = (int(x) for x in m.groups())
        data = body[pos:pos + last - first + 1]
        pos += last - first + 1
        parts.append((headers.get("content-type"), first, last, size, data))
        assert body.startswith(b"\r\n", pos), "part data not followed by CRLF at %d" % pos
        pos += 2
    assert body[pos:] in (b"", b"\r\n"), "bytes after the closing delimiter: %r" % body[pos:pos + 80]
    return parts


def same_headers(get, head, skip=("date",)):
    """The header lists of two responses, minus `skip`, are equal (order and case aside)."""
    a = sorted((k.lower(), v) for k, v in get.headers if k.lower() not in skip)
    b = sorted((k.lower(), v) for k, v in head.headers if k.lower() not in skip)
    assert a == b, "GET and HEAD headers differ:\n%r\n%r" % (get.raw_head, head.raw_head)


def request_bytes(method, path, headers=(), body=b"", version="HTTP/1.1"):
    return build_request(method, path, version=version, headers=list(headers), body=body)


class ListingParser(html.parser.HTMLParser):
    """Collects table rows as lists of cells; each cell is (text, [hrefs])."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.links = [], []
        self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ["", []]
            self._row.append(self._cell)
        elif tag == "a":
            href = dict(attrs).get("href")
            if href is not None:
                self.links.append(href)
                if self._cell is not None:
                    self._cell[1].append(href)

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append([(t.strip(), h) for t, h in self._row])
            self._row = None
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parse_listing(body, base):
    """Returns (entries, raw links): entries maps each linked name (as the text shows it,
    relative to `base`, the listing's URL path) to (absolute URL path, texts of the row)."""
    p = ListingParser()
    p.feed(body.decode("utf-8"))
    p.close()
    entries = {}
    for row in p.rows:
        hrefs = [h for _, cell_hrefs in row for h in cell_hrefs]
        if len(hrefs) != 1:
            continue
        target = urllib.parse.urljoin(base, hrefs[0])
        if not target.startswith(base) or target == base:
            continue                                           # "../" and the like
        name = urllib.parse.unquote(target[len(base):], errors="strict")
        if name in entries:
            raise ProtocolError("%r listed twice" % name)
        entries[name] = (target, [t for t, _ in row])
    return entries, p.links
