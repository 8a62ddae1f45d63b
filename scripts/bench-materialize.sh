#!/usr/bin/env bash
# Materialization benchmark: our `feature-server materialize` against
# `feast materialize` (Feast 0.67.0), parquet → local Redis, side by side.
#
#   scripts/bench-materialize.sh [ENTITIES]        default 1000000 (× 10 features)
#
# Generates a parquet file of ENTITIES rows (one per entity: 4 Float64, 2
# Float32, 2 Int64, a String and a Bool feature), runs `feast apply`, then
# materializes the same window into two Redis databases: ours, then Feast's.
# Each run is timed with /usr/bin/time -v (wall, peak RSS, CPU) and Redis's
# own CPU is read from INFO. Both stores are then compared hash by hash.
# Feast gets FEAST_TIMEOUT seconds (default 900); if it runs out, both tools
# are measured again on ENTITIES/10 and the table says so.
#
# Environment: FEAST_TIMEOUT, KEEP_TMP=1 (keep the temp dir), BENCH_OUT (also
# write the markdown table to this file), SKIP_FEAST=1 (measure ours only, to
# iterate; the recorded table must come from a run with both), OURS_RUNS=N
# (run ours N times, one row each; default 1).
#
# The machine is shared: wrap the whole script in `flock /tmp/bench.lock` so
# benchmarks of different sessions never overlap. Every row carries the
# 1-minute load average read just before that run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-1000000}
FEAST_TIMEOUT=${FEAST_TIMEOUT:-900}
START=2025-01-01T00:00:00
END=2025-01-08T00:00:00

log() { echo "bench-materialize: $*" >&2; }
[[ -x /usr/bin/time ]] || { log "needs /usr/bin/time (Debian: apt-get install -y time)"; exit 1; }

