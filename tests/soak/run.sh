#!/bin/bash
# Soak test: ./aws under sockop_preload.so on 127.0.0.1:8870 for SECONDS (default 600) under a
# mixed load (wrk keep-alive GETs, a slowloris, clients that reset mid-download, byte-exact
# verification downloads), sampling the server's RSS and descriptor count every second.
# Usage: tests/soak/run.sh [SECONDS]   (after make; `make soak` runs it). Fails (exit 1) on
# growth, a dead server, a wrong byte, descriptors left open, or a bad exit after SIGTERM.
# The last line is "soak: PASS" or "soak: FAIL: reason".
set -u

secs=${1:-600}
case $secs in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]  (a whole number, at least 20)" >&2; exit 2 ;;
esac
if [ "$secs" -lt 20 ]; then
    echo "usage: $0 [SECONDS]  (a whole number, at least 20)" >&2
    exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || exit 2
here=$repo/tests/soak
py=/usr/bin/python3
port=8870
base_url=http://127.0.0.1:$port
export PYTHONDONTWRITEBYTECODE=1

# Debian's interpreter, standard library only; soak.py lives next to this script. Background
# jobs call "$py" directly, so that $! is the interpreter's pid and not a subshell's.
soakpy() { "$py" "$here/soak.py" "$@"; }

say() { echo "soak: $*"; }

# The first reason wins; later problems are still shown, as they may explain the first.
reason=
fail() {
    [ -n "$reason" ] || reason=$1
    say "problem: $1"
}

finish() {
    stop_helpers
    stop_server_hard
    if [ -n "$reason" ]; then
        echo "soak: FAIL: $reason"
        exit 1
    fi
    echo "soak: PASS"
    exit 0
}

for f in aws sockop_preload.so; do
    if [ ! -x "$repo/$f" ] && [ ! -f "$repo/$f" ]; then
        echo "soak: FAIL: $repo/$f is missing (run make first)"
        exit 1
    fi
done

# Installs the Debian package $2 when command $1 is missing; false if it still is.
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    say "installing $2"
    $sudo apt-get update -qq >/dev/null 2>&1
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1
    command -v "$1" >/dev/null 2>&1
}

if [ ! -x "$py" ]; then
    echo "soak: FAIL: $py is missing (apt-get install python3)"
    exit 1
fi
if ! need wrk wrk; then
    echo "soak: FAIL: wrk is not installed and could not be installed"
    exit 1
fi
have_slow=1
if ! need slowhttptest slowhttptest; then
    say "warning: slowhttptest could not be installed: running without the slowloris"
    have_slow=0
fi

