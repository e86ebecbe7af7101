#!/usr/bin/env bash
# The load-test benchmark: builds release binaries, then for SQLite and PostgreSQL (a throwaway database it
# creates and drops) seeds 100,000 generated pitches plus the demo data, starts the server on 127.0.0.1 with
# Redis configured and the login rate limit off, runs the whole pitchey-load suite, and stops the server.
# Reports land in bench/results/<UTC timestamp>/<backend>/ (and <backend>-uncached/ for the second pass):
# summary.txt and env.txt are small and meant to be committed with the docs that cite them; report.json and
# report.html only when the docs point at them (bench/README.md).
#
# Settings (environment):
#   BENCH_SCALE=1            pitchey-load --scale (0.1 for a quick look)
#   BENCH_PITCHES=100000     generated pitches to seed
#   BENCH_BACKENDS="sqlite postgres"
#   BENCH_PORT=18080         the server's port on 127.0.0.1
#   BENCH_PG_ADMIN=postgres://root@127.0.0.1:5432/postgres   where the throwaway database is created
#   BENCH_REDIS_URL=redis://127.0.0.1:6379
#   BENCH_ARGS=""            extra pitchey-load arguments (e.g. "--scenario browse --scenario auth")
#   BENCH_UNCACHED="lists search"  scenarios run a second time against the same database with the server's
#                            cache off (PITCHEY_CACHE_ENABLED=false): what the store itself does. "" skips it.
# Exit status: 0 when every run met its thresholds, 1 when a threshold was missed, 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${BENCH_SCALE:-1}
PITCHES=${BENCH_PITCHES:-100000}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
PORT=${BENCH_PORT:-18080}
PG_ADMIN=${BENCH_PG_ADMIN:-postgres://root@127.0.0.1:5432/postgres}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
UNCACHED=${BENCH_UNCACHED-"lists search"}
HOST="http://127.0.0.1:${PORT}"
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="bench/results/${STAMP}"
TMP="bench/results/tmp/${STAMP}"
PG_DB="pitchey_bench_${STAMP//-/_}"
SERVER_PID=""
PG_CREATED=""

log() { printf '\n== %s\n' "$*"; }

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$PG_CREATED" ]; then
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS ${PG_DB} WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

if curl -s -o /dev/null "http://127.0.0.1:${PORT}/"; then
    echo "something already listens on 127.0.0.1:${PORT}; set BENCH_PORT" >&2
    exit 2
fi

log "build (release)"
# Two builds, so the server binary is exactly what `cargo build --release -p pitchey-server` makes.
cargo build --release -p pitchey-server
cargo build --release -p pitchey-load
PITCHEY=target/release/pitchey
LOAD=target/release/pitchey-load
mkdir -p "$OUT" "$TMP"

# Many connections: the server needs a descriptor per connection (the load tool raises its own limit).
ulimit -n "$(ulimit -Hn)" || true

start_server() { # $1 = database URL, $2 = log file; extra PITCHEY_* settings may precede the call
    PITCHEY_DATABASE_URL="$1" PITCHEY_REDIS_URL="$REDIS_URL" PITCHEY_LOGIN_RATE_PER_MINUTE=0 \
        PITCHEY_SEED_DEMO=false PITCHEY_LOG_LEVEL=warn PITCHEY_BIND="127.0.0.1:${PORT}" \
        "$PITCHEY" serve >"$2" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 120); do
        if curl -sf -o /dev/null "${HOST}/api/health/ready"; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited; log:" >&2; tail -20 "$2" >&2; return 1; }
        sleep 0.5
    done
    echo "server not ready after 60 s" >&2
    return 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

run_suite() { # $1 = label, $2 = report directory, then pitchey-load arguments
    local label=$1 dir=$2 rc
    shift 2
    log "${label}: pitchey-load --scale ${SCALE} $*"
    mkdir -p "$dir"
    # What the numbers depend on: the code, the machine, and whatever else was running.
    { echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (with uncommitted changes)')"
      echo "backend ${label}, ${PITCHES} generated pitches, scale ${SCALE}, health ${HEALTH}"
      echo "cores $(nproc), $(grep MemTotal /proc/meminfo | tr -s ' ')"
      echo "seed: ${SEEDED}"
      echo "before: $(uptime)"; } >"${dir}/env.txt"
    set +e
    timeout 1800 "$LOAD" --host "$HOST" --scale "$SCALE" --health-path "$HEALTH" --server-pid "$SERVER_PID" \
        --report-dir "$dir" "$@"
    rc=$?
    set -e
    echo "after:  $(uptime)" >>"${dir}/env.txt"
    case $rc in
        0) ;;
        1) STATUS=1 ;;
        *) echo "pitchey-load failed on ${label} (exit $rc)" >&2; exit 2 ;;
    esac
}

STATUS=0
for backend in $BACKENDS; do
    case "$backend" in
        sqlite) URL="sqlite://${TMP}/bench.db" ;;
        postgres)
            psql "$PG_ADMIN" -qc "CREATE DATABASE ${PG_DB}" >/dev/null
            PG_CREATED=1
            URL="${PG_ADMIN%/*}/${PG_DB}"
            ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    log "$backend: seed ${PITCHES} pitches"
    SEEDED=$(timeout 1200 "$PITCHEY" --database-url "$URL" seed --pitches "$PITCHES" | tail -1)
    echo "$SEEDED"
    log "$backend: start the server on ${HOST}"
    start_server "$URL" "${TMP}/server-${backend}.log"
    # /api/health is the health scenario's target (contract §8); fall back to the probe on servers without it.
    HEALTH=/api/health
    if ! curl -sf -o /dev/null "${HOST}/api/health"; then
        echo "note: ${HOST}/api/health is missing; the health scenario uses /api/health/ping" >&2
        HEALTH=/api/health/ping
    fi
    # shellcheck disable=SC2086 # BENCH_ARGS is a list of arguments
    run_suite "$backend" "${OUT}/${backend}" ${BENCH_ARGS:-}
    stop_server
    if [ -n "$UNCACHED" ]; then
        log "$backend: the server again with its cache off"
        PITCHEY_CACHE_ENABLED=false start_server "$URL" "${TMP}/server-${backend}-uncached.log"
        scenarios=()
        for s in $UNCACHED; do scenarios+=(--scenario "$s"); done
        run_suite "$backend (cache off)" "${OUT}/${backend}-uncached" "${scenarios[@]}"
        stop_server
    fi
    if [ "$backend" = postgres ]; then
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS ${PG_DB} WITH (FORCE)" >/dev/null
        PG_CREATED=""
    fi
done
log "reports in ${OUT}/"
exit $STATUS
