#!/usr/bin/env bash
# Go tests with -race. Integration tests need real back ends: this starts a
# standalone Redis, a 3-node Redis Cluster, Redis + Sentinel and PostgreSQL on
# loopback (scripts/services.sh), tells the tests where they are through
# FEASTGO_TEST_* variables, and stops everything afterwards. With
# FEASTGO_INTEGRATION=1 a test whose service variable is missing fails rather
# than skips.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/deps.sh"

export SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/feastgo-gotest.XXXXXX")
base=$((20000 + RANDOM % 20000))
REDIS_PORT=$base CLUSTER_PORT=$((base + 10)) SENT_MASTER=$((base + 20)) SENT_PORT=$((base + 21)) PG_PORT=$((base + 30))
S="$ROOT/scripts/services.sh"
cleanup() {
  "$S" redis-stop "$REDIS_PORT" >/dev/null 2>&1 || true
  "$S" cluster-stop "$CLUSTER_PORT" >/dev/null 2>&1 || true
  "$S" sentinel-stop "$SENT_MASTER" "$SENT_PORT" >/dev/null 2>&1 || true
  "$S" postgres-stop "$PG_PORT" >/dev/null 2>&1 || true
  rm -rf "$SERVICES_DIR"
}
trap cleanup EXIT
"$S" redis-start "$REDIS_PORT" >&2
"$S" cluster-start "$CLUSTER_PORT" >&2
"$S" sentinel-start "$SENT_MASTER" "$SENT_PORT" >&2
"$S" postgres-start "$PG_PORT" >&2

export FEASTGO_INTEGRATION=1
export FEASTGO_TEST_REDIS="127.0.0.1:$REDIS_PORT"
export FEASTGO_TEST_REDIS_CLUSTER="127.0.0.1:$CLUSTER_PORT,127.0.0.1:$((CLUSTER_PORT + 1)),127.0.0.1:$((CLUSTER_PORT + 2))"
export FEASTGO_TEST_REDIS_SENTINEL="127.0.0.1:$SENT_PORT"
export FEASTGO_TEST_POSTGRES="postgres://feast:feast@127.0.0.1:$PG_PORT/feast?sslmode=disable"
go test -race -count=1 "$@" ./...