# Is anything (a server of someone else's, or a leftover) listening on our port?
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# A process of ours that has not exited (a zombie we have not reaped counts as gone).
alive() {
    [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null
}

srv= sampler= wrkpid= slowpid= clientpid=

# Stops the load and the sampler: each by its own pid, then reaps it.
stop_helpers() {
    local p
    for p in $wrkpid $slowpid $clientpid $sampler; do
        kill "$p" 2>/dev/null
    done
    for p in $wrkpid $slowpid $clientpid $sampler; do
        wait "$p" 2>/dev/null
    done
    wrkpid= slowpid= clientpid= sampler=
}

# For early exits: SIGTERM, a few seconds' grace, then SIGKILL. No-op once the server is reaped.
stop_server_hard() {
    [ -n "$srv" ] || return 0
    kill -TERM "$srv" 2>/dev/null
    local i
    for i in $(seq 1 70); do
        alive "$srv" || break
        sleep 0.1
    done
    kill -KILL "$srv" 2>/dev/null
    wait "$srv" 2>/dev/null
    srv=
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aws-soak.XXXXXX") || exit 1
root=$tmp/root
csv=$tmp/samples.csv

cleanup() {
    stop_helpers
    stop_server_hard
    rm -rf "$root"
}
# On SIGINT or SIGTERM: stop everything, then the usual last line.
on_signal() {
    trap '' INT TERM
    stop_helpers
    stop_server_hard
    echo "soak: FAIL: interrupted by $1"
    exit "$2"
}
trap cleanup EXIT
trap 'on_signal SIGINT 130' INT
trap 'on_signal SIGTERM 143' TERM

say "$secs s on 127.0.0.1:$port under sockop_preload.so; files in $tmp"
if port_busy; then
    echo "soak: FAIL: port $port is already in use"
    exit 1
fi
if ! soakpy mkroot "$root"; then
    echo "soak: FAIL: could not build the document root in $root"
    exit 1
fi

LD_PRELOAD=$repo/sockop_preload.so "$repo/aws" -p "$port" -r "$root" \
    --header-timeout 5 --keepalive-timeout 5 --send-timeout 5 --access-log /dev/null \
    >"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!

ready=0
for i in $(seq 1 50); do
    alive "$srv" || break
    if port_busy; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" = 0 ]; then
    wait "$srv" 2>/dev/null
    st=$?
    srv=
    tail -n 3 "$tmp/server.err"
    echo "soak: FAIL: the server did not start listening on port $port (exit status $st)"
    exit 1
fi

# One byte-exact download of every file before the load, then let those connections close.
if ! soakpy probe "$port" "$root"; then
    echo "soak: FAIL: the first downloads were wrong (see above)"
    exit 1
fi
sleep 3
read -r base_rss base_fds < <(soakpy stat "$srv")
if [ -z "${base_fds:-}" ]; then
    echo "soak: FAIL: the server died before the load"
    exit 1
fi
say "baseline: rss $base_rss KiB, $base_fds descriptors"

# wrk: keep-alive GETs over both paths and every size, weighted toward the small files.
wrk_paths=()
for top in static dynamic; do
    wrk_paths+=(/$top/2k.bin /$top/2k.bin /$top/2k.bin /$top/2k.bin
                /$top/100k.bin /$top/100k.bin /$top/100k.bin /$top/2m.bin /$top/2m.bin /$top/16m.bin)
done

# Slowloris, run again and again until the end: slowhttptest stops once the server has cut
# all its connections (at the 5 s header timeout), long before -l.
slowloris() {
    local end=$1 child= runs=0 left
    trap '[ -z "$child" ] || kill "$child" 2>/dev/null; exit 0' TERM
    while :; do
        left=$((end - $(date +%s)))
        [ "$left" -ge 5 ] || break
        slowhttptest -H -c 200 -i 5 -r 50 -l "$left" -u "$base_url/static/2m.bin" \
            >>"$tmp/slowloris.out" 2>&1 &
        child=$!
        wait "$child"
        child=
        runs=$((runs + 1))
        echo "$runs" >"$tmp/slowloris.runs"
        sleep 1
    done
}

t0=$(date +%s.%N)
t0s=${t0%.*}
"$py" "$here/soak.py" sample "$srv" "$csv" "$t0" &
sampler=$!
wrk -t1 -c32 -d"${secs}s" --timeout 10s -s "$here/mixed.lua" "$base_url" -- "${wrk_paths[@]}" \
    >"$tmp/wrk.out" 2>&1 &
wrkpid=$!
if [ "$have_slow" = 1 ]; then
    slowloris $((t0s + secs)) &
    slowpid=$!
fi
"$py" "$here/soak.py" client "$port" "$root" "$secs" "$tmp/client.json" &
clientpid=$!
say "load started: samples in $csv"

# Wait for wrk and the client; watch the server meanwhile. Hard limit: the run plus 2 minutes.
hard_end=$((t0s + secs + 120))
while alive "$wrkpid" || alive "$clientpid"; do
    if ! alive "$srv"; then
        { wait "$srv"; st=$?; } 2>/dev/null
        srv=
        fail "the server died during the load (exit status $st)"
        break
    fi
    if [ "$(date +%s)" -ge "$hard_end" ]; then
        fail "the load did not end within $((secs + 120)) s"
        break
    fi
    sleep 1
done
if [ -n "$reason" ]; then
    stop_helpers
    say "the server's stderr ends with:"
    tail -n 3 "$tmp/server.err" | sed 's/^/soak:   /'
    finish
fi
wait "$wrkpid"
wrk_rc=$?
wait "$clientpid"
client_rc=$?
wrkpid= clientpid=
if [ -n "$slowpid" ]; then
    kill "$slowpid" 2>/dev/null
    wait "$slowpid" 2>/dev/null
    slowpid=
fi

# Let the timeouts (5 s) and the lingering closes (2 s) run out, then count again.
end_rss= end_fds=
if [ -n "$srv" ]; then
    sleep 6
    for i in $(seq 1 5); do
        read -r end_rss end_fds < <(soakpy stat "$srv")
        [ -n "${end_fds:-}" ] || break
        [ "$end_fds" -gt $((base_fds + 5)) ] || break
        sleep 0.5
    done
    if [ -z "${end_fds:-}" ]; then
        fail "the server died after the load"
    elif [ "$end_fds" -gt $((base_fds + 5)) ]; then
        fail "$end_fds descriptors open after the load, baseline $base_fds"
    fi
fi
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
sampler=

# The summary: samples and growth, then what the load did.
soakpy judge "$csv" "$secs" >"$tmp/judge.out"
judge_rc=$?
grep -v '^FAIL: ' "$tmp/judge.out" | sed 's/^/soak: /'
say "baseline rss $base_rss KiB / $base_fds fds; after the load rss ${end_rss:-?} KiB / ${end_fds:-?} fds"
if [ "$judge_rc" != 0 ]; then
    fail "$(sed -n 's/^FAIL: //p' "$tmp/judge.out" | head -n 1)"
fi

wrk_reqs=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$tmp/wrk.out")
wrk_extra=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.out" | sed 's/^ *//' | paste -sd ';' -)
say "wrk: ${wrk_reqs:-?} requests${wrk_extra:+ ($wrk_extra)}"
if [ -z "$wrk_reqs" ] || [ "$wrk_rc" != 0 ]; then
    fail "wrk did not finish (exit status $wrk_rc): $(tail -n 1 "$tmp/wrk.out")"
elif grep -q 'Non-2xx' "$tmp/wrk.out"; then
    fail "wrk got responses other than 2xx: $wrk_extra"
fi
if [ "$have_slow" = 1 ]; then
    say "slowloris: $(cat "$tmp/slowloris.runs" 2>/dev/null || echo 0) runs of 200 connections"
else
    say "slowloris: skipped (no slowhttptest)"
fi
if [ -f "$tmp/client.json" ]; then
    soakpy client-summary "$tmp/client.json" | sed 's/^/soak: /'
fi
if [ "$client_rc" != 0 ] || [ ! -f "$tmp/client.json" ]; then
    fail "verification failed (client exit status $client_rc; see the lines above)"
fi

# SIGTERM: the server must close everything and exit 0 within its 5 s shutdown grace.
if [ -n "$srv" ]; then
    kill -TERM "$srv"
    for i in $(seq 1 150); do
        alive "$srv" || break
        sleep 0.1
    done
    if alive "$srv"; then
        fail "the server was still running 15 s after SIGTERM"
        kill -KILL "$srv"
    fi
    wait "$srv"
    st=$?
    srv=
    [ "$st" = 0 ] || fail "exit status $st after SIGTERM"
fi
exit_line=$(grep -E '^aws: [a-z]+: main\.c:[0-9]+: exit:' "$tmp/server.err" | tail -n 1)
say "server: ${exit_line:-no exit line}"
bad=$(grep -cE '^aws: (error|warn):' "$tmp/server.err")
odd=$(grep -cvE '^aws: (error|warn|info|debug): ' "$tmp/server.err")
say "server stderr: $bad warning/error lines, $odd lines not from the logger ($tmp/server.err)"
grep -E '^aws: (error|warn):' "$tmp/server.err" | head -n 5 | sed 's/^/soak:   /'
grep -vE '^aws: (error|warn|info|debug): ' "$tmp/server.err" | head -n 5 | sed 's/^/soak:   /'
finish
