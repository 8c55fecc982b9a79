#!/usr/bin/env bash
# Entry point of `make bench`: installs the peers and wrk when missing (Debian packages), makes a
# temporary folder, runs bench/bench.py in it, and on any exit ends every server it started and
# removes the folder. Knobs (BENCH_QUICK, BENCH_ROUNDS, ...) are described in bench/README.md.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ ! -x ./aws ]; then
    echo "bench: ./aws is missing; run make first (make bench does)" >&2
    exit 1
fi
# The yardstick of scenarios a and b (bench/floor.c); make bench builds it too.
[ -x build/floor ] || make -s build/floor

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# Peers and tools (gnuplot-nox draws the chart), each installed on its own so that one missing package (h2o is not in every
# Debian release) does not stop the others; bench.py reports a missing peer as "not installed".
PKGS="wrk curl nginx-light lighttpd h2o gnuplot-nox"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ] && [ "${BENCH_NO_INSTALL:-0}" != 1 ]; then
    echo "bench: installing:$missing" >&2
    $SUDO apt-get update -qq || true
    for p in $missing; do
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p" >/dev/null ||
            echo "bench: could not install $p" >&2
    done
fi
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 1; }

# The packages' own services are not what we measure, and would only compete for the CPUs.
for svc in nginx lighttpd h2o; do
    if [ -x "/etc/init.d/$svc" ] && $SUDO service "$svc" status >/dev/null 2>&1; then
        $SUDO service "$svc" stop >/dev/null 2>&1 || true
    fi
done

# 10,000 idle connections need as many descriptors in the client and in each server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" ||
    echo "bench: could not raise the descriptor limit ($(ulimit -n))" >&2

BENCH_TMP=$(mktemp -d /tmp/aws-bench.XXXXXX)
chmod 755 "$BENCH_TMP"   # nginx and h2o workers run as nobody and must read the docroot

# Ends every server process group bench.py recorded (it also stops them itself), then the folder.
cleanup() {
    local pg
    if [ -f "$BENCH_TMP/pgids" ]; then
        while read -r pg; do
            kill -0 -- "-$pg" 2>/dev/null && kill -TERM -- "-$pg" 2>/dev/null || true
        done <"$BENCH_TMP/pgids"
        sleep 1
        while read -r pg; do
            kill -0 -- "-$pg" 2>/dev/null && kill -KILL -- "-$pg" 2>/dev/null || true
        done <"$BENCH_TMP/pgids"
    fi
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

/usr/bin/python3 bench/bench.py "$BENCH_TMP"
