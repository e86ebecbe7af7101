#!/usr/bin/env bash
# Alternated A/B runs of the `hot` scenario: for each LABEL=BINARY argument in turn, starts that `pitchey`
# binary pinned to core 0 on an already seeded database, waits until it is ready, runs `pitchey-load
# --scenario hot --server-pid PID` pinned to core 1, stops the server, and prints each phase's requests/s,
# latencies and both processes' CPU. Give the same binary several labels to alternate it with another one:
#
#   bench/ab.sh /tmp/ab old1=/tmp/pitchey-old new1=target/release/pitchey old2=/tmp/pitchey-old new2=...
#
# Reports land in OUTDIR/LABEL/ (summary.txt, report.json, report.html), the server's log in
# OUTDIR/LABEL-server.log. Server CPU per request in a phase = its cores there / the phase's requests/s.
#
# Settings (environment):
#   AB_DATABASE_URL=sqlite:///tmp/p.db   seeded beforehand: `PITCHEY_DATABASE_URL=... pitchey seed --pitches 100000`
#   AB_REDIS_URL=redis://127.0.0.1:6379/5  flushed before each run, so every run starts with a cold L2
#   AB_PORT=18080
#   AB_LOAD=target/release/pitchey-load
#   AB_LOAD_ARGS=""                      extra pitchey-load arguments, e.g. "--accept-encoding br"
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 OUTDIR LABEL=BINARY [LABEL=BINARY ...]" >&2
    exit 2
fi
out=$1
shift
db=${AB_DATABASE_URL:-sqlite:///tmp/p.db}
redis=${AB_REDIS_URL:-redis://127.0.0.1:6379/5}
port=${AB_PORT:-18080}
load=${AB_LOAD:-target/release/pitchey-load}
host="http://127.0.0.1:${port}"
mkdir -p "$out"

for spec in "$@"; do
    label=${spec%%=*}
    bin=${spec#*=}
    if curl -s -o /dev/null "$host/"; then
        echo "something already listens on 127.0.0.1:${port}; set AB_PORT" >&2
        exit 2
    fi
    redis-cli -u "$redis" flushdb >/dev/null
    PITCHEY_DATABASE_URL=$db PITCHEY_REDIS_URL=$redis PITCHEY_LOGIN_RATE_PER_MINUTE=0 PITCHEY_SEED_DEMO=false \
        PITCHEY_BIND=127.0.0.1:${port} taskset -c 0 "$bin" serve >"$out/$label-server.log" 2>&1 &
    pid=$!
    # Ready means migrated, warmed and subscribed; a 503 while starting is not.
    for _ in $(seq 150); do
        curl -sf -o /dev/null "$host/api/health/ready" && break
        kill -0 "$pid" 2>/dev/null || { echo "$label: the server exited (see $out/$label-server.log)" >&2; exit 2; }
        sleep 0.2
    done
    # shellcheck disable=SC2086 # AB_LOAD_ARGS is a list of arguments
    taskset -c 1 "$load" --host "$host" --scenario hot --server-pid "$pid" --report-dir "$out/$label" \
        ${AB_LOAD_ARGS:-} >"$out/$label.out" 2>&1 || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "== $label ($bin)"
    grep -E '^(hot|  GET)' "$out/$label.out" || true
    sed -n '/^CPU /,/^$/p' "$out/$label.out"
done
