#!/usr/bin/env bash
# Push benchmark: POST /push throughput, our server against `feast serve`
# (Feast 0.67.0), same repo, same client, one run, side by side.
#
#   scripts/bench-push.sh
#
# Copies feature_repo/ to a temp dir with its online store pointed at a
# throw-away local Redis (key version 3), runs `feast apply`, then for each
# server in turn (ours, feast serve) drives bench/push_load.py: frames of
# ROWS rows (default 1000) of the push source pipeline_stats_push, to=online,
# for PUSH_SECONDS (default 20) from THREADS client threads (default 2). Prints a
# markdown table (rows/s, request p50/p99) and writes it to BENCH_OUT
# (default bench/push.md; "-" for stdout only).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-1000}
SECONDS_=${PUSH_SECONDS:-20}
THREADS=${THREADS:-2}
OUT=${BENCH_OUT:-$ROOT/bench/push.md}
log() { echo "bench-push: $*" >&2; }

"$ROOT/scripts/deps.sh"
VENV=$("$ROOT/scripts/feast-venv.sh")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-push.XXXXXX")
export SERVICES_DIR="$TMP/services"
base=$((30000 + RANDOM % 20000))
REDIS_PORT=$base HTTP_PORT=$((base + 1))
PID=
stop_server() {
  if [[ -n "$PID" ]]; then
    kill -TERM -- "-$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
  fi
}
cleanup() {
  stop_server
  "$ROOT/scripts/services.sh" redis-stop "$REDIS_PORT" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$ROOT/scripts/services.sh" redis-start "$REDIS_PORT" >&2

REPO="$TMP/repo"
"$ROOT/scripts/demo-repo-redis.sh" "$REPO" "$REDIS_PORT"
(cd "$REPO" && FEAST_USAGE=False "$VENV/bin/feast" apply >"$TMP/apply.log" 2>&1) || { cat "$TMP/apply.log" >&2; exit 1; }
(cd "$ROOT" && go build -o "$TMP/feature-server" ./cmd/feature-server)

URL="http://127.0.0.1:$HTTP_PORT"
start_server() {
  case "$1" in
    ours) setsid "$TMP/feature-server" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" --materialize-if-empty=false >"$TMP/$1.log" 2>&1 & ;;
    feast) (cd "$REPO" && FEAST_USAGE=False exec setsid "$VENV/bin/feast" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT") >"$TMP/$1.log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 1200); do
    curl -fs "$URL/health" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/$1.log" >&2; log "$1 exited"; exit 1; }
    sleep 0.1
  done
  log "$1 did not start"; exit 1
}

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')
declare -A RES
for server in ours feast; do
  log "starting $server"
  start_server "$server"
  "$VENV/bin/python" "$ROOT/bench/push_load.py" "$URL/push" "$ROWS" 3 1 >/dev/null # warm-up
  RES[$server]=$("$VENV/bin/python" "$ROOT/bench/push_load.py" "$URL/push" "$ROWS" "$SECONDS_" "$THREADS")
  log "$server: ${RES[$server]}"
  stop_server
done

field() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" <<<"$1"; }
{
  echo "# Push throughput: feature-server against \`feast serve\`"
  echo
  echo "Measured by \`scripts/bench-push.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$ROOT" && git rev-parse --short HEAD):"
  echo "$(nproc) cores, Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), Feast 0.67.0, load average at start $LOADAVG."
  echo "POST /push of $ROWS-row frames (push source pipeline_stats_push of feature_repo, 8 features, to=online,"
  echo "every row a new entity) into one local Redis, from $THREADS Python client threads (requests) for ${SECONDS_} s,"
  echo "one server at a time."
  echo
  echo "| server | requests | rows | rows/s | p50 ms | p99 ms | errors |"
  echo "|---|---|---|---|---|---|---|"
  for server in ours feast; do
    r=${RES[$server]}
    name=$([[ $server == ours ]] && echo "feature-server" || echo "feast serve 0.67.0")
    echo "| $name | $(field "$r" requests) | $(field "$r" rows) | $(field "$r" rows_per_s) | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors) |"
  done
  ours=$(field "${RES[ours]}" rows_per_s) feast=$(field "${RES[feast]}" rows_per_s)
  echo
  echo "Ours is $(awk -v a="$ours" -v b="$feast" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }')× feast serve's rows/s."
} >"$TMP/report.md"
cat "$TMP/report.md"
[[ "$OUT" == "-" ]] || cp "$TMP/report.md" "$OUT"
