#!/usr/bin/python3
"""Benchmark orchestrator for aws (started by bench/run.sh, which installs packages, raises the
descriptor limit, makes the temporary folder and cleans up after us; see bench/README.md).
It generates a docroot, starts aws and each installed peer by hand on loopback ports, checks their
bytes, runs the scenarios in interleaved rounds and writes the tables to bench/results/.
Usage: bench.py TMPDIR. Knobs are environment variables (BENCH_*), listed in README.md."""

import csv
import json
import mmap
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import clients

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
RESULTS = os.path.join(BENCH_DIR, "results")
WRK_LUA = os.path.join(BENCH_DIR, "conf", "wrk-report.lua")

KIB = 1024
MIB = 1024 * 1024
DYN_BLOCK = 512 * 1024  # aws's DYN_BLOCK_BYTES
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0   # every server process runs here (taskset -c 0)
CLIENT_CPU = 1   # wrk, the Python clients and this script run here


def env_int(name, default):
    """The integer value of environment variable name, or default when unset or empty."""
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


QUICK = os.environ.get("BENCH_QUICK", "") == "1"
ROUNDS = env_int("BENCH_ROUNDS", 1 if QUICK else 3)
SECONDS = env_int("BENCH_SECONDS", 2 if QUICK else 5)
IDLE_CONNS = env_int("BENCH_IDLE_CONNS", 1000 if QUICK else 10000)
PORT_BASE = env_int("BENCH_PORT_BASE", 18081)
BIG_MIB = env_int("BENCH_BIG_MIB", 32 if QUICK else 256)
# Descriptor limit (run.sh raised it as far as it may) and the connection cap every server gets.
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
MAXCONN = max(1024, min(IDLE_CONNS + 1000, NOFILE - 100))

# name -> size; the same files are generated under static/ and dynamic/.
FILES = {"2k": 2 * KIB, "100k": 100 * KIB, "2m": 2 * MIB, "big": BIG_MIB * MIB}


def file_name(key):
    """The on-disk name of a generated file: 2k.bin, 100k.bin, 2m.bin, 256m.bin."""
    return f"{BIG_MIB}m.bin" if key == "big" else f"{key}.bin"


# Each scenario: id, what it measures, how (wrk, stream, idle, cold) and on which file.
SCENARIOS = [
    dict(id="a", title="2 KiB, keep-alive, 64 conns", kind="wrk", file="2k", conns=64),
    dict(id="b", title="2 KiB, Connection: close, 64 conns", kind="wrk", file="2k", conns=64,
         close=True),
    dict(id="c", title="100 KiB, keep-alive, 64 conns", kind="wrk", file="100k", conns=64),
    dict(id="d", title="2 MiB, keep-alive, 16 conns", kind="wrk", file="2m", conns=16),
    dict(id="e", title=f"{BIG_MIB} MiB, 1 conn, 1 MiB reads", kind="stream", file="big"),
    dict(id="f", title=f"{IDLE_CONNS} idle keep-alive conns (2 KiB each)", kind="idle",
         file="2k"),
    dict(id="g", title=f"{BIG_MIB} MiB, 1 conn, page cache evicted before each request",
         kind="cold", file="big"),
]

LOOP_RE = re.compile(r"longest loop iteration (\d+) us")


def log(msg):
    """Progress on stderr, so stdout stays for the final table."""
    print(msg, file=sys.stderr, flush=True)


