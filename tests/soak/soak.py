"""Helpers for tests/soak/run.sh, one subcommand each (standard library only, run with
/usr/bin/python3):

  mkroot DIR                    the document root: static/ and dynamic/ with 2 KiB, 100 KiB,
                                2 MiB and 16 MiB files of random bytes, and DIR/manifest.json
  sample PID CSV T0             every second until PID is gone: "t,rss_kib,fds" (t from T0)
  client PORT ROOT SECONDS OUT  resets mid-download and byte-exact verification downloads for
                                SECONDS; counters in OUT (JSON); exit 1 on any mismatch
  probe PORT ROOT               one verification download of every file, exit 1 if any is wrong
  stat PID                      prints "RSS_KIB FDS" of PID (nothing once it is gone)
  client-summary OUT            the client's counters, in a few lines
  judge CSV SECONDS             growth verdict on the load-phase samples; last line "FAIL: ..."
                                and exit 1 when RSS or descriptors grew

Every client here talks to 127.0.0.1 only.
"""

import hashlib
import json
import os
import random
import socket
import statistics
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
SIZES = {"2k.bin": 2 * 1024, "100k.bin": 100 * 1024, "2m.bin": 2 * 1024 * 1024,
         "16m.bin": 16 * 1024 * 1024}
BIG = "16m.bin"
RESET_THREADS = 3
VERIFY_PAUSE = 1.0          # seconds between two verification downloads
IO_TIMEOUT = 30.0           # a recv that waits this long means the server stalled
HEAD_MAX = 16 * 1024


def mkroot(root):
    """Writes the files (different random bytes under static/ and dynamic/) and a manifest
    mapping each URL path to its size and sha256."""
    manifest = {}
    for top in ("static", "dynamic"):
        os.makedirs(os.path.join(root, top), exist_ok=True)
        for name, size in SIZES.items():
            data = os.urandom(size)
            with open(os.path.join(root, top, name), "wb") as f:
                f.write(data)
            manifest["/%s/%s" % (top, name)] = {"size": size,
                                                "sha256": hashlib.sha256(data).hexdigest()}
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    return 0


def descriptors(pid):
    """Open descriptors of pid, not counting what an open-file cache legitimately keeps: a
    regular file under static/ or dynamic/ open at most twice (its own path and a symlink's)."""
    d = "/proc/%d/fd" % pid
    n, per_file = 0, {}
    for name in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, name))
        except OSError:
            continue
        if ("/static/" in target or "/dynamic/" in target) and os.path.isfile(target):
            per_file[target] = per_file.get(target, 0) + 1
        else:
            n += 1
    return n + sum(k for k in per_file.values() if k > 2)


