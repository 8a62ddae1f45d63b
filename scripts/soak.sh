#!/usr/bin/env bash
# Soak (make soak): our server on the demo repo (feature_repo/) with a
# throw-away local Redis as its online store, filled by our own
# `materialize`, serving with a registry refresh every 10 s (-r 10), driven
# by bench/soak: first the maximum request rate of the mix (95% reads, 5%
# pushes) at 16 connections, then 50% of it for SOAK_DURATION (default 10m),
# open loop, while the registry file is rewritten every 10 s with one
# changed field (each refresh compiles and swaps a new snapshot). Prints the
# driver's figures (requests, errors, p50/p99/max per kind, resident memory
# at start, middle and end) and appends them to SOAK_OUT (default
# bench/soak.md; "-" for none). Exit 1 on any failed or late request.
#
# Knobs: SOAK_DURATION, SOAK_FRACTION (0.5), SOAK_CONNS (16), KEEP_TMP=1.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${SOAK_DURATION:-10m}
FRACTION=${SOAK_FRACTION:-0.5}
CONNS=${SOAK_CONNS:-16}
OUT=${SOAK_OUT:-$ROOT/bench/soak.md}
log() { echo "soak: $*" >&2; }

"$ROOT/scripts/deps.sh" >&2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/feastgo-soak.XXXXXX")
export SERVICES_DIR="$TMP/services"
base=$((10000 + RANDOM % 20000))
REDIS_PORT=$base HTTP_PORT=$((base + 1))
PID=
cleanup() {
  local rc=$?
  if [[ -n "$PID" ]]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  "$ROOT/scripts/services.sh" redis-stop "$REDIS_PORT" >/dev/null 2>&1 || true
  if [[ "${KEEP_TMP:-}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/scripts/services.sh" redis-start "$REDIS_PORT" >&2
REPO="$TMP/repo"
"$ROOT/scripts/demo-repo-redis.sh" "$REPO" "$REDIS_PORT"
log "building the server and the driver"
go build -o "$TMP/feature-server" ./cmd/feature-server
go build -o "$TMP/soak" ./bench/soak
"$TMP/feature-server" -c "$REPO" materialize 2025-01-01T00:00:00 2025-01-08T00:00:00 >"$TMP/materialize.log" 2>&1 ||
  { cat "$TMP/materialize.log" >&2; exit 1; }

"$TMP/feature-server" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" -r 10 --no-access-log >"$TMP/server.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
  sleep 0.1
done

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')
rc=0
line=$("$TMP/soak" -url "http://127.0.0.1:$HTTP_PORT" -pid "$PID" -registry "$REPO/data/registry.db" \
  -registry-every 10s -duration "$DURATION" -fraction "$FRACTION" -conns "$CONNS") || rc=$?
echo "$line"
kill -0 "$PID" 2>/dev/null || { log "the server died"; cat "$TMP/server.log" >&2; rc=1; }
warnings=$(grep -c -E 'level=(WARN|ERROR)' "$TMP/server.log" || true)
log "server log: $warnings WARN/ERROR lines"
if [[ "$OUT" != "-" ]]; then
  {
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD) (load $LOADAVG, $(nproc) cores, exit $rc)"
    echo
    echo '```'
    echo "$line" | tr ' ' '\n'
    echo "server_warn_error_lines=$warnings"
    echo '```'
  } >>"$OUT"
fi
exit "$rc"
