"""The open-file cache must never be seen: a file changed, replaced, removed or re-linked
between two requests is answered as it is now, on the same keep-alive connection and on a new
one, with no delay allowed. Each test changes a private document root and asks again at once;
each change is repeated a few times, so that a cache that is only sometimes stale fails too.
Ports come from opsutil (8891-8899).
"""
import os
import re
import tempfile
from pathlib import Path
import pytest
from opsutil import AwsProc

ROUNDS = 5


@pytest.fixture
def root():
    with tempfile.TemporaryDirectory(prefix="aws-fcache-") as d:
        r = Path(d)
        (r / "static").mkdir()
        (r / "dynamic").mkdir()
        yield r


def body_of(resp):
    assert resp.status == 200, (resp.status, resp.body[:200])
    return resp.body


def ask(srv, conn, path):
    """The body of path, asked on the keep-alive connection and on a fresh one: both must agree."""
    conn.request("GET", path)
    kept = body_of(conn.read_response())
    fresh = body_of(srv.get(path))
    assert kept == fresh, "keep-alive and new connection disagree for %s" % path
    return kept


@pytest.mark.parametrize("area", ["static", "dynamic"])
def test_rewritten_in_place(root, area):
    f = root / area / "a.txt"
    f.write_bytes(b"version 0\n")
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        for i in range(1, ROUNDS + 1):
            assert ask(srv, c, "/%s/a.txt" % area) == b"version %d\n" % (i - 1)
            with open(f, "r+b") as fh:  # same inode, same size: only the bytes change
                fh.write(b"version %d\n" % i)
        assert ask(srv, c, "/%s/a.txt" % area) == b"version %d\n" % ROUNDS
        srv.stop()


def test_grown_and_truncated(root):
    f = root / "static" / "g.txt"
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        for i in range(ROUNDS):
            data = b"x" * (100 + 1000 * (i % 2)) + b"%d" % i
            f.write_bytes(data)  # truncates and rewrites: the length changes every time
            c.request("GET", "/static/g.txt")
            r = c.read_response()
            assert r.status == 200 and r.body == data
            assert int(r.header("Content-Length")) == len(data)
        srv.stop()


def test_replaced_by_rename_changes_etag(root):
    f = root / "static" / "r.txt"
    f.write_bytes(b"old\n")
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        tags = set()
        for i in range(ROUNDS):
            c.request("GET", "/static/r.txt")
            r = c.read_response()
            assert r.body == (b"old\n" if i == 0 else b"new %d\n" % (i - 1))
            tags.add(r.header("ETag"))
            tmp = root / "static" / ".r.tmp"
            tmp.write_bytes(b"new %d\n" % i)
            os.replace(tmp, f)  # what editors do on save
        assert len(tags) == ROUNDS, "an ETag survived its file's replacement: %s" % tags
        srv.stop()


def test_removed_then_restored(root):
    f = root / "static" / "d.txt"
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        for i in range(ROUNDS):
            f.write_bytes(b"here %d\n" % i)
            assert ask(srv, c, "/static/d.txt") == b"here %d\n" % i
            f.unlink()
            c.request("GET", "/static/d.txt")
            assert c.read_response().status == 404
            assert srv.get("/static/d.txt").status == 404
        srv.stop()


def test_dynamic_symlink_retargeted_and_target_changed(root):
    (root / "static" / "one.txt").write_bytes(b"one\n")
    (root / "static" / "two.txt").write_bytes(b"two\n")
    link = root / "dynamic" / "l.txt"
    link.symlink_to("../static/one.txt")
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        for i in range(ROUNDS):
            want = "one.txt" if i % 2 == 0 else "two.txt"
            assert ask(srv, c, "/dynamic/l.txt") == (root / "static" / want).read_bytes()
            # The target changes behind the link...
            (root / "static" / want).write_bytes(b"%s %d\n" % (want.encode(), i))
            assert ask(srv, c, "/dynamic/l.txt") == b"%s %d\n" % (want.encode(), i)
            # ... then the link itself is swapped for one to the other file.
            tmp = root / "dynamic" / ".l.tmp"
            tmp.symlink_to("../static/" + ("two.txt" if want == "one.txt" else "one.txt"))
            os.replace(tmp, link)
        srv.stop()


def test_directory_renamed_away(root):
    sub = root / "static" / "sub"
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        for i in range(ROUNDS):
            sub.mkdir()
            (sub / "f.txt").write_bytes(b"in sub %d\n" % i)
            assert ask(srv, c, "/static/sub/f.txt") == b"in sub %d\n" % i
            moved = root / "static" / ("gone%d" % i)
            sub.rename(moved)
            c.request("GET", "/static/sub/f.txt")
            assert c.read_response().status == 404
        srv.stop()


def test_hot_file_is_served_from_the_cache(root):
    """The point of the cache, as the exit summary reports it: after the first request, a hot
    file is not opened again."""
    (root / "static" / "hot.txt").write_bytes(b"hot\n")
    with AwsProc(["-r", root]) as srv:
        c = srv.conn()
        for _ in range(20):
            c.request("GET", "/static/hot.txt")
            assert c.read_response().body == b"hot\n"
        srv.stop()
        lines = [l for l in srv.lines() if "open-file cache" in l]
        assert lines, "no open-file cache line in the exit summary:\n" + srv.stderr_tail()
        m = re.search(r"open-file cache (\d+) hits (\d+) misses", lines[-1])
        assert m and int(m.group(1)) >= 19 and int(m.group(2)) == 1, lines[-1]
