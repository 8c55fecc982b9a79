"""A small raw-socket HTTP/1.x client for the integration tests.

It sends exactly the bytes a test gives it and parses responses strictly: a status line
`HTTP/x.y NNN reason`, CRLF-terminated header lines, then exactly Content-Length body
bytes (none for HEAD). It never normalises paths and never hides what the server did,
so a test can send malformed or pipelined requests and see each response in order.
"""

import hashlib
import re
import socket
import time

HOST = "127.0.0.1"
PORT = 8888
MAX_HEAD = 64 * 1024

_STATUS_RE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3}) ([^\r\n]*)$")


class ProtocolError(AssertionError):
    """The server sent something that is not a well-formed HTTP/1.x response."""


class ServerClosed(ProtocolError):
    """The server closed the connection before a complete response arrived."""


class Response:
    """One parsed response; `body` is None when it was streamed into a sink."""

    def __init__(self, version, status, reason, headers, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value) as received
        self.raw_head = raw_head
        self.body = b""
        self.body_len = 0

    def header(self, name):
        """The value of the one header called `name` (any case), or None; duplicates fail."""
        found = [v for (k, v) in self.headers if k.lower() == name.lower()]
        if len(found) > 1:
            raise ProtocolError("header %r sent %d times: %r" % (name, len(found), found))
        return found[0] if found else None

    def content_length(self):
        value = self.header("Content-Length")
        if value is None or not re.fullmatch(r"[0-9]+", value):
            raise ProtocolError("missing or bad Content-Length %r in %r" % (value, self.raw_head))
        return int(value)

    def __repr__(self):
        return "<Response %s %d %s, %d body bytes>" % (
            self.version, self.status, self.reason, self.body_len)