def proc_sample(pid):
    """(VmRSS in KiB, open descriptors) of pid, or None once the process is gone or a zombie."""
    try:
        rss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                    return None
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = descriptors(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None
    if rss is None:
        return None
    return rss, fds


def sample(pid, csv_path, t0):
    """Appends one row a second, on a fixed schedule so the rows do not drift; returns when the
    process is gone (or when killed, which is how run.sh normally stops it)."""
    with open(csv_path, "w") as out:
        out.write("t,rss_kib,fds\n")
        out.flush()
        next_at = time.time()
        while True:
            s = proc_sample(pid)
            if s is None:
                return 0
            out.write("%.1f,%d,%d\n" % (time.time() - t0, s[0], s[1]))
            out.flush()
            next_at += 1.0
            time.sleep(max(0.0, next_at - time.time()))


class Stats:
    """Counters shared by the client threads; failures keep their first few messages."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = {"resets": 0, "reset_bytes": 0, "reset_errors": 0,
                  "verifications": 0, "verify_bytes": 0, "verify_failures": 0}
        self.messages = []
        self.notes = 0

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def note(self, msg):
        with self.lock:
            self.notes += 1
            if len(self.messages) < 20:
                self.messages.append(msg)
            elif self.notes > 21:
                return
            elif self.notes == 21:
                msg = "(further problems counted, not shown)"
        sys.stderr.write("soak client: %s\n" % msg)
        sys.stderr.flush()


def connect(port):
    s = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def request(path, close=True):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: aws-soak\r\n%s\r\n"
            % (path, HOST, "Connection: close\r\n" if close else "")).encode()


def read_head(s):
    """Reads up to the blank line; returns (status, headers dict, body bytes already read)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("EOF inside the response head (%d bytes)" % len(buf))
        buf += chunk
        if len(buf) > HEAD_MAX:
            raise ValueError("response head over %d bytes" % HEAD_MAX)
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError("bad status line %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, rest


def verify_one(port, path, want):
    """Downloads path with Connection: close; returns None when status, length, sha256 and the
    close after the body are all right, else what was wrong."""
    s = connect(port)
    try:
        s.sendall(request(path))
        status, headers, body = read_head(s)
        if status != 200:
            return "status %d" % status
        if headers.get("content-length") != str(want["size"]):
            return "Content-Length %r, want %d" % (headers.get("content-length"), want["size"])
        h = hashlib.sha256(body)
        got = len(body)
        buf = bytearray(256 * 1024)
        view = memoryview(buf)
        while got < want["size"]:
            n = s.recv_into(view)
            if n == 0:
                return "EOF after %d of %d body bytes" % (got, want["size"])
            h.update(view[:n])
            got += n
        if got > want["size"]:
            return "%d body bytes, want %d" % (got, want["size"])
        # Connection: close was asked for: after the body there must be nothing but EOF.
        extra = s.recv(1)
        if extra:
            return "bytes after the body"
        if h.hexdigest() != want["sha256"]:
            return "sha256 %s, want %s" % (h.hexdigest(), want["sha256"])
        return None
    finally:
        s.close()


def verifier(port, manifest, deadline, stats, stop):
    """Cycles through every file, one download every VERIFY_PAUSE seconds, until the deadline."""
    paths = sorted(manifest)
    i = 0
    while not stop.is_set() and time.time() < deadline:
        path = paths[i % len(paths)]
        i += 1
        try:
            err = verify_one(port, path, manifest[path])
        except (OSError, ValueError) as e:
            err = "%s: %s" % (type(e).__name__, e)
        stats.add("verifications")
        if err is None:
            stats.add("verify_bytes", manifest[path]["size"])
        else:
            stats.add("verify_failures")
            stats.note("verification of %s failed: %s" % (path, err))
        stop.wait(VERIFY_PAUSE)


def reset_one(port, path, rng, stats):
    """Starts a download of path, reads a random amount (sometimes nothing at all, sometimes
    part of the head, sometimes megabytes) and closes with SO_LINGER {1, 0}: a reset."""
    s = connect(port)
    try:
        s.sendall(request(path, close=False))
        pick = rng.random()
        if pick < 0.25:
            want = 0
        elif pick < 0.5:
            want = rng.randrange(1, 64 * 1024)
        else:
            want = rng.randrange(64 * 1024, SIZES[BIG])
        got = 0
        buf = bytearray(256 * 1024)
        while got < want:
            n = s.recv_into(buf, min(len(buf), want - got))
            if n == 0:
                break
            got += n
        stats.add("reset_bytes", got)
    finally:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    stats.add("resets")


def resetter(port, seed, deadline, stats, stop):
    rng = random.Random(seed)
    paths = ["/static/" + BIG, "/dynamic/" + BIG]
    while not stop.is_set() and time.time() < deadline:
        try:
            reset_one(port, rng.choice(paths), rng, stats)
        except OSError as e:
            stats.add("reset_errors")
            stats.note("reset client: %s: %s" % (type(e).__name__, e))
            stop.wait(0.5)
        stop.wait(rng.uniform(0.0, 0.05))


def client(port, root, seconds, out_path):
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    deadline = time.time() + seconds
    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=verifier, args=(port, manifest, deadline, stats, stop))]
    for i in range(RESET_THREADS):
        threads.append(threading.Thread(target=resetter,
                                        args=(port, os.getpid() * 10 + i, deadline, stats, stop)))
    for t in threads:
        t.daemon = True
        t.start()
    try:
        for t in threads:
            # Bounded: the deadline, then at most one IO_TIMEOUT per blocked call.
            t.join(seconds + 4 * IO_TIMEOUT)
    except KeyboardInterrupt:
        stop.set()
    stop.set()
    result = dict(stats.c)
    result["messages"] = stats.messages
    result["stuck_threads"] = sum(1 for t in threads if t.is_alive())
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
    return 1 if result["verify_failures"] or result["stuck_threads"] else 0


