#!/usr/bin/env bash
# Conformance suite: our feature server must answer like Feast 0.67.0's `feast serve`.
#
#   conformance/run.sh [pytest args...]          e.g. conformance/run.sh -k sqlite -x
#
# Gets the Feast virtualenv (scripts/feast-venv.sh), builds our binary, and runs
# `python -m pytest conformance -q` with the venv's Python. All temp data (repo copies,
# Redis data, logs, the binary) lives under one mktemp dir, removed at the end; every
# service and server the run started is stopped, on failure too. Exit code = pytest's.
#
# Environment (see conformance/conftest.py): UPDATE_GOLDEN=1 rewrites
# server/testdata/golden; CONFORMANCE_VARIANTS=sqlite,redis_v3 limits the store variants;
# CONFORMANCE_OURS=feast compares Feast with a second Feast (checks the harness itself);
# KEEP_TMP=1 keeps the temp dir (logs of every process) for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Test-only tools installed into the Feast venv when missing (Feast itself needs neither),
# and cryptography: Feast's OIDC token parser verifies RS256 with PyJWT, which needs it,
# but feast 0.67.0 declares it only in its "test" extra (test_auth_matrix.py).
TEST_DEPS=(pytest==9.2.0 grpcio==1.85.3 cryptography==51.0.1)

VENV=$("$ROOT/scripts/feast-venv.sh")
PY="$VENV/bin/python"
# Installed when a pinned version is missing (a venv from before a pin change gets the new pin).
have_pins() {
  "$PY" - "${TEST_DEPS[@]}" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in (a.split("==") for a in sys.argv[1:])) else 1)
EOF
}
if ! have_pins; then
  echo "conformance: installing ${TEST_DEPS[*]} into $VENV" >&2
  "$PY" -m pip install --disable-pip-version-check -q "${TEST_DEPS[@]}" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX")
export CONFORMANCE_TMP="$TMP"
export SERVICES_DIR="$TMP/services"
export PYTHONDONTWRITEBYTECODE=1

cleanup() {
  local rc=$?
  # pytest's finalizers stop everything; this catches what an interrupted run left behind:
  # the process groups of the servers the harness started (it records their ids), then Redis.
  if [[ -f "$TMP/process-groups" ]]; then
    local pg
    while read -r pg; do
      [[ "$pg" =~ ^[0-9]+$ ]] && kill -TERM -- "-$pg" 2>/dev/null || true
    done <"$TMP/process-groups"
  fi
  if [[ -d "$SERVICES_DIR" ]]; then
    local d
    for d in "$SERVICES_DIR"/redis-* "$SERVICES_DIR"/cluster-* "$SERVICES_DIR"/postgres-*; do
      [[ -d "$d" ]] || continue
      case "$d" in
        */redis-*) bash "$ROOT/scripts/services.sh" redis-stop "${d##*/redis-}" >/dev/null 2>&1 || true ;;
        */cluster-*) bash "$ROOT/scripts/services.sh" cluster-stop "${d##*/cluster-}" >/dev/null 2>&1 || true ;;
        */postgres-*) bash "$ROOT/scripts/services.sh" postgres-stop "${d##*/postgres-}" >/dev/null 2>&1 || true ;;
      esac
    done
  fi
  # A Keycloak of test_auth_matrix.py's own (when none was shared with it).
  [[ -d "$TMP/keycloak" ]] && bash "$ROOT/scripts/keycloak.sh" stop "$TMP/keycloak" >/dev/null 2>&1 || true
  if [[ "${KEEP_TMP:-}" == 1 ]]; then
    echo "conformance: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "${CONFORMANCE_OURS:-binary}" == binary && -z "${FEATURE_SERVER_BIN:-}" ]]; then
  echo "conformance: go build ./cmd/feature-server" >&2
  go build -o "$TMP/bin/feature-server" ./cmd/feature-server
  export FEATURE_SERVER_BIN="$TMP/bin/feature-server"
fi

set +e
"$PY" -m pytest conformance -q -p no:cacheprovider -rfEx "$@"
rc=$?
set -e
exit "$rc"
