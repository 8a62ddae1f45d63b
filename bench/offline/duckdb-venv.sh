#!/usr/bin/env bash
# Print the path of a virtualenv that sees the pinned Feast virtualenv
# (scripts/feast-venv.sh) and adds Feast's `duckdb` extra on top of it:
# ibis-framework[duckdb] and the duckdb package. The Feast venv itself is
# shared by the tests and is left untouched; this overlay reaches its
# packages through a .pth file and installs only what is missing.
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/feature-server/feast-$FEAST_VERSION-duckdb
#
# stdout: the venv path only (logs on stderr).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE=$("$ROOT/scripts/feast-venv.sh")
VENV="$BASE-duckdb"
SPEC='ibis-framework[duckdb]>=10.0.0'
MARKER="$VENV/.overlay-key"
KEY="$SPEC over $BASE"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$KEY" ]]; then
  echo "$VENV"
  exit 0
fi
exec 9>"$VENV.lock"
flock 9
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$KEY" ]]; then
  echo "$VENV"
  exit 0
fi
echo "duckdb-venv: creating $VENV over $BASE" >&2
rm -rf "$VENV"
"$BASE/bin/python" -m venv --without-pip "$VENV" >&2 2>/dev/null || python3 -m venv --without-pip "$VENV" >&2
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
BASESITE=$("$BASE/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$BASESITE" >"$SITE/zz-feast-base.pth"
# pip of the base venv, told to install into the overlay: it resolves against
# the base's packages (visible through the .pth) and adds only what is missing.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SPEC" >&2
"$VENV/bin/python" -c 'import duckdb, ibis, feast; print("duckdb", duckdb.__version__, "ibis", ibis.__version__, "feast", feast.__version__)' >&2
echo "$KEY" >"$MARKER"
echo "$VENV"
