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
# Ports below Linux's ephemeral range (32768+ by default, where the client
# sockets of a parallel conformance run land), cluster bus ports (+10000)
# included, and all of them free now: a port taken by someone else would
# otherwise be "reused" by services.sh or time out the start.
ports_free() {
  python3 - "$@" <<'PY'
import socket, sys
for p in map(int, sys.argv[1:]):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            sys.exit(1)
PY
}
for _ in $(seq 50); do
  base=$((10000 + RANDOM % 12000))
  wanted=()
  for off in 0 10 11 12 20 21 30 40 41 45 50 51 52 53 60; do wanted+=($((base + off))); done
  for off in 10 11 12; do wanted+=($((base + off + 10000))); done
  ports_free "${wanted[@]}" && break
done
REDIS_PORT=$base CLUSTER_PORT=$((base + 10)) SENT_MASTER=$((base + 20)) SENT_PORT=$((base + 21)) PG_PORT=$((base + 30))
S="$ROOT/scripts/services.sh"
# An S3-compatible server for the s3:// registry tests: moto, from PyPI, in
# its own cached virtualenv.
MOTO_VERSION=5.1.16
MOTO_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/feature-server/moto-$MOTO_VERSION"
# The marker alone is not trusted: a cache copied from another machine or a
# Python upgrade can leave a venv whose interpreter no longer runs.
if [[ ! -f "$MOTO_VENV/.installed" ]] || ! "$MOTO_VENV/bin/python" -c 'import moto.server' >/dev/null 2>&1; then
  rm -rf "$MOTO_VENV"
  python3 -m venv "$MOTO_VENV" >&2
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  "$MOTO_VENV/bin/python" -c 'import moto.server' >&2
  touch "$MOTO_VENV/.installed"
fi
S3_PORT=$((base + 40))
# A GCS-compatible server for the gs:// registry tests: fake-gcs-server,
# built once with the Go toolchain into a cache keyed by its version.
FAKE_GCS_VERSION=v1.56.1
FAKE_GCS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/feature-server/fake-gcs-server-$FAKE_GCS_VERSION"
if [[ ! -x "$FAKE_GCS_DIR/fake-gcs-server" ]]; then
  echo "go-test: building fake-gcs-server $FAKE_GCS_VERSION (once)" >&2
  GOBIN="$FAKE_GCS_DIR" GOFLAGS= go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION" >&2
fi
GCS_PORT=$((base + 41))
# A real OTLP receiver for the tracing tests: Jaeger v2 (scripts/jaeger.sh
# builds it once into the cache), in-memory storage, OTLP gRPC and HTTP.
"$ROOT/scripts/jaeger.sh" install >/dev/null
OTLP_GRPC_PORT=$((base + 50)) OTLP_HTTP_PORT=$((base + 51)) JAEGER_QUERY_PORT=$((base + 52))
# A real Kubernetes API server (etcd and kube-apiserver, built once into the
# cache by scripts/kube-apiserver.sh) for the kubernetes auth tests.
"$ROOT/scripts/kube-apiserver.sh" install >/dev/null
KUBE_PORT=$((base + 70))
# A real OIDC identity provider for the auth tests: Keycloak
# (scripts/keycloak.sh), started now in the background since it takes half a
# minute, and waited for just before `go test`. Under scripts/test.sh one
# instance serves both lanes: FEASTGO_TEST_KEYCLOAK_DIR names its directory.
KC_DIR="${FEASTGO_TEST_KEYCLOAK_DIR:-}"
KC_OWN=
KC_START_PID=
if [[ -z "$KC_DIR" ]]; then
  KC_DIR="$SERVICES_DIR/keycloak"
  KC_OWN=1
  mkdir -p "$KC_DIR"
  "$ROOT/scripts/keycloak.sh" start "$KC_DIR" $((base + 60)) >/dev/null 2>"$SERVICES_DIR/keycloak-start.log" &
  KC_START_PID=$!
