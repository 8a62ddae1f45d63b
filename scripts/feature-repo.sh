#!/usr/bin/env bash
# Build the demo feature repo's SQLite online store, or regenerate its registry,
# with the reference Python Feast (venv from scripts/feast-venv.sh).
#
#   scripts/feature-repo.sh online [REPO_DIR]
#       Write REPO_DIR/data/online.db (default REPO_DIR: feature_repo/) by
#       running `feast apply` + `feast materialize` in a temporary copy with a
#       fresh registry. The committed data/registry.db is left untouched.
#
#   scripts/feature-repo.sh registry [REPO_DIR]
#       After changing features.py/generate_data.py: regenerate the parquet
#       files, data/registry.db and data/online.db in place. Commit the result.
#
# Why a fresh registry every time: Feast records each SQLite table in the
# registry's infra section with the *absolute* online.db path of the machine
# that ran `feast apply`. Re-applying that registry from another directory
# makes Feast "update" the tables from the old path to the new one: it drops
# them from the old online.db and creates nothing in the new one, so
# materialize fails with "no such table" (seen with Feast 0.67.0). Applying
# against a deleted registry always creates the tables.
#
# TZ=UTC: Feast's SQLite store writes event_ts as int(naive_utc.timestamp()),
# which is only true epoch seconds when the process runs in UTC.
#
# Environment: FEAST_VERSION (see feast-venv.sh), MATERIALIZE_START/END.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MODE="${1:-online}"
REPO=$(cd "${2:-$ROOT/feature_repo}" && pwd)
START="${MATERIALIZE_START:-2025-01-01T00:00:00}"
END="${MATERIALIZE_END:-2025-01-08T00:00:00}"

log() { echo "feature-repo: $*" >&2; }

VENV=$("$HERE/feast-venv.sh")
export PATH="$VENV/bin:$PATH" TZ=UTC FEAST_USAGE=False

apply_and_materialize() {
  local dir="$1"
  (
    cd "$dir"
    rm -f data/registry.db data/online.db data/online.db-*
    log "feast apply ($dir)"
    feast apply >&2
    log "feast materialize $START $END"
    feast materialize "$START" "$END" >&2
  )
}

case "$MODE" in
  online)
    [[ -f "$REPO/data/registry.db" ]] || log "note: $REPO/data/registry.db missing; run '$0 registry' to create it"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp -r "$REPO/." "$tmp/"
    apply_and_materialize "$tmp"
    cp "$tmp/data/online.db" "$REPO/data/online.db.tmp"
    mv "$REPO/data/online.db.tmp" "$REPO/data/online.db"
    log "wrote $REPO/data/online.db"
    ;;
  registry)
    (cd "$REPO" && python generate_data.py >&2)
    apply_and_materialize "$REPO"
    log "regenerated $REPO/data/{*.parquet,registry.db,online.db}"
    ;;
  *)
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
