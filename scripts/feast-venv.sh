#!/usr/bin/env bash
# Print the path of a virtualenv that has feast[redis,postgres,grpcio,k8s]==$FEAST_VERSION
# installed, creating it first when missing.
#
# The reference Python Feast is only needed by tests and tooling (conformance
# runs, regenerating feature_repo/data/registry.db); the Go server itself never
# needs Python. The venv lives in a cache dir keyed by version, so several
# checkouts share it and a version bump gets a fresh one:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/feature-server/feast-$FEAST_VERSION
#
# A marker file is written only after pip succeeded, so an interrupted install
# is redone on the next call instead of leaving a half-populated venv in use.
#
# stdout: the venv path, nothing else (logs go to stderr), so callers can do
#   VENV=$(scripts/feast-venv.sh) && "$VENV/bin/feast" version
#
# Environment:
#   FEAST_VERSION  (default 0.67.0)
#   FEAST_EXTRAS   (default redis,postgres,grpcio,k8s: the stores the tests
#                  use, gRPC for `feast serve_transformations` and our Python
#                  transformation worker, and the Kubernetes client of Feast's
#                  kubernetes auth)
#   PYTHON         interpreter used to create the venv (default python3)
set -euo pipefail

FEAST_VERSION="${FEAST_VERSION:-0.67.0}"
FEAST_EXTRAS="${FEAST_EXTRAS:-redis,postgres,grpcio,k8s}"
PYTHON="${PYTHON:-python3}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/feature-server"
VENV="$CACHE_ROOT/feast-$FEAST_VERSION"
SPEC="feast[$FEAST_EXTRAS]==$FEAST_VERSION"
MARKER="$VENV/.feast-key"
# The marker records the spec and the interpreter it was installed with: a
# Python upgrade (or a cache copied from another machine) rebuilds the venv.
KEY="$SPEC $("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo none)"

log() { echo "feast-venv: $*" >&2; }

# Fast path: already installed with the same requirement spec.
if [[ -f "$MARKER" && -x "$VENV/bin/python" ]] && [[ "$(cat "$MARKER")" == "$KEY" ]]; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$CACHE_ROOT"

# Serialize concurrent callers (e.g. parallel test jobs) on the same venv.
exec 9>"$CACHE_ROOT/.feast-$FEAST_VERSION.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if [[ -f "$MARKER" && -x "$VENV/bin/python" ]] && [[ "$(cat "$MARKER")" == "$KEY" ]]; then
  echo "$VENV"
  exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "error: $PYTHON not found; install python3 (Debian: apt-get install -y python3 python3-venv)"
  exit 1
fi

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  log "creating virtualenv $VENV"
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" >&2; then
    rm -rf "$VENV"
    # Debian/Ubuntu ship venv/ensurepip in a separate package.
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      log "'$PYTHON -m venv' failed; installing python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get update >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv >&2
      "$PYTHON" -m venv "$VENV" >&2 || { rm -rf "$VENV"; log "error: venv creation failed"; exit 1; }
    else
      log "error: '$PYTHON -m venv' failed; on Debian install python3-venv (apt-get install -y python3-venv)"
      exit 1
    fi
  fi
fi

rm -f "$MARKER"
log "installing $SPEC into $VENV (this takes a few minutes the first time)"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check "$SPEC" >&2

# Sanity check before declaring success.
"$VENV/bin/python" -c "import feast, sys; sys.exit(0 if feast.__version__ == '$FEAST_VERSION' else 1)" >&2 || {
  log "error: feast $FEAST_VERSION not importable after install"
  exit 1
}

printf '%s' "$KEY" >"$MARKER"
log "ready: $VENV"
echo "$VENV"