def probe(port, root):
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    bad = 0
    for path in sorted(manifest):
        try:
            err = verify_one(port, path, manifest[path])
        except (OSError, ValueError) as e:
            err = "%s: %s" % (type(e).__name__, e)
        if err is not None:
            print("soak: probe: %s: %s" % (path, err))
            bad += 1
    return 1 if bad else 0


def client_summary(out_path):
    with open(out_path) as f:
        r = json.load(f)
    print("verifications: %d downloads, %d failed, %.1f MiB checked byte for byte"
          % (r["verifications"], r["verify_failures"], r["verify_bytes"] / 1048576.0))
    print("resets: %d mid-download resets (%.1f MiB read first), %d client errors"
          % (r["resets"], r["reset_bytes"] / 1048576.0, r["reset_errors"]))
    if r["stuck_threads"]:
        print("client: %d threads still blocked at the end" % r["stuck_threads"])
    for m in r["messages"][:5]:
        print("client: " + m)
    return 0


def read_csv(csv_path):
    rows = []
    with open(csv_path) as f:
        next(f)
        for line in f:
            t, rss, fds = line.strip().split(",")
            rows.append((float(t), int(rss), int(fds)))
    return rows


def judge(csv_path, seconds):
    """Compares the median of the last 20% of the load-phase samples with the median of the
    samples 10%-30% into the run (after warm-up). RSS may grow by 20% + 4 MiB, descriptors by
    10% + 20."""
    rows = [r for r in read_csv(csv_path) if 0.0 <= r[0] < seconds]
    n = len(rows)
    print("samples: %d during the load (%s)" % (n, csv_path))
    if n < 10:
        print("FAIL: only %d samples during the load" % n)
        return 1
    warm = rows[int(n * 0.1):max(int(n * 0.3), int(n * 0.1) + 1)]
    late = rows[int(n * 0.8):]
    reasons = []
    for col, name, unit, limit in ((1, "rss", "KiB", lambda m: m * 1.2 + 4096),
                                   (2, "fds", "", lambda m: m * 1.1 + 20)):
        w = statistics.median(r[col] for r in warm)
        l = statistics.median(r[col] for r in late)
        peak = max(r[col] for r in rows)
        print("%s%s: first %d, warm median %g, late median %g, peak %d, limit %g"
              % (name, " " + unit if unit else "", rows[0][col], w, l, peak, limit(w)))
        if l > limit(w):
            reasons.append("%s grew from %g to %g%s (limit %g)"
                           % (name, w, l, " " + unit if unit else "", limit(w)))
    if reasons:
        print("FAIL: " + "; ".join(reasons))
        return 1
    return 0


def main(argv):
    usage = __doc__.split("\n\n")[0]
    if len(argv) < 2:
        sys.stderr.write(usage + "\n")
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "mkroot" and len(args) == 1:
        return mkroot(args[0])
    if cmd == "sample" and len(args) == 3:
        return sample(int(args[0]), args[1], float(args[2]))
    if cmd == "client" and len(args) == 4:
        return client(int(args[0]), args[1], float(args[2]), args[3])
    if cmd == "probe" and len(args) == 2:
        return probe(int(args[0]), args[1])
    if cmd == "stat" and len(args) == 1:
        st = proc_sample(int(args[0]))
        if st is not None:
            print("%d %d" % st)
        return 0
    if cmd == "client-summary" and len(args) == 1:
        return client_summary(args[0])
    if cmd == "judge" and len(args) == 2:
        return judge(args[0], float(args[1]))
    sys.stderr.write("soak.py: bad arguments: %s\n" % " ".join(argv[1:]))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
