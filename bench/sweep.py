#!/usr/bin/python3
"""A/B sweep of aws builds: several aws binaries (built with different -D knobs) and chosen
peers take turns in bench.py's own scenarios, round after round, on bench.py's docroot; prints
median [min-max] MiB/s and CPU µs per request for each. This is how the block and slice sizes
in bench/README.md were chosen.

Usage: bench/sweep.py NAME=AWS_BINARY [NAME=AWS_BINARY ...]
Knobs (environment): SWEEP_PEERS=lighttpd,nginx-nosendfile  SWEEP_SCENARIOS=d,e
SWEEP_PATHS=static (aws paths: static, dynamic or both)  SWEEP_DIR=/tmp/aws-sweep, plus
bench.py's own BENCH_ROUNDS and BENCH_SECONDS. Run after `make bench` has installed the peers.
Example, two step budgets (make clean first: objects are not rebuilt when only CFLAGS change):
  make clean && CFLAGS="-O2 -g -DSTATIC_STEP_BUDGET=524288" make && cp aws /tmp/aws-512k
  make clean && make && bench/sweep.py new=/tmp/aws-512k old=./aws"""

import os
import sys

import bench

PORT_BASE = 18091   # bench.py uses 18081-18086; variants and peers go above


class Variant(bench.Server):
    """An aws build under its own name, started with bench.py's aws command line."""

    def argv(self):
        return self.aws_argv()


def env_list(name, default):
    return [x for x in os.environ.get(name, default).split(",") if x]


def make_servers(variants, peers, paths, tmp, docroot):
    """The variants first, then the named peers from bench.py, each on a port of its own."""
    servers = [Variant(name, PORT_BASE + i, os.path.abspath(binary), paths, True, tmp, docroot)
               for i, (name, binary) in enumerate(variants)]
    port = PORT_BASE + len(servers)
    for s in bench.make_servers(tmp, docroot):
        if s.name in peers:
            s.port, port = port, port + 1
            servers.append(s)
    return servers


def main():
    variants = [a.split("=", 1) for a in sys.argv[1:]]
    if not variants or any(len(v) != 2 for v in variants):
        sys.exit(__doc__)
    peers = env_list("SWEEP_PEERS", "lighttpd")
    wanted = env_list("SWEEP_SCENARIOS", "d,e")
    paths = env_list("SWEEP_PATHS", "static")
    tmp = os.environ.get("SWEEP_DIR", "/tmp/aws-sweep")
    docroot = os.path.join(tmp, "docroot")
    if not os.path.exists(os.path.join(docroot, "static", bench.file_name("big"))):
        bench.generate_docroot(docroot)
    os.sched_setaffinity(0, {bench.CLIENT_CPU})
    bench.raise_fd_limit(4096)
    servers = make_servers(variants, peers, paths, tmp, docroot)
    results = {}
    try:
        for s in servers:
            if not s.start():
                sys.exit(f"{s.name}: {s.status}")
        for sc in (sc for sc in bench.SCENARIOS if sc["id"] in wanted):
            for _ in range(bench.ROUNDS):
                for s, path in bench.targets_for(sc, servers):
                    m = bench.run_one(s, path, sc)
                    results.setdefault((sc["id"], s.name, path), []).append(m)
    finally:
        for s in servers:
            s.stop()
    for (sid, name, path), runs in sorted(results.items()):
        mib = bench.fmt(bench.stats(m["mib_s"] for m in runs), 0)
        cpu = bench.fmt(bench.stats(m["cpu_us_req"] for m in runs), 1)
        print(f"{sid} {name:20s} {path:8s} MiB/s {mib:22s} CPU µs/req {cpu}")


if __name__ == "__main__":
    main()