fi
MOTO_PID=
GCS_PID=
JAEGER_PID=
cleanup() {
  # (the start script first, should it still be waiting, then the instance)
  [[ -n "$KC_START_PID" ]] && kill "$KC_START_PID" 2>/dev/null || true
  [[ -n "$KC_OWN" ]] && "$ROOT/scripts/keycloak.sh" stop "$KC_DIR" >/dev/null 2>&1 || true
  [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null || true
  [[ -n "$JAEGER_PID" ]] && kill "$JAEGER_PID" 2>/dev/null || true
  [[ -n "$GCS_PID" ]] && kill "$GCS_PID" 2>/dev/null || true
  "$ROOT/scripts/kube-apiserver.sh" stop "$SERVICES_DIR/kube" >/dev/null 2>&1 || true
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
# moto is started and waited for; if it is not answering within a minute (or
# died, say on a port taken in the meantime) it is tried once more on another
# port, and then the run stops with its log rather than letting the S3 tests
# fail with "connection refused".
start_moto() {
  "$MOTO_VENV/bin/python" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >"$SERVICES_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 600); do
    curl -fs --noproxy '*' "http://127.0.0.1:$S3_PORT/" >/dev/null 2>&1 && return 0
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "go-test: moto S3 server on port $S3_PORT did not answer; its log:" >&2
  cat "$SERVICES_DIR/moto.log" >&2 || true
  kill "$MOTO_PID" 2>/dev/null || true
  MOTO_PID=
  return 1
}
if ! start_moto; then
  S3_PORT=$((base + 45))
  start_moto || exit 1
fi

"$FAKE_GCS_DIR/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$GCS_PORT" -backend memory -log-level warn >"$SERVICES_DIR/fake-gcs.log" 2>&1 &
GCS_PID=$!
for _ in $(seq 300); do
  curl -fs --noproxy '*' "http://127.0.0.1:$GCS_PORT/storage/v1/b" >/dev/null 2>&1 && break
  if ! kill -0 "$GCS_PID" 2>/dev/null; then
    echo "go-test: fake-gcs-server on port $GCS_PORT died; its log:" >&2
    cat "$SERVICES_DIR/fake-gcs.log" >&2 || true
    exit 1
  fi
  sleep 0.1
done

JAEGER_PID=$("$ROOT/scripts/jaeger.sh" start "$SERVICES_DIR/jaeger" "$OTLP_GRPC_PORT" "$OTLP_HTTP_PORT" "$JAEGER_QUERY_PORT" $((base + 53)))
"$ROOT/scripts/kube-apiserver.sh" start "$SERVICES_DIR/kube" "$KUBE_PORT" >/dev/null
# FEASTGO_TEST_KUBE_HOST, _PORT, _CA, _ADMIN_TOKEN_FILE, _SA_DIR.
set -a
# shellcheck disable=SC1091
source "$SERVICES_DIR/kube/env"
set +a

if ! kc_env=$("$ROOT/scripts/keycloak.sh" wait "$KC_DIR"); then
  echo "go-test: Keycloak did not start; its start log:" >&2
  cat "$SERVICES_DIR/keycloak-start.log" >&2 2>/dev/null || true
  exit 1
fi
# FEASTGO_TEST_OIDC_DISCOVERY, FEASTGO_TEST_OIDC_OTHER_DISCOVERY,
# FEASTGO_TEST_OIDC_ISSUER, FEASTGO_TEST_OIDC_TOKEN_URL (internal/testoidc).
set -a
# shellcheck disable=SC1090
source "$kc_env"
set +a

export FEASTGO_INTEGRATION=1
export FEASTGO_TEST_OTLP_GRPC="127.0.0.1:$OTLP_GRPC_PORT"
export FEASTGO_TEST_OTLP_HTTP="127.0.0.1:$OTLP_HTTP_PORT"
export FEASTGO_TEST_JAEGER_QUERY="http://127.0.0.1:$JAEGER_QUERY_PORT"
export FEASTGO_TEST_REDIS="127.0.0.1:$REDIS_PORT"
export FEASTGO_TEST_REDIS_CLUSTER="127.0.0.1:$CLUSTER_PORT,127.0.0.1:$((CLUSTER_PORT + 1)),127.0.0.1:$((CLUSTER_PORT + 2))"
export FEASTGO_TEST_REDIS_SENTINEL="127.0.0.1:$SENT_PORT"
export FEASTGO_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
# The fault tests (internal/faults) start and kill a moto of their own.
export FEASTGO_TEST_MOTO_PYTHON="$MOTO_VENV/bin/python"
export FEASTGO_TEST_GCS_ENDPOINT="http://127.0.0.1:$GCS_PORT"
export FEASTGO_TEST_POSTGRES="postgres://feast:feast@127.0.0.1:$PG_PORT/feast?sslmode=disable"
# A test must not change the checkout (a committed SQLite file opened in
# place is switched to WAL mode, for one): compare git's view before and after.
before=$(git status --porcelain 2>/dev/null | sha256sum)
# GO_TEST_PKGS narrows the run while working on a few packages (default: all).
# shellcheck disable=SC2086
go test -race -count=1 "$@" ${GO_TEST_PKGS:-./...}
# The deployment files (docker-compose.yml, deploy/kubernetes), checked by
# their own module with the services still up: the compose loader behind
# `docker compose config`, strict Kubernetes API decoding, and the compose
# commands run against the real Redis.
if [[ -z "${GO_TEST_PKGS:-}" ]]; then
  (cd deploy/validate && go test -count=1 "$@" ./...)
fi
if [[ "$(git status --porcelain 2>/dev/null | sha256sum)" != "$before" ]]; then
  echo "go-test: the tests changed files of the checkout:" >&2
  git status --porcelain >&2
  exit 1
fi