VENV=$("$ROOT/scripts/feast-venv.sh")
PY="$VENV/bin/python"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-materialize.XXXXXX")
export SERVICES_DIR="$TMP/services"
PORT=$((30000 + RANDOM % 20000))
cleanup() {
  "$ROOT/scripts/services.sh" redis-stop "$PORT" >/dev/null 2>&1 || true
  if [[ "${KEEP_TMP:-}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
"$ROOT/scripts/services.sh" redis-start "$PORT" >&2

log "go build"
(cd "$ROOT" && go build -o "$TMP/feature-server" ./cmd/feature-server)

# make_repo DIR ENTITIES: the benchmark feature repo with its data.
make_repo() {
  local dir=$1 n=$2
  mkdir -p "$dir/data"
  cat >"$dir/features.py" <<'EOF'
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Bool, Float32, Float64, Int64, String

entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
source = FileSource(
    name="bench_source", path="data/bench.parquet",
    timestamp_field="event_timestamp", created_timestamp_column="created",
)
bench_stats = FeatureView(
    name="bench_stats", entities=[entity], ttl=timedelta(days=30), online=True, source=source,
    schema=[Field(name=f"f_double_{i}", dtype=Float64) for i in range(1, 5)]
    + [Field(name=f"f_float_{i}", dtype=Float32) for i in range(1, 3)]
    + [Field(name=f"f_int_{i}", dtype=Int64) for i in range(1, 3)]
    + [Field(name="f_string", dtype=String), Field(name="f_bool", dtype=Bool)],
)
EOF
  "$PY" - "$dir/data/bench.parquet" "$n" <<'EOF'
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(20250101)
ts = np.datetime64("2025-01-01T00:00:00", "us") + rng.integers(0, 6 * 86400 * 10**6, n).astype("timedelta64[us]")
table = pa.table({
    "entity_id": np.arange(n, dtype=np.int64),
    "f_double_1": rng.random(n),
    "f_double_2": rng.random(n) * 1000,
    "f_double_3": rng.normal(size=n),
    "f_double_4": rng.random(n) * 1e6,
    "f_float_1": rng.random(n).astype(np.float32),
    "f_float_2": (rng.random(n) * 100).astype(np.float32),
    "f_int_1": rng.integers(0, 1000, n),
    "f_int_2": rng.integers(0, 10**9, n),
    "f_string": np.array(["success", "failed", "running", "cancelled"])[rng.integers(0, 4, n)],
    "f_bool": rng.random(n) < 0.5,
    "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
    "created": pa.array(ts, pa.timestamp("us", tz="UTC")),
})
pq.write_table(table, path, row_group_size=128 * 1024, compression="snappy")
EOF
}

# yaml DIR DB: point the repo at one Redis database.
yaml() {
  cat >"$1/feature_store.yaml" <<EOF
project: bench
provider: local
registry: data/registry.db
online_store:
  type: redis
  connection_string: "127.0.0.1:$PORT,db=$2"
offline_store:
  type: file
entity_key_serialization_version: 3
EOF
}

redis_cpu() { redis-cli -p "$PORT" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.2f", s}'; }

# run NAME DIR DB TIMEOUT CMD...: one timed materialization; prints
# "wall rss_kb cpu redis_cpu keys load" or "timeout".
run() {
  local name=$1 dir=$2 db=$3 limit=$4; shift 4
  yaml "$dir" "$db"
  redis-cli -p "$PORT" -n "$db" flushdb >/dev/null
  local before after load
  before=$(redis_cpu)
  load=$(cut -d' ' -f1 /proc/loadavg)
  log "$name: $*"
  if ! (cd "$dir" && TZ=UTC FEAST_USAGE=False timeout "$limit" /usr/bin/time -v "$@" >"$TMP/$name.out" 2>"$TMP/$name.time"); then
    if grep -q "Command terminated by signal\|Exit status: 124" "$TMP/$name.time" 2>/dev/null || ! grep -q "Exit status: 0" "$TMP/$name.time"; then
      tail -n 20 "$TMP/$name.out" "$TMP/$name.time" >&2 || true
      echo timeout
      return
    fi
  fi
  after=$(redis_cpu)
  awk -v rcpu="$(echo "$after - $before" | bc)" -v keys="$(redis-cli -p "$PORT" -n "$db" dbsize)" -v load="$load" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
    /Maximum resident set size/ { rss = $2 }
    /User time/ { cpu += $2 } /System time/ { cpu += $2 }
    END { printf "%.2f %d %.2f %.2f %d %s\n", wall, rss, cpu, rcpu, keys, load }' "$TMP/$name.time"
}

# compare DB1 DB2: every hash of the two databases, byte for byte.
compare() {
  "$PY" - "$PORT" "$1" "$2" <<'EOF'
import sys

import redis

port, a, b = (int(x) for x in sys.argv[1:])

def dump(db):
    r = redis.Redis(host="127.0.0.1", port=port, db=db)
    out, cursor = {}, 0
    while True:
        cursor, keys = r.scan(cursor, count=10000)
        pipe = r.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
        out.update(zip(keys, pipe.execute()))
        if cursor == 0:
            return out

da, db = dump(a), dump(b)
same = da == db
print(f"{'identical' if same else 'DIFFERENT'}: {len(da)} vs {len(db)} hashes")
sys.exit(0 if same else 1)
EOF
}

measure() {
  local n=$1 dir="$TMP/repo-$1"
  log "generating $n entities × 10 features"
  make_repo "$dir" "$n"
  yaml "$dir" 0
  (cd "$dir" && TZ=UTC FEAST_USAGE=False "$VENV/bin/feast" apply >"$TMP/apply-$n.log" 2>&1)
  OURS_ALL=()
  for ((i = 1; i <= ${OURS_RUNS:-1}; i++)); do
    OURS=$(run "ours-$n" "$dir" 1 3600 "$TMP/feature-server" -c . materialize "$START" "$END")
    OURS_ALL+=("$OURS")
  done
  if [[ "${SKIP_FEAST:-}" == 1 ]]; then
    FEAST=skipped
  else
    FEAST=$(run "feast-$n" "$dir" 2 "$FEAST_TIMEOUT" "$VENV/bin/feast" materialize "$START" "$END")
  fi
}

row() { # tool n stats
  local tool=$1 n=$2; shift 2
  read -r wall rss cpu rcpu keys load <<<"$*"
  awk -v t="$tool" -v n="$n" -v w="$wall" -v r="$rss" -v c="$cpu" -v rc="$rcpu" -v k="$keys" -v l="$load" 'BEGIN {
    printf "| %s | %d | %d | %.1f | %d | %.0f | %.1f | %.1f | %s |\n", t, n, n * 10, w, n * 10 / w, r / 1024, c, rc, l }'
}

measure "$N"
SIZE=$N
NOTE=""
if [[ "$FEAST" == timeout ]]; then
  SIZE=$((N / 10))
  NOTE="Feast did not finish $N entities within ${FEAST_TIMEOUT}s; both tools measured on $SIZE entities."
  log "$NOTE"
  OURS_BIG=$OURS
  measure "$SIZE"
fi
[[ "$FEAST" != timeout ]] || { log "Feast timed out on $SIZE entities too"; exit 1; }
for o in "${OURS_ALL[@]}"; do [[ "$o" != timeout ]] || { log "our run failed"; exit 1; }; done
if [[ "$FEAST" != skipped ]]; then
  log "comparing the two Redis databases"
  CMP=$(compare 1 2)
fi

{
  echo "| tool | entities | feature values | wall s | values/s | peak RSS MB | CPU s | Redis CPU s | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|"
  [[ -n "${OURS_BIG:-}" ]] && row "feature-server" "$N" "$OURS_BIG"
  for o in "${OURS_ALL[@]}"; do row "feature-server" "$SIZE" "$o"; done
  if [[ "$FEAST" != skipped ]]; then
    row "feast materialize 0.67.0" "$SIZE" "$FEAST"
    echo
    read -r ow _ <<<"$OURS"; read -r fw _ <<<"$FEAST"
    awk -v o="$ow" -v f="$fw" 'BEGIN { printf "Speed-up on the same data: %.1f× (wall time).\n", f / o }'
    echo "Stores after both runs: $CMP (HGETALL of every key)."
  else
    echo
    echo "feast materialize skipped (SKIP_FEAST=1)."
  fi
  [[ -n "$NOTE" ]] && echo "$NOTE"
  echo "Machine: $(nproc) CPUs, $(uname -sr), Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), load average $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "${BENCH_OUT:-/dev/null}"