def fill_template(name, values):
    """bench/conf/NAME with every @KEY@ replaced by values[KEY]."""
    with open(os.path.join(BENCH_DIR, "conf", name)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    leftover = re.search(r"@[A-Z]+@", text)
    if leftover:
        raise ValueError(f"{name}: {leftover.group(0)} not filled in")
    return text


def port_open(port):
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """One server under test, started by hand in its own session (process group) on CPU 0.
    The process group is what we measure: master and workers, every thread.
    only: the scenario ids it takes part in (None: all). peer: whether it counts as one of
    aws's peers in the targets (aws and the floor do not)."""

    def __init__(self, name, port, binary, paths, sendfile, tmp, docroot, conf=None, subs=None,
                 only=None, peer=True):
        self.name, self.port, self.binary = name, port, binary
        self.paths, self.sendfile, self.conf, self.subs = paths, sendfile, conf, subs or {}
        self.only, self.peer = only, peer
        self.dir = os.path.join(tmp, "servers", name)
        self.docroot, self.tmp = docroot, tmp
        self.proc = None
        self.status = "installed" if os.access(binary, os.X_OK) else "not installed"
        self.version = ""
        self.loop_us = []   # aws only: (scenarios, longest loop iteration) of each lifetime
        self.served = []    # scenario ids this process has served since it started

    def aws_argv(self):
        """aws's command line: one loop, loopback, the peers' keep-alive, its own error log."""
        return [self.binary, "-p", str(self.port), "-b", "127.0.0.1", "-r", self.docroot,
                "-w", "1", "--keepalive-timeout", "120", "--max-connections", str(MAXCONN),
                "--error-log", os.path.join(self.dir, "error.log")]

    def argv(self):
        """The command line, writing the filled-in config first where there is one."""
        log_file = os.path.join(self.dir, "error.log")
        if self.name == "aws":
            return self.aws_argv()
        if self.name == "floor":
            return [self.binary, str(self.port), os.path.join(self.docroot, "static", "2k.bin")]
        conf_path = os.path.join(self.dir, os.path.basename(self.conf))
        values = dict(PORT=self.port, DOCROOT=os.path.join(self.docroot, ""), TMP=self.dir,
                      NOFILE=NOFILE, MAXCONN=MAXCONN)
        values.update(self.subs)
        with open(conf_path, "w") as f:
            f.write(fill_template(self.conf, values))
        if self.name.startswith("nginx"):
            return [self.binary, "-p", self.dir, "-e", log_file, "-c", conf_path]
        if self.name == "lighttpd":
            return [self.binary, "-D", "-f", conf_path]
        return [self.binary, "-c", conf_path]

    def start(self):
        """Starts the server and waits until it accepts; sets status and returns success."""
        os.makedirs(self.dir, exist_ok=True)
        if port_open(self.port):
            self.status = f"port {self.port} already in use"
            return False
        out = open(os.path.join(self.dir, "output.log"), "ab")
        self.proc = subprocess.Popen(["taskset", "-c", str(SERVER_CPU)] + self.argv(),
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     cwd=self.dir, start_new_session=True)
        out.close()
        # run.sh's EXIT trap ends every group listed here, should we die without cleaning up.
        with open(os.path.join(self.tmp, "pgids"), "a") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if port_open(self.port):
                self.status = "running"
                return True
            time.sleep(0.05)
        self.stop()
        self.status = "failed to start: " + self.log_tail()
        return False

    def takes_part(self, sc):
        return self.only is None or sc["id"] in self.only

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM to the whole group, SIGKILL after 10 s; records aws's exit summary."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log(f"{self.name}: no exit 10 s after SIGTERM, killing")
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # Workers of a master that is gone can linger for a moment.
        for _ in range(50):
            if not self.pids():
                break
            time.sleep(0.1)
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)
        self.proc = None
        if self.name == "aws":
            found = LOOP_RE.findall(self.read_log())
            if found:
                self.loop_us.append((",".join(self.served), int(found[-1])))
        self.served = []

    def read_log(self):
        text = ""
        for name in ("error.log", "output.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text

    def log_tail(self):
        lines = [l for l in self.read_log().splitlines() if l.strip()]
        return " | ".join(lines[-3:]) or "no output"

    def pids(self):
        """Every live process in the server's process group (master and workers)."""
        if self.proc is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[2]) == self.proc.pid:   # field 5, pgrp
                found.append(int(entry))
        return found

    def cpu_seconds(self):
        """utime + stime of the group. /proc/PID/stat already sums all threads of a process."""
        ticks = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            ticks += int(fields[11]) + int(fields[12])   # fields 14 and 15: utime, stime
        return ticks / CLK_TCK

    def rss_kib(self):
        """VmRSS summed over the group, in KiB."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total


def make_servers(tmp, docroot):
    """aws and its peers, in the order each round visits them."""
    aws = os.path.join(REPO, "aws")
    p = PORT_BASE
    return [
        Server("aws", p, aws, ["static", "dynamic"], True, tmp, docroot, peer=False),
        Server("nginx", p + 1, "/usr/sbin/nginx", ["static"], True, tmp, docroot,
               "nginx.conf", {"SENDFILE": "on"}),
        Server("lighttpd", p + 2, "/usr/sbin/lighttpd", ["static"], True, tmp, docroot,
               "lighttpd.conf"),
        Server("h2o", p + 3, "/usr/bin/h2o", ["static"], False, tmp, docroot, "h2o.conf"),
        Server("nginx-nosendfile", p + 4, "/usr/sbin/nginx", ["static"], False, tmp, docroot,
               "nginx.conf", {"SENDFILE": "off"}, only=("d", "e", "g")),
        Server("floor", p + 5, os.path.join(REPO, "build", "floor"), ["static"], True, tmp,
               docroot, only=("a", "b"), peer=False),
    ]


def server_version(server):
    """One line naming the server's version, for the report."""
    argv = [server.binary, "--version" if server.name == "aws" else "-v"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    lines = (r.stdout + r.stderr).strip().splitlines()
    return lines[0] if lines else ""


def generate_docroot(docroot):
    """Writes the same random files under static/ and dynamic/, then syncs them to disk
    (so that eviction in scenario g really empties the cache and no writeback runs later)."""
    for sub in ("static", "dynamic"):
        os.makedirs(os.path.join(docroot, sub), exist_ok=True)
    for key, size in FILES.items():
        paths = [os.path.join(docroot, sub, file_name(key)) for sub in ("static", "dynamic")]
        outs = [open(p, "wb") for p in paths]
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MIB))
            for out in outs:
                out.write(chunk)
            left -= len(chunk)
        for out in outs:
            out.close()
    os.sync()


