#!/usr/bin/env bash
# Offline benchmark (issue 11, "Speed"): point-in-time training sets, ours
# beside Feast 0.67.0's offline stores and a hand-written DuckDB ASOF JOIN,
# side by side in one run.
#
#   scripts/bench-offline.sh            1 M entity rows × 10 features of 2 views, 10 M feature rows
#   BENCH_OFFLINE_SMALL=1 scripts/bench-offline.sh     10 k × 100 k, a quick check
#   make bench-offline-pg               only the PostgreSQL lane (ours-pg, feast-pg, and the
#                                       probe as checksum reference) into bench/offline-postgres.md
#
# Data (bench/offline/gen.py, seeded) is generated once into a cache dir keyed
# by size and by gen.py's hash; the same rows are loaded into a PostgreSQL
# started by scripts/services.sh. Each tool runs once, timed by GNU time -v
# (wall, peak RSS, CPU), under `nice -n 10`:
#
#   ours (parquet)     feature-server get-historical-features over the files
#   duckdb-go          bench/duckdbjoin: asof.sql in-process through duckdb-go (cgo)
#   ASOF probe         bench/offline/asof.sql by the duckdb Python package
#   Feast file         feast_run.py, offline_store: file (dask); given
#                      BENCH_OFFLINE_FEAST_FILE_TIMEOUT s (600), then rerun on
#                      an entity frame 10× smaller (the table says so)
#   Feast duckdb       feast_run.py, offline_store: duckdb (ibis)
#   ours (PostgreSQL)  feature-server over PostgreSQLSources ("not available
#                      in this build" when our engine refuses them)
#   Feast postgres     feast_run.py, offline_store: postgres
#
# Python runs get an address-space cap of BENCH_OFFLINE_MEM_GIB GiB (16) via
# prlimit, so a Feast run cannot take the machine down. Every output is
# checksummed (bench/offline/check.py: rows, non-null counts, a hash over
# the rows) and compared with the probe's. The table goes to
# bench/offline.md (BENCH_OUT to change, - to only print).
#
# Environment: BENCH_OFFLINE_ENTITIES / BENCH_OFFLINE_FEATURE_ROWS (sizes),
# BENCH_OFFLINE_PG_PORT (14532), BENCH_OFFLINE_TOOLS (subset of
# "ours duckdbgo probe feast-file feast-duckdb ours-pg feast-pg"),
# BENCH_OFFLINE_CACHE, KEEP_TMP=1.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B="$ROOT/bench/offline"
if [[ "${BENCH_OFFLINE_SMALL:-}" == 1 ]]; then
  E=${BENCH_OFFLINE_ENTITIES:-10000} F=${BENCH_OFFLINE_FEATURE_ROWS:-100000}
else
  E=${BENCH_OFFLINE_ENTITIES:-1000000} F=${BENCH_OFFLINE_FEATURE_ROWS:-10000000}
fi
PG_PORT=${BENCH_OFFLINE_PG_PORT:-14532}
MEM_GIB=${BENCH_OFFLINE_MEM_GIB:-16}
FILE_TIMEOUT=${BENCH_OFFLINE_FEAST_FILE_TIMEOUT:-600}
TIMEOUT=${BENCH_OFFLINE_TIMEOUT:-1800}
TOOLS=${BENCH_OFFLINE_TOOLS:-ours duckdbgo probe feast-file feast-duckdb ours-pg feast-pg}
OUT=${BENCH_OUT:-$ROOT/bench/offline.md}

log() { echo "bench-offline: $*" >&2; }
want() { [[ " $TOOLS " == *" $1 "* ]]; }
[[ -x /usr/bin/time ]] || { log "needs GNU time (Debian: apt-get install -y time)"; exit 1; }