def build_request(method, path, version="HTTP/1.1", headers=None, body=b""):
    """The bytes of one request; `headers` is a list of (name, value), Host added for 1.1."""
    headers = list(headers or [])
    if version == "HTTP/1.1" and not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", "localhost"))
    lines = ["%s %s %s" % (method, path, version)]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One TCP connection to the server with a receive buffer shared by its responses."""

    def __init__(self, host=HOST, port=PORT, timeout=10.0, family=socket.AF_INET, linger_rst=False):
        self.timeout = timeout
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if linger_rst:
            # l_onoff=1, l_linger=0: close() sends an RST instead of a FIN.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.connect((host, port))
        self.buf = bytearray()

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, path, **kw):
        self.send(build_request(method, path, **kw))

    def _fill(self, limit=1 << 20):
        """Receives more bytes into the buffer; returns False on a clean EOF."""
        try:
            chunk = self.sock.recv(limit)
        except socket.timeout:
            raise ProtocolError("no data from the server within %.0f s (buffered: %r)"
                                % (self.timeout, bytes(self.buf[:200])))
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_head(self):
        """Reads and parses a status line and headers; the body stays in the buffer."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > MAX_HEAD:
                raise ProtocolError("response head longer than %d bytes" % MAX_HEAD)
            try:
                more = self._fill()
            except ConnectionResetError:
                more = False
            if not more:
                raise ServerClosed("connection closed before a full response head; got %r"
                                   % bytes(self.buf[:300]))
        raw = bytes(self.buf[:end])
        del self.buf[:end + 4]
        lines = raw.split(b"\r\n")
        m = _STATUS_RE.match(lines[0])
        if not m:
            raise ProtocolError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            if b":" not in line or line[:1] in (b" ", b"\t"):
                raise ProtocolError("bad header line %r in %r" % (line, raw))
            name, value = line.split(b":", 1)
            if not re.fullmatch(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ProtocolError("bad header name %r" % name)
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        version = "HTTP/%s.%s" % (m.group(1).decode(), m.group(2).decode())
        return Response(version, int(m.group(3)), m.group(4).decode("latin-1"), headers, raw)

    def read_exact(self, n, sink=None, chunk=1 << 20, pause=0.0):
        """Reads exactly n bytes; returns them, or feeds them to sink(bytes) and returns None."""
        out = bytearray() if sink is None else None
        left = n
        while left > 0:
            if not self.buf:
                if pause:
                    time.sleep(pause)
                try:
                    more = self._fill(min(chunk, left))
                except ConnectionResetError:
                    more = False
                if not more:
                    raise ServerClosed("connection closed with %d of %d body bytes missing"
                                       % (left, n))
            take = bytes(self.buf[:left])
            del self.buf[:len(take)]
            left -= len(take)
            if sink is None:
                out += take
            else:
                sink(take)
        return bytes(out) if sink is None else None

    def read_response(self, head_only=False, sink=None, chunk=1 << 20, pause=0.0):
        """Reads one response. head_only: the request was HEAD, so no body follows.

        With sink, body bytes go to sink(bytes) instead of resp.body (for large files);
        chunk and pause make a slow reader (recv at most `chunk` bytes, sleep `pause`)."""
        resp = self.read_head()
        length = resp.content_length()
        resp.body_len = 0 if head_only else length
        if head_only:
            return resp
        if sink is None:
            resp.body = self.read_exact(length, chunk=chunk, pause=pause)
        else:
            resp.body = None
            self.read_exact(length, sink=sink, chunk=chunk, pause=pause)
        return resp

    def read_some(self, n):
        """Reads up to n body bytes that the server is still sending (for hangup tests)."""
        got = 0
        while got < n:
            if not self.buf and not self._fill(min(65536, n - got)):
                raise ServerClosed("connection closed after %d bytes" % got)
            take = min(len(self.buf), n - got)
            del self.buf[:take]
            got += take
        return got

    def wait_closed(self, timeout=None):
        """Returns "eof" or "reset" once the server closed; fails on extra bytes or timeout."""
        if self.buf:
            raise ProtocolError("unexpected bytes after the response: %r" % bytes(self.buf[:200]))
        self.sock.settimeout(timeout or self.timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            raise ProtocolError("server did not close the connection within %.0f s"
                                % (timeout or self.timeout))
        except ConnectionResetError:
            return "reset"
        finally:
            self.sock.settimeout(self.timeout)
        if data:
            raise ProtocolError("unexpected bytes instead of a close: %r" % data[:200])
        return "eof"

    def assert_open(self, quiet=0.3):
        """Fails if the server closed the connection or sent stray bytes within `quiet` s."""
        if self.buf:
            raise ProtocolError("unexpected bytes after the response: %r" % bytes(self.buf[:200]))
        self.sock.settimeout(quiet)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return
        except ConnectionResetError:
            raise ProtocolError("server reset a connection that should stay open")
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            raise ProtocolError("server closed a connection that should stay open")
        raise ProtocolError("unexpected bytes on an idle connection: %r" % data[:200])

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fetch(method, path, timeout=10.0, **kw):
    """One request on a fresh connection; returns (response, conn) with conn still open."""
    conn = Conn(timeout=timeout)
    conn.request(method, path, **kw)
    return conn.read_response(head_only=(method == "HEAD")), conn


def get(path, timeout=10.0, **kw):
    """GET on a fresh connection that is closed afterwards; returns the response."""
    resp, conn = fetch("GET", path, timeout=timeout, **kw)
    conn.close()
    return resp


def get_sha256(path, timeout=10.0, **kw):
    """GET a (large) file on a fresh connection; returns (response, sha256 hex of the body)."""
    h = hashlib.sha256()
    with Conn(timeout=timeout) as conn:
        conn.request("GET", path, **kw)
        resp = conn.read_response(sink=h.update)
    return resp, h.hexdigest()


def send_raw(data, timeout=10.0):
    """Sends raw bytes on a fresh connection and reads one response; returns (resp, conn)."""
    conn = Conn(timeout=timeout)
    conn.send(data)
    return conn.read_response(), conn