def verify(server):
    """curl every file the server's scenarios use and cmp it with the file; returns a list of
    problems."""
    problems = []
    keys = {sc["file"] for sc in SCENARIOS if server.takes_part(sc)}
    for path in server.paths:
        for key in sorted(keys):
            local = os.path.join(server.docroot, path, file_name(key))
            url = f"http://127.0.0.1:{server.port}/{path}/{file_name(key)}"
            curl = subprocess.Popen(["curl", "-sS", "--fail", "--max-time", "120", url],
                                    stdout=subprocess.PIPE)
            cmp = subprocess.run(["cmp", "-s", "-", local], stdin=curl.stdout)
            curl.stdout.close()
            if curl.wait() != 0 or cmp.returncode != 0:
                problems.append(f"/{path}/{file_name(key)} differs from the file")
    return problems


def cpu0_busy_seconds():
    """Time CPU 0 spent in user, nice and system mode (irq and softirq left out: on loopback they
    are the servers' own network work), from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{SERVER_CPU} "):
                user, nice, system = (int(v) for v in line.split()[1:4])
                return (user + nice + system) / CLK_TCK
    return 0.0


class CpuMeter:
    """The server's CPU time over a run, and what the rest of the machine took of CPU 0 meanwhile
    (anything above a few % means the run was disturbed)."""

    def __init__(self, server):
        self.server = server
        self.cpu0 = server.cpu_seconds()
        self.busy0 = cpu0_busy_seconds()
        self.t0 = time.monotonic()

    def finish(self):
        """Returns (server CPU seconds, server % of wall time, others' % of CPU 0)."""
        cpu = self.server.cpu_seconds() - self.cpu0
        busy = cpu0_busy_seconds() - self.busy0
        wall = time.monotonic() - self.t0
        return cpu, 100 * cpu / wall, max(0.0, 100 * (busy - cpu) / wall)


def run_wrk(server, path, sc):
    """One wrk run; returns the measurements of it."""
    url = f"http://127.0.0.1:{server.port}/{path}/{file_name(sc['file'])}"
    argv = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{sc['conns']}",
            f"-d{SECONDS}s", "--latency", "--timeout", "10s", "-s", WRK_LUA]
    if sc.get("close"):
        argv += ["-H", "Connection: close"]
    argv.append(url)
    meter = CpuMeter(server)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS + 60)
    cpu, server_pct, others_pct = meter.finish()
    line = [l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON ")]
    if r.returncode != 0 or not line:
        raise RuntimeError(f"wrk failed: {r.stderr.strip() or r.stdout.strip()}")
    w = json.loads(line[0][len("BENCH_JSON "):])
    secs = w["duration_us"] / 1e6
    errors = sum(v for k, v in w.items() if k.startswith("err_"))
    return dict(requests=w["requests"], seconds=secs, req_s=w["requests"] / secs,
                mib_s=w["bytes"] / secs / MIB, p99_ms=w["p99_us"] / 1000, cpu_s=cpu,
                cpu_us_req=cpu / w["requests"] * 1e6 if w["requests"] else None,
                server_pct=server_pct, others_pct=others_pct, errors=errors)


def run_stream(server, path, sc, evict=False):
    """One large-file run with the 1 MiB-block client; CPU per request is per whole file
    (CPU time divided by bytes/file size, as the last request is usually cut short)."""
    local = os.path.join(server.docroot, path, file_name(sc["file"]))
    meter = CpuMeter(server)
    r = clients.stream(server.port, f"/{path}/{file_name(sc['file'])}", SECONDS,
                       evict=local if evict else None)
    cpu, server_pct, others_pct = meter.finish()
    files = r["bytes"] / FILES[sc["file"]]
    return dict(requests=r["requests"], seconds=r["seconds"], req_s=files / r["seconds"],
                mib_s=r["bytes"] / r["seconds"] / MIB, p99_ms=None, cpu_s=cpu,
                cpu_us_req=cpu / files * 1e6 if files else None,
                server_pct=server_pct, others_pct=others_pct, errors=0)


def run_idle(server, path, sc):
    """Opens IDLE_CONNS keep-alive connections (one request each) and measures the RSS they add.
    The server is fresh (see run_one); one connection first warms up its first-use allocations."""
    url_path = f"/{path}/{file_name(sc['file'])}"
    for s in clients.open_idle(server.port, url_path, 1):
        s.close()
    time.sleep(0.5)
    before = server.rss_kib()
    socks = clients.open_idle(server.port, url_path, IDLE_CONNS)
    time.sleep(1)   # let the server settle after the last response
    after = server.rss_kib()
    for s in socks:
        s.close()
    time.sleep(1)   # let the server close its side before the next run
    n = len(socks)
    return dict(requests=n, seconds=None, req_s=None, mib_s=None, p99_ms=None, cpu_s=None,
                cpu_us_req=None, errors=IDLE_CONNS - n,
                rss_before_kib=before, rss_after_kib=after,
                kib_per_conn=(after - before) / n if n else None)


def warm(local):
    """Reads a file once so the page cache holds it: the hot scenarios must not depend on
    whether g (cold) ran just before. A server that reads with O_DIRECT on a miss never
    re-caches a file by itself, while a buffered reader would warm it during its own run."""
    with open(local, "rb") as f:
        while f.read(8 * MIB):
            pass


def run_one(server, path, sc):
    """Runs one measurement of scenario sc on server/path, starting the server if needed."""
    if sc["kind"] == "idle" or (sc["kind"] == "cold" and server.name == "aws"):
        # A fresh process per run: in f so that memory kept from earlier connections (free
        # lists, pools) does not hide the cost of new ones; in g so that aws's exit summary
        # gives the longest loop iteration of this run alone.
        server.stop()
    if not server.running() and not server.start():
        raise RuntimeError(server.status)
    if sc["id"] not in server.served:
        server.served.append(sc["id"])
    if sc["kind"] in ("wrk", "stream"):
        warm(os.path.join(server.docroot, path, file_name(sc["file"])))
    if sc["kind"] == "wrk":
        res = run_wrk(server, path, sc)
    elif sc["kind"] == "stream":
        res = run_stream(server, path, sc)
    elif sc["kind"] == "cold":
        res = run_stream(server, path, sc, evict=True)
    else:
        res = run_idle(server, path, sc)
    if sc["kind"] == "cold" and server.name == "aws":
        server.stop()
        res["loop_us"] = server.loop_us[-1][1] if server.loop_us else None
    return res


def targets_for(sc, servers):
    """The (server, path) pairs a scenario measures, in round order."""
    out = []
    for s in servers:
        if s.status != "running":
            continue
        if not s.takes_part(sc):
            continue
        out.extend((s, p) for p in s.paths)
    return out


def label(server_name, path):
    return f"{server_name} /{path}"


def stats(values):
    """(median, min, max) of the values that are not None, or None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(st, digits=1):
    """'median [min–max]' for a stats() triple, '–' for nothing."""
    if st is None:
        return "–"
    med, lo, hi = (f"{v:.{digits}f}" for v in st)
    return med if lo == hi else f"{med} [{lo}–{hi}]"


def summarize(runs):
    """Groups runs by (scenario, target): {(sid, label): {metric: stats}}."""
    groups = {}
    for r in runs:
        groups.setdefault((r["scenario"], r["target"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        out[key] = {m: stats([r.get(m) for r in rs])
                    for m in ("req_s", "mib_s", "p99_ms", "cpu_us_req", "kib_per_conn",
                              "loop_us", "errors", "server_pct", "others_pct")}
        out[key]["server"] = rs[0]["server"]
        out[key]["path"] = rs[0]["path"]
    return out


def results_table(summary, target_order):
    """The markdown table: one row per scenario and server."""
    rows = ["| scenario | server | CPU µs/request | req/s | MiB/s | p99 ms | CPU 0 % server/others "
            "| other |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for sc in SCENARIOS:
        for t in target_order:
            m = summary.get((sc["id"], t))
            if m is None:
                continue
            other = []
            if m["kib_per_conn"]:
                other.append(f"RSS {fmt(m['kib_per_conn'], 2)} KiB/conn")
            if m["loop_us"]:
                what = "longest stall" if t == BUSY_LOOP else "longest loop iteration"
                other.append(f"{what} {fmt(m['loop_us'], 0)} µs")
            if m["errors"] and m["errors"][2]:
                other.append(f"errors {fmt(m['errors'], 0)}")
            req_digits = 2 if sc["kind"] in ("stream", "cold") else 0
            cpu0 = "–"
            if m["server_pct"]:
                cpu0 = f"{m['server_pct'][0]:.0f} / {m['others_pct'][0]:.0f}"
            rows.append(f"| {sc['id']}: {sc['title']} | {t} | {fmt(m['cpu_us_req'])} | "
                        f"{fmt(m['req_s'], req_digits)} | {fmt(m['mib_s'])} | "
                        f"{fmt(m['p99_ms'], 2)} | {cpu0} | {'; '.join(other)} |")
    return "\n".join(rows)


def med(summary, sid, target, metric):
    m = summary.get((sid, target))
    return m[metric][0] if m and m[metric] else None


def worst(summary, sid, target, metric):
    """The largest value over rounds (the max of stats()), or None."""
    m = summary.get((sid, target))
    return m[metric][2] if m and m[metric] else None


def best(summary, sid, targets, metric, lowest):
    """(value, target) of the best median among targets, or (None, None)."""
    found = [(med(summary, sid, t, metric), t) for t in targets]
    found = [f for f in found if f[0] is not None]
    if not found:
        return None, None
    return (min if lowest else max)(found)


def verdict(value, ok):
    """PASS or FAIL against a target; ok None marks a row shown for information only."""
    if value is None:
        return "n/a"
    if ok is None:
        return "–"
    return "PASS" if ok(value) else "FAIL"


def peer_labels(servers):
    """The /static labels of those servers aws is compared with (the floor is not one of them)."""
    return [label(s.name, "static") for s in servers if s.peer]


def ratios_table(summary, servers, spin_gap_us):
    """The issue's targets, each as a ratio with PASS/FAIL."""
    peers = peer_labels(servers)
    sendfile_peers = peer_labels(s for s in servers if s.sendfile)
    rows = ["| scenario | measure | value | target | verdict |", "|---|---|---:|---|---|"]

    def row(sid, measure, value, target, ok, digits=2):
        shown = "–" if value is None else f"{value:.{digits}f}"
        rows.append(f"| {sid} | {measure} | {shown} | {target} | {verdict(value, ok)} |")

    for sc in SCENARIOS:
        sid = sc["id"]
        if not any(k[0] == sid for k in summary):
            continue
        if sc["kind"] in ("wrk", "stream", "cold"):
            a_st = med(summary, sid, "aws /static", "cpu_us_req")
            a_dy = med(summary, sid, "aws /dynamic", "cpu_us_req")
            b, bt = best(summary, sid, [p for p in peers if "nosendfile" not in p],
                         "cpu_us_req", lowest=True)
            strict = sid in ("a", "b", "c")
            row(sid, f"aws /static CPU/req ÷ best peer ({bt})",
                a_st / b if a_st and b else None, "≤ 0.9" if strict else "(info)",
                (lambda v: v <= 0.9) if strict else None)
            row(sid, "aws /dynamic CPU/req ÷ aws /static CPU/req",
                a_dy / a_st if a_dy and a_st else None, "≤ 1.3" if strict else "(info)",
                (lambda v: v <= 1.3) if strict else None)
            fl = med(summary, sid, "floor /static", "cpu_us_req")
            if fl:
                row(sid, f"floor (recv, send, sendfile only) CPU/req ÷ best peer ({bt})",
                    fl / b if b else None, "(info)", None)
                row(sid, "aws /static CPU/req ÷ floor CPU/req",
                    a_st / fl if a_st else None, "(info)", None)
        if sid in ("d", "e"):
            a_st = med(summary, sid, "aws /static", "mib_s")
            a_dy = med(summary, sid, "aws /dynamic", "mib_s")
            b, bt = best(summary, sid, sendfile_peers, "mib_s", lowest=False)
            ns = med(summary, sid, "nginx-nosendfile /static", "mib_s")
            row(sid, f"aws /static MiB/s ÷ best sendfile peer ({bt})",
                a_st / b if a_st and b else None, "≥ 1.0", lambda v: v >= 1.0)
            row(sid, "aws /dynamic MiB/s ÷ nginx-nosendfile MiB/s",
                a_dy / ns if a_dy and ns else None, "≥ 1.0", lambda v: v >= 1.0)
        if sc["kind"] == "idle":
            for path in ("static", "dynamic"):
                row(sid, f"aws RSS KiB per idle conn (after a /{path} response)",
                    med(summary, sid, f"aws /{path}", "kib_per_conn"), "≤ 0.5",
                    lambda v: v <= 0.5)
            b, bt = best(summary, sid, peers, "kib_per_conn", lowest=True)
            row(sid, f"best peer RSS KiB per idle conn ({bt})", b, "(info)", None)
        if sc["kind"] == "cold":
            row(sid, "aws /dynamic longest loop iteration, worst run (µs)",
                worst(summary, sid, "aws /dynamic", "loop_us"), "≤ 2000",
                lambda v: v <= 2000, digits=0)
            row(sid, "aws /dynamic longest loop iteration, median run (µs)",
                med(summary, sid, "aws /dynamic", "loop_us"), "≤ 2000",
                lambda v: v <= 2000, digits=0)
            row(sid, f"{BUSY_LOOP}, same file read cold, same rounds: longest stall, median run "
                "(µs; the machine's own stalls)", med(summary, sid, BUSY_LOOP, "loop_us"),
                "(info)", None, digits=0)
            row(sid, f"{BUSY_LOOP}: longest stall, worst run (µs)",
                worst(summary, sid, BUSY_LOOP, "loop_us"), "(info)", None, digits=0)
            row(sid, "longest stall of a busy loop on idle CPU 0 before the runs (µs)",
                spin_gap_us, "(info)", None, digits=0)
            a_dy = med(summary, sid, "aws /dynamic", "mib_s")
            b, bt = best(summary, sid, peers, "mib_s", lowest=False)
            row(sid, f"aws /dynamic MiB/s ÷ best peer ({bt})",
                a_dy / b if a_dy and b else None, "(info)", None)
    return "\n".join(rows)


def write_chart(summary, target_order, peers, stem):
    """With gnuplot installed, a PNG of CPU per request relative to the best peer per scenario;
    returns the PNG path or None. Without gnuplot: nothing, silently."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return None
    sids = [sc["id"] for sc in SCENARIOS if sc["kind"] != "idle"
            and any(k[0] == sc["id"] for k in summary)]
    if not sids:
        return None
    data, png, script = stem + "-chart.dat", stem + ".png", stem + "-chart.gp"
    with open(data, "w") as f:
        f.write("scenario " + " ".join(f'"{t}"' for t in target_order) + "\n")
        for sid in sids:
            b, _ = best(summary, sid, peers, "cpu_us_req", lowest=True)
            cells = []
            for t in target_order:
                v = med(summary, sid, t, "cpu_us_req")
                cells.append(f"{v / b:.3f}" if v and b else "-")
            f.write(f'"{sid}" ' + " ".join(cells) + "\n")
    with open(script, "w") as f:
        f.write(f"""set terminal png size 1100,550
set output '{png}'
set title 'Server CPU time per request relative to the best peer (lower is better; 1 = best peer)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set datafile missing '-'
set ylabel 'CPU per request / best peer'
set xlabel 'scenario (see latest.md)'
set yrange [0:*]
set grid ytics
set key outside right top
plot for [i=2:{len(target_order) + 1}] '{data}' using i:xtic(1) title columnheader(i)
""")
    r = subprocess.run([gnuplot, script], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(png):
        log(f"gnuplot failed, no chart: {r.stderr.strip()}")
        return None
    return png


SPIN = """
import time
end = time.perf_counter_ns() + int(float(__import__('sys').argv[1]) * 1e9)
last = time.perf_counter_ns(); worst = 0
while last < end:
    t = time.perf_counter_ns(); worst = max(worst, t - last); last = t
print(worst // 1000)
"""


def spin_gap_us(seconds, meanwhile=None):
    """The longest time a busy loop on the server's CPU goes without running: what the
    machine (interrupts, the hypervisor) takes away. No server's loop iteration can be
    measured below it, so g's 2 ms target is read against it. meanwhile(), if given, runs in
    this process (on the client's CPU) while the loop spins."""
    spin = subprocess.Popen(["taskset", "-c", str(SERVER_CPU), "/usr/bin/python3", "-c", SPIN,
                             str(seconds)], stdout=subprocess.PIPE, text=True)
    if meanwhile:
        meanwhile()
    out, _ = spin.communicate(timeout=seconds + 30)
    try:
        return int(out.strip())
    except ValueError:
        return None


BUSY_LOOP = "busy loop, no server"


def cold_busy_loop(local, seconds):
    """g's yardstick, measured in each round: the longest stall of a busy loop on the server's
    CPU while this process (on the client's CPU) reads the same file cold, dropping its cache
    before each pass, for as long as a server's run lasts. The stalls of this virtual machine
    come and go (0.15-4 ms seen idle), so only a floor taken in the same round and under the
    same disk load tells aws's own share apart. The file is read as aws /dynamic reads it cold:
    O_DIRECT, in blocks of aws's size."""
    got, start = 0, time.monotonic()

    def read_cold():
        nonlocal got
        buf = mmap.mmap(-1, DYN_BLOCK)  # page-aligned, as O_DIRECT wants
        while time.monotonic() - start < seconds:
            clients.drop_cache(local)
            fd = os.open(local, os.O_RDONLY | os.O_DIRECT)
            try:
                while time.monotonic() - start < seconds:
                    n = os.readv(fd, [buf])
                    if n <= 0:
                        break
                    got += n
            finally:
                os.close(fd)
        buf.close()

    gap = spin_gap_us(seconds, read_cold)
    took = time.monotonic() - start
    return dict(requests=0, seconds=took, req_s=None, mib_s=got / took / MIB, p99_ms=None,
                cpu_s=None, cpu_us_req=None, errors=0, loop_us=gap)


def tcp_congestion_control():
    """The kernel's default TCP congestion control. It decides the large-file figures more than
    any server does: bbr paces every socket, even on loopback. On one machine it moved 2 MiB and
    256 MiB files at 0.3-0.7 times cubic's speed, for aws and lighttpd alike (bench/README.md)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def environment(servers):
    """Facts that make a result comparable to another: machine, versions, knobs."""
    try:
        rev = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return dict(date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), kernel=platform.release(),
                cpu=cpu, cpus=os.cpu_count(), tcp_cc=tcp_congestion_control(),
                load_at_start=os.getloadavg(), aws_rev=rev,
                spin_gap_us=spin_gap_us(SECONDS),
                quick=QUICK, rounds=ROUNDS, seconds=SECONDS, idle_conns=IDLE_CONNS,
                big_mib=BIG_MIB, servers={s.name: dict(status=s.status, version=s.version,
                                                       port=s.port) for s in servers})


README = os.path.join(REPO, "README.md")
README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"


def update_readme(env, targets, png):
    """Puts the targets table of a full run (and the chart) between the README's bench markers,
    so the README always shows the latest measured figures. Quick runs leave it alone."""
    try:
        with open(README) as f:
            text = f.read()
    except OSError:
        return
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        log("README has no bench markers; not updated")
        return
    body = [README_BEGIN, "",
            f"Latest `make bench` ({env['date']}, aws {env['aws_rev']}, {env['cpus']} CPUs, "
            f"TCP congestion control {env['tcp_cc']}, "
            f"{ROUNDS} rounds of {SECONDS} s; full tables in "
            "[bench/results/latest.md](bench/results/latest.md)):", "", targets, ""]
    if png:
        body += ["![CPU per request relative to the best peer](bench/results/latest.png)", ""]
    text = text[:a] + "\n".join(body) + text[b:]
    with open(README, "w") as f:
        f.write(text)
    log("README.md: bench section updated")


def report(runs, servers, env, aws_lifetimes):
    """Prints the tables and writes bench/results/<timestamp>.{md,json,csv}, latest.md (and a PNG
    with gnuplot)."""
    target_order = []
    for s in servers:
        for p in s.paths:
            target_order.append(label(s.name, p))
    summary = summarize(runs)
    os.makedirs(RESULTS, exist_ok=True)
    stem = os.path.join(RESULTS, time.strftime("%Y%m%d-%H%M%S") + ("-quick" if QUICK else ""))
    png = write_chart(summary, target_order, peer_labels(servers), stem)

    targets = ratios_table(summary, servers, env["spin_gap_us"])
    lines = [f"# aws benchmark, {env['date']}", "",
             f"aws {env['aws_rev']}, kernel {env['kernel']}, {env['cpu']} ({env['cpus']} CPUs), "
             f"TCP congestion control {env['tcp_cc']}, "
             f"load average {env['load_at_start'][0]:.2f} at start, "
             f"{os.getloadavg()[0]:.2f} at end. "
             f"{ROUNDS} round(s) of {SECONDS} s runs{' (BENCH_QUICK)' if QUICK else ''}; "
             "servers pinned to CPU 0, clients to CPU 1. Cells: median [min–max] over rounds. "
             f"A busy loop alone on CPU 0 went up to {env['spin_gap_us']} µs without running "
             "(the machine's own stalls).",
             "", "## Servers", "", "| server | port | status | version |", "|---|---|---|---|"]
    for s in servers:
        lines.append(f"| {s.name} | {s.port} | {env['servers'][s.name]['status']} | "
                     f"{s.version} |")
    lines += ["", "## Results", "", results_table(summary, target_order + [BUSY_LOOP]), "",
              "## Targets (ratios of medians)", "", targets, ""]
    if aws_lifetimes:
        shown = "; ".join(f"{scen}: {us} µs" for scen, us in aws_lifetimes)
        lines += [f"aws's longest loop iteration per process outside g (scenarios it served: "
                  f"longest): {shown}.", ""]
    if png:
        lines += [f"![CPU per request relative to the best peer]({os.path.basename(png)})", ""]
    text = "\n".join(lines)
    print(text)

    with open(stem + ".md", "w") as f:
        f.write(text)
    latest = text
    if png:
        shutil.copyfile(png, os.path.join(RESULTS, "latest.png"))
        latest = text.replace(f"]({os.path.basename(png)})", "](latest.png)")
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(latest)
    if not QUICK:
        update_readme(env, targets, png)
    with open(stem + ".json", "w") as f:
        json.dump(dict(environment=env, runs=runs, aws_loop_us_per_lifetime=aws_lifetimes), f,
                  indent=1)
    fields = ["scenario", "round", "target", "server", "path", "requests", "seconds", "req_s",
              "mib_s", "p99_ms", "cpu_s", "cpu_us_req", "server_pct", "others_pct", "errors",
              "rss_before_kib",
              "rss_after_kib", "kib_per_conn", "loop_us"]
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(runs)
    log(f"results: {stem}.md (.json, .csv{', .png' if png else ''}) and {RESULTS}/latest.md")


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench.py TMPDIR (run bench/run.sh instead)")
    tmp = sys.argv[1]
    signal.signal(signal.SIGTERM, on_sigterm)
    os.sched_setaffinity(0, {CLIENT_CPU})
    raise_fd_limit(IDLE_CONNS + 1024)
    wanted = os.environ.get("BENCH_SCENARIOS", "")
    if wanted:
        SCENARIOS[:] = [sc for sc in SCENARIOS if sc["id"] in wanted.split(",")]
    elif QUICK:
        SCENARIOS[:] = [sc for sc in SCENARIOS if sc["id"] != "c"]

    docroot = os.path.join(tmp, "docroot")
    log(f"generating {docroot} ({', '.join(file_name(k) for k in FILES)})")
    generate_docroot(docroot)
    servers = make_servers(tmp, docroot)
    only = os.environ.get("BENCH_SERVERS", "")
    if only:
        servers = [s for s in servers if s.name in only.split(",")]
    runs = []
    try:
        for s in servers:
            if s.status != "installed":
                log(f"{s.name}: {s.status}")
                continue
            s.version = server_version(s)
            if not s.start():
                log(f"{s.name}: {s.status}")
                continue
            problems = verify(s)
            if problems:
                s.status = "wrong bytes: " + "; ".join(problems)
                log(f"{s.name}: {s.status}")
                s.stop()
                continue
            log(f"{s.name}: running on port {s.port}, bytes checked ({s.version})")
        if not any(s.name == "aws" and s.status == "running" for s in servers):
            log("aws is not running: nothing to compare")
        env = environment(servers)
        if env["load_at_start"][0] > 0.5:
            log(f"warning: load average {env['load_at_start'][0]:.2f} at start; "
                "other work on this machine will blur the numbers")

        for sc in SCENARIOS:
            for rnd in range(1, ROUNDS + 1):
                if sc["kind"] == "cold":
                    res = cold_busy_loop(os.path.join(docroot, "dynamic", file_name(sc["file"])),
                                         SECONDS)
                    res.update(scenario=sc["id"], round=rnd, target=BUSY_LOOP, server="machine",
                               path="")
                    runs.append(res)
                    log(f"  {sc['id']} round {rnd} {BUSY_LOOP}: {res['mib_s']:.1f} MiB/s read, "
                        f"loop max {res['loop_us']} µs")
                for server, path in targets_for(sc, servers):
                    t = label(server.name, path)
                    try:
                        res = run_one(server, path, sc)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                        log(f"  {sc['id']} round {rnd} {t}: FAILED: {e}")
                        continue
                    res.update(scenario=sc["id"], round=rnd, target=t, server=server.name,
                               path=path)
                    runs.append(res)
                    shown = (f"{res['kib_per_conn']:.2f} KiB/conn" if sc["kind"] == "idle"
                             else f"{res['req_s']:.1f} req/s, {res['mib_s']:.1f} MiB/s, "
                                  f"{res['cpu_us_req'] or 0:.1f} µs CPU/req")
                    if res.get("loop_us") is not None:
                        shown += f", loop max {res['loop_us']} µs"
                    log(f"  {sc['id']} round {rnd} {t}: {shown}")
    finally:
        for s in servers:
            s.stop()
    env["servers"] = {s.name: dict(status=s.status if s.status != "running" else "measured",
                                   version=s.version, port=s.port) for s in servers}
    aws_lifetimes = []
    for s in servers:
        if s.name == "aws":
            longest = {}
            for scen, us in s.loop_us:
                if scen and "g" not in scen:
                    longest[scen] = max(us, longest.get(scen, 0))
            aws_lifetimes = list(longest.items())
    report(runs, servers, env, aws_lifetimes)


if __name__ == "__main__":
    main()