VENV=$("$ROOT/scripts/feast-venv.sh")
DVENV=$("$B/duckdb-venv.sh")
PY="$DVENV/bin/python" # Feast plus ibis/duckdb: every Python step runs here
GENKEY=$(cat "$B/gen.py" | sha256sum | cut -c1-12)
CACHE=${BENCH_OFFLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/feature-server/bench-offline/e$E-f$F-$GENKEY}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-offline.XXXXXX")
chmod 755 "$TMP" # the postgres user traverses it to its data dir
export SERVICES_DIR="$TMP/services"
PG_STARTED=0
cleanup() {
  if ((PG_STARTED)); then "$ROOT/scripts/services.sh" postgres-stop "$PG_PORT" >/dev/null 2>&1 || true; fi
  if [[ "${KEEP_TMP:-}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if [[ ! -f "$CACHE/.done" ]]; then
  log "generating $E entity rows, $F feature rows into $CACHE"
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  nice -n 10 "$PY" "$B/gen.py" "$CACHE" "$E" "$F" >&2
  touch "$CACHE/.done"
fi
FEATURES=$(paste -sd, "$CACHE/features.txt")

log "building feature-server and bench/duckdbjoin"
(cd "$ROOT" && nice -n 10 go build -o "$TMP/feature-server" ./cmd/feature-server)
if want duckdbgo; then (cd "$ROOT/bench/duckdbjoin" && nice -n 10 go build -o "$TMP/duckdbjoin" .); fi

if want ours-pg || want feast-pg; then
  "$ROOT/scripts/services.sh" postgres-start "$PG_PORT" >&2
  PG_STARTED=1
  log "loading $F feature rows into PostgreSQL"
  for v in a b; do
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U feast -d feast <<EOF
DROP TABLE IF EXISTS bench_view_$v;
CREATE TABLE bench_view_$v (entity_id BIGINT, f_${v}_double DOUBLE PRECISION, f_${v}_double2 DOUBLE PRECISION,
  f_${v}_float REAL, f_${v}_int BIGINT, f_${v}_string TEXT, event_timestamp TIMESTAMPTZ, created TIMESTAMPTZ);
\\copy bench_view_$v FROM '$CACHE/data/view_$v.csv' WITH (FORMAT csv, HEADER true)
ANALYZE bench_view_$v;
EOF
  done
fi

"$PY" "$B/gen.py" "$CACHE" "$E" "$F" --repos-into "$TMP" --pg-port "$PG_PORT"
for r in file duckdb pg; do
  [[ $r != pg ]] || ((PG_STARTED)) || continue
  log "feast apply (repo-$r)"
  (cd "$TMP/repo-$r" && FEAST_USAGE=False "$PY" -m feast.cli.cli apply >"$TMP/apply-$r.log" 2>&1) || { cat "$TMP/apply-$r.log" >&2; exit 1; }
done

# run NAME LIMIT CAP CMD...: one timed run (CAP 1: the address-space cap).
# Leaves $TMP/NAME.time and .log; prints "ok wall rss_kib cpu load",
# "timeout" or "failed".
run() {
  local name=$1 limit=$2 cap=$3; shift 3
  local pre=(nice -n 10 timeout "$limit" /usr/bin/time -v)
  ((cap)) && pre=(prlimit --as=$((MEM_GIB << 30)) -- "${pre[@]}")
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  log "$name: $*"
  set +e
  TZ=UTC FEAST_USAGE=False "${pre[@]}" "$@" >"$TMP/$name.log" 2>"$TMP/$name.time"
  local rc=$?
  set -e
  if ((rc == 124)); then echo timeout; return; fi
  if ((rc != 0)); then
    tail -n 15 "$TMP/$name.time" | sed "s/^/  $name: /" >&2
    echo failed
    return
  fi
  grep -h -E '^(feast_run|asof_probe|duckdbjoin):' "$TMP/$name.time" "$TMP/$name.log" >&2 || true
  awk -v load="$load" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
    /Maximum resident set size/ { rss = $2 }
    /User time/ { cpu += $2 } /System time/ { cpu += $2 }
    END { printf "ok %.2f %d %.2f %s\n", wall, rss, cpu, load }' "$TMP/$name.time"
}

declare -A RES FILE ROWS
# tool NAME ENTITIES LIMIT CAP CMD... (with @OUT@ for the output path)
tool() {
  local name=$1 ent=$2 limit=$3 cap=$4; shift 4
  local out="$TMP/out-$name.parquet" args=() a
  for a in "$@"; do args+=("${a//@OUT@/$out}"); done
  RES[$name]=$(run "$name" "$limit" "$cap" "${args[@]}")
  FILE[$name]=$out
  ROWS[$name]=$ent
}

ENT="$CACHE/entities.parquet"
FS="$TMP/feature-server"
want ours && tool ours "$E" "$TIMEOUT" 0 "$FS" -c "$TMP/repo-file" get-historical-features --entities "$ENT" --features "$FEATURES" --output @OUT@
want duckdbgo && tool duckdbgo "$E" "$TIMEOUT" 0 "$TMP/duckdbjoin" -sql "$B/asof.sql" -data "$CACHE/data" -entities "$ENT" -output @OUT@
want probe && tool probe "$E" "$TIMEOUT" 1 "$PY" "$B/asof_probe.py" "$CACHE/data" "$ENT" @OUT@
want feast-duckdb && tool feast-duckdb "$E" "$TIMEOUT" 1 "$PY" "$B/feast_run.py" "$TMP/repo-duckdb" "$ENT" "$CACHE/features.txt" @OUT@
want ours-pg && tool ours-pg "$E" "$TIMEOUT" 0 "$FS" -c "$TMP/repo-pg" get-historical-features --entities "$ENT" --features "$FEATURES" --output @OUT@
want feast-pg && tool feast-pg "$E" "$TIMEOUT" 1 "$PY" "$B/feast_run.py" "$TMP/repo-pg" "$ENT" "$CACHE/features.txt" @OUT@
SMALL_NOTE=""
if want feast-file; then
  tool feast-file "$E" "$FILE_TIMEOUT" 1 "$PY" "$B/feast_run.py" "$TMP/repo-file" "$ENT" "$CACHE/features.txt" @OUT@
  if [[ ${RES[feast-file]} != ok* ]]; then
    E10=$((E / 10))
    SMALL_NOTE="Feast's file store ${RES[feast-file]%% *} on $E entity rows (limit ${FILE_TIMEOUT}s); measured on the first $E10 rows of the frame, beside ours and the probe on the same $E10."
    log "$SMALL_NOTE"
    "$PY" -c 'import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); pq.write_table(t.slice(0, int(sys.argv[3])), sys.argv[2])' "$ENT" "$TMP/entities-10.parquet" "$E10"
    RES[feast-file-big]=${RES[feast-file]}
    tool feast-file "$E10" "$TIMEOUT" 1 "$PY" "$B/feast_run.py" "$TMP/repo-file" "$TMP/entities-10.parquet" "$CACHE/features.txt" @OUT@
    tool ours-10 "$E10" "$TIMEOUT" 0 "$FS" -c "$TMP/repo-file" get-historical-features --entities "$TMP/entities-10.parquet" --features "$FEATURES" --output @OUT@
    tool probe-10 "$E10" "$TIMEOUT" 1 "$PY" "$B/asof_probe.py" "$CACHE/data" "$TMP/entities-10.parquet" @OUT@
  fi
fi

# Checksums of every output that exists, compared with the probe's on the
# same frame.
outs=()
for n in "${!FILE[@]}"; do [[ ${RES[$n]:-} == ok* && -f ${FILE[$n]} ]] && outs+=("${FILE[$n]}"); done
declare -A SUM
if ((${#outs[@]})); then
  while IFS= read -r line; do
    f=$(sed -n 's/^{"file": "\([^"]*\)".*/\1/p' <<<"$line")
    SUM[$f]=$(sed 's/^{"file": "[^"]*", //' <<<"$line")
    log "checksum $(basename "$f"): ${SUM[$f]}"
  done < <(nice -n 10 "$PY" "$B/check.py" "${outs[@]}")
fi
agree() { # NAME: how its output compares with the probe's on the same frame
  local n=$1 ref=probe
  [[ $n == *-10 || ( $n == feast-file && -n $SMALL_NOTE ) ]] && ref=probe-10
  [[ $n == "$ref" ]] && { echo "(reference)"; return; }
  local a=${SUM[${FILE[$n]:-}]:-} b=${SUM[${FILE[$ref]:-}]:-}
  if [[ -z $a || -z $b ]]; then echo "-"; elif [[ $a == "$b" ]]; then echo "yes"
  else echo "**NO** ($(sed -n 's/^"rows": \([0-9]*\).*/\1/p' <<<"$a") rows)"; fi
}

declare -A LABEL=([ours]="ours, parquet (Go as-of join)" [duckdbgo]="DuckDB in-process via duckdb-go (bench/duckdbjoin)"
  [probe]="ASOF JOIN probe (duckdb Python)" [feast-file]="Feast 0.67 file (dask)" [feast-duckdb]="Feast 0.67 duckdb"
  [ours-pg]="ours, PostgreSQL" [feast-pg]="Feast 0.67 postgres" [ours-10]="ours, parquet" [probe-10]="ASOF JOIN probe (duckdb Python)")
row() { # NAME
  local n=$1 r=${RES[$1]:-} status wall rss cpu load
  read -r status wall rss cpu load <<<"$r"
  if [[ $status == ok ]]; then
    awk -v t="${LABEL[$n]}" -v e="${ROWS[$n]}" -v f="$F" -v w="$wall" -v r="$rss" -v c="$cpu" -v l="$load" -v a="$(agree "$n")" 'BEGIN {
      printf "| %s | %d | %d | %.2f | %.0f | %.0f | %.1f | %s | %s |\n", t, e, f, w, e / w, r / 1024, c, a, l }'
  elif [[ $n == ours-pg ]]; then
    local why; why=$(grep -v -e '^\s' -e '^Command ' "$TMP/ours-pg.time" 2>/dev/null | head -n 1 | cut -c1-120 || true)
    echo "| ${LABEL[$n]} | ${ROWS[$n]} | $F | not available in this build${why:+ (${why//|/\\|})} | | | | | |"
  else
    echo "| ${LABEL[$n]} | ${ROWS[$n]:-$E} | $F | ${status:-not run} | | | | | |"
  fi
}
wall() { local s w; read -r s w _ <<<"${RES[$1]:-}"; [[ $s == ok ]] && echo "$w"; }
rss() { local s w r; read -r s w r _ <<<"${RES[$1]:-}"; [[ $s == ok ]] && echo "$r"; }
ratio() { # TEXT A B: prints "TEXT: B/A×"
  local a b; a=$(wall "$2" || true); b=$(wall "$3" || true)
  [[ -n $a && -n $b ]] && awk -v t="$1" -v a="$a" -v b="$b" 'BEGIN { printf "- %s: %.2f×\n", t, b / a }'
  return 0
}

{
  echo "| tool | entity rows | feature rows | wall s | rows/s | peak RSS MiB | CPU s | same rows as the probe | load |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for n in ours duckdbgo probe feast-duckdb feast-file ours-10 probe-10 ours-pg feast-pg; do
    [[ -n ${RES[$n]:-} ]] && row "$n"
  done
  echo
  echo "Against the targets (wall time of the other divided by ours; above 1 means we are faster):"
  a=$(wall ours || true)
  [[ -n $a ]] && awk -v a="$a" 'BEGIN { printf "- ours on parquet: %.2f s (target ≤ 10 s)\n", a }'
  r=$(rss ours || true)
  [[ -n $r ]] && awk -v r="$r" 'BEGIN { printf "- peak RSS of ours: %.0f MiB (target ≤ 1024 MiB)\n", r / 1024 }'
  if [[ -n $SMALL_NOTE ]]; then ratio "Feast file / ours, on $((E / 10)) rows (target ≥ 10×)" ours-10 feast-file
  else ratio "Feast file / ours (target ≥ 10×)" ours feast-file; fi
  ratio "Feast duckdb / ours (target > 1×)" ours feast-duckdb
  ratio "ASOF probe / ours (target ≥ 0.8×)" ours probe
  ratio "DuckDB in-process (duckdb-go) / ours: the engine question" ours duckdbgo
  ratio "Feast postgres / ours on PostgreSQL (target ≥ 2×)" ours-pg feast-pg
  [[ -n $SMALL_NOTE ]] && { echo; echo "$SMALL_NOTE"; }
  echo
  echo "Data: bench/offline/gen.py, $E entity rows × 10 features of 2 views (ttl 1 d and 7 d, 2 % created-time ties), $F feature rows ($((F / 2)) a view), parquet and PostgreSQL $(psql --version 2>/dev/null | awk '{print $3}'). Python runs capped at ${MEM_GIB} GiB of address space; all runs under nice -n 10."
  echo "Machine: $(nproc) CPUs, $(uname -sr), load average before the first run and each run in the table, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
} >"$TMP/table.md"
cat "$TMP/table.md"
if [[ $OUT != - ]]; then cp "$TMP/table.md" "$OUT"; log "wrote $OUT"; fi
