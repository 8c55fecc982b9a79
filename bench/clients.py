"""The two benchmark clients wrk cannot be: a large-file reader that receives in 1 MiB blocks,
and a holder of many idle keep-alive connections. Standard library only; loopback only.
Both are used by bench.py in-process and can be run alone for debugging (see main())."""

import os
import socket
import sys
import time

HEAD_MAX = 16 * 1024


def request_bytes(path):
    """One HTTP/1.1 keep-alive GET for path on the loopback server."""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: aws-bench\r\n\r\n".encode()


def read_head(sock):
    """Reads one response head; returns (status, content_length, body bytes that came with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(HEAD_MAX)
        if not chunk:
            raise ConnectionError("server closed before the response head ended")
        data += chunk
        if len(data) > HEAD_MAX and b"\r\n\r\n" not in data:
            raise ConnectionError("response head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("response without Content-Length")
    return status, length, rest


def drop_cache(path):
    """Asks the kernel to forget path's cached pages (clean pages go at once)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def stream(port, path, seconds, block=1 << 20, evict=None):
    """Fetches path again and again over one keep-alive connection for `seconds`, receiving the
    body with recv_into() in `block`-byte pieces; stops mid-body at the deadline. When `evict`
    names a file, its page cache is dropped before each request (a cold read every time).
    Returns {"bytes": body bytes received, "requests": bodies completed, "seconds": elapsed}."""
    buf = bytearray(block)
    view = memoryview(buf)
    req = request_bytes(path)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    received = completed = 0
    start = time.monotonic()
    deadline = start + seconds
    try:
        while time.monotonic() < deadline:
            if evict:
                drop_cache(evict)
            sock.sendall(req)
            status, length, early = read_head(sock)
            if status != 200:
                raise ConnectionError(f"status {status} for {path}")
            received += len(early)
            remaining = length - len(early)
            while remaining > 0 and time.monotonic() < deadline:
                n = sock.recv_into(view, min(block, remaining))
                if n == 0:
                    raise ConnectionError("server closed mid-body")
                received += n
                remaining -= n
            if remaining == 0:
                completed += 1
    finally:
        elapsed = time.monotonic() - start
        sock.close()
    return {"bytes": received, "requests": completed, "seconds": elapsed}


def open_idle(port, path, count):
    """Opens `count` connections, sends one request on each and reads its whole response, so
    each one is an idle keep-alive connection afterwards. Returns the list of open sockets
    (the caller closes them); stops early, returning what it has, if the server refuses more."""
    req = request_bytes(path)
    socks = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as e:
            print(f"idle client: stopped after {len(socks)} connections: {e}", file=sys.stderr)
            break
        try:
            sock.sendall(req)
            status, length, body = read_head(sock)
            while len(body) < length:
                chunk = sock.recv(length - len(body))
                if not chunk:
                    raise ConnectionError("server closed mid-body")
                body += chunk
            if status != 200:
                raise ConnectionError(f"status {status}")
        except OSError as e:
            sock.close()
            print(f"idle client: stopped after {len(socks)} connections: {e}", file=sys.stderr)
            break
        socks.append(sock)
    return socks


def main():
    """Debug entry: clients.py stream PORT PATH SECONDS | clients.py idle PORT PATH COUNT."""
    if len(sys.argv) != 5 or sys.argv[1] not in ("stream", "idle"):
        sys.exit("usage: clients.py stream PORT PATH SECONDS | clients.py idle PORT PATH COUNT")
    port, path = int(sys.argv[2]), sys.argv[3]
    if sys.argv[1] == "stream":
        r = stream(port, path, float(sys.argv[4]))
        print(f"{r['requests']} requests, {r['bytes'] / r['seconds'] / 2**20:.1f} MiB/s")
    else:
        socks = open_idle(port, path, int(sys.argv[4]))
        print(f"{len(socks)} idle connections open; press Enter to close them")
        sys.stdin.readline()
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
