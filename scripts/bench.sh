#!/usr/bin/env bash
# Load benchmark (make bench): our server vs the limit probe vs `feast serve`,
# side by side in one run, on one generated Feast repo in one local Redis.
#
#   scripts/bench.sh
#
# 1. Starts a throw-away Redis (scripts/services.sh), generates the benchmark
#    repo (bench/gen_repo.py: entity user_id INT64, 5 views × 10 features,
#    2,000 entities, key version 3), runs real `feast apply` and
#    `feast materialize` from the Feast 0.67.0 venv.
# 2. Builds our server and the limit probe (bench/limitprobe; its hash `k` is
#    written to the same Redis).
# 3. Runs each server alone, in turn, and measures each request of
#    internal/bench/requests/ with `wrk -t1 -d5s --latency` at 1, 4 and 16
#    connections (bench/post.lua).
# 4. Prints a markdown table with ratios and targets (bench/report.py) and
#    writes it to bench/results.md.
#
# Everything it starts is stopped on exit, on failure or interrupt too; temp
# data lives in one mktemp dir that is removed (KEEP_TMP=1 keeps it).
#
# Environment:
#   BENCH_DURATION  wrk duration per measurement (default 5s)
#   BENCH_CONNS     connection counts (default "1 4 16")
#   BENCH_REQUESTS  request names under internal/bench/requests (default "1x3 1x50 100x50")
#   BENCH_SERVERS   subset of "ours probe-goredis probe-rueidis feast" (default all),
#                   plus ours-cache: ours with the hot-entity cache (256 MiB;
#                   every request's entities are hot, so this is its hit path),
#                   ours-metrics: ours with -m (every metric observed), and
#                   ours-auth: ours with auth: oidc, each request carrying a
#                   Keycloak token (scripts/keycloak.sh; no permissions in
#                   the repo, so every authenticated user may read)
#   BENCH_ENTITIES  entities in the generated repo (default 2000)
#   BENCH_OUT       report path (default bench/results.md; "-" for stdout only)
#   BENCH_BASELINE  a git revision: its server is built too and measured in the
#                   same run as "ours at <rev>" (before/after of a change)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION="${BENCH_DURATION:-5s}"
CONNS="${BENCH_CONNS:-1 4 16}"
REQUESTS="${BENCH_REQUESTS:-1x3 1x50 100x50}"
SERVERS="${BENCH_SERVERS:-ours probe-goredis probe-rueidis feast}"
BASELINE="${BENCH_BASELINE:-}"
if [[ -n "$BASELINE" ]]; then
  BASELINE=$(git rev-parse --short "$BASELINE^{commit}")
  SERVERS="baseline $SERVERS"
fi
ENTITIES="${BENCH_ENTITIES:-2000}"
OUT="${BENCH_OUT:-$ROOT/bench/results.md}"
POST_LUA="$ROOT/bench/post.lua"

log() { echo "bench: $*" >&2; }

"$ROOT/scripts/deps.sh"
VENV=$("$ROOT/scripts/feast-venv.sh")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/feastgo-bench.XXXXXX")
export SERVICES_DIR="$TMP/services"
# Below the ephemeral port range, where wrk's and curl's client sockets land.
base=$((10000 + RANDOM % 20000))
REDIS_PORT=$base
HTTP_PORT=$((base + 1))
METRICS_PORT=$((base + 2))
KEYCLOAK_PORT=$((base + 3))
SERVER_PID=""

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    # The server runs in its own process group (setsid): stop the group,
    # which also takes feast serve's worker processes.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  local rc=$?
  stop_server
  "$ROOT/scripts/services.sh" redis-stop "$REDIS_PORT" >/dev/null 2>&1 || true
  [[ -d "$TMP/keycloak" ]] && "$ROOT/scripts/keycloak.sh" stop "$TMP/keycloak" >/dev/null 2>&1 || true
  if [[ "${KEEP_TMP:-}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')

# --- data -------------------------------------------------------------------
"$ROOT/scripts/services.sh" redis-start "$REDIS_PORT" >&2
REPO="$TMP/repo"
log "generating the repo ($ENTITIES entities), feast apply, feast materialize"
"$VENV/bin/python" "$ROOT/bench/gen_repo.py" "$REPO" "$REDIS_PORT" "$ENTITIES"
(cd "$REPO" && "$VENV/bin/feast" apply >"$TMP/feast-apply.log" 2>&1) || { cat "$TMP/feast-apply.log" >&2; exit 1; }
(cd "$REPO" && "$VENV/bin/feast" materialize 2024-01-01T00:00:00 2024-01-10T00:00:00 >"$TMP/feast-materialize.log" 2>&1) ||
  { cat "$TMP/feast-materialize.log" >&2; exit 1; }
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" hset k f1 1 f2 2 f3 3 f4 4 f5 5 f6 6 f7 7 f8 8 f9 9 f10 10 _ts 11 >/dev/null
log "redis holds $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" dbsize) keys"

# --- auth: a Keycloak token and a repo that verifies it -----------------------
if [[ " $SERVERS " == *" ours-auth "* ]]; then
  log "starting Keycloak for ours-auth"
  "$ROOT/scripts/keycloak.sh" start "$TMP/keycloak" "$KEYCLOAK_PORT" >/dev/null
  # shellcheck disable=SC1091
  source "$TMP/keycloak/env"
  token=$(curl -sf -d grant_type=password -d client_id=feast-client -d client_secret=feast-secret \
    -d username=alice -d password=alice-password "$FEASTGO_TEST_OIDC_TOKEN_URL" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  BENCH_AUTHZ="Bearer $token"
  AUTH_REPO="$TMP/repo-auth"
  cp -r "$REPO" "$AUTH_REPO"
  printf 'auth:\n  type: oidc\n  client_id: feast-client\n  auth_discovery_url: %s\n' "$FEASTGO_TEST_OIDC_DISCOVERY" >>"$AUTH_REPO/feature_store.yaml"
fi

# --- binaries -----------------------------------------------------------------
log "building our server and the limit probe"
go build -o "$TMP/feature-server" ./cmd/feature-server
go build -o "$TMP/limit-probe" ./bench/limitprobe
if [[ -n "$BASELINE" ]]; then
  log "building our server at $BASELINE"
  mkdir -p "$TMP/baseline-src"
  git archive "$BASELINE" | tar -x -C "$TMP/baseline-src"
  (cd "$TMP/baseline-src" && go build -o "$TMP/feature-server-baseline" ./cmd/feature-server)
fi

# --- measuring ---------------------------------------------------------------
URL="http://127.0.0.1:$HTTP_PORT/get-online-features"

start_server() { # name
  local name="$1"
  case "$name" in
    ours) setsid "$TMP/feature-server" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" >"$TMP/$name.log" 2>&1 & ;;
    ours-cache) setsid "$TMP/feature-server" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" --online-cache-bytes 268435456 >"$TMP/$name.log" 2>&1 & ;;
    ours-metrics) setsid "$TMP/feature-server" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" -m --metrics-port "$METRICS_PORT" >"$TMP/$name.log" 2>&1 & ;;
    ours-auth) setsid "$TMP/feature-server" -c "$AUTH_REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" >"$TMP/$name.log" 2>&1 & ;;
    baseline) setsid "$TMP/feature-server-baseline" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT" >"$TMP/$name.log" 2>&1 & ;;
    probe-goredis | probe-rueidis)
      setsid "$TMP/limit-probe" -addr "127.0.0.1:$REDIS_PORT" -port "$HTTP_PORT" -client "${name#probe-}" >"$TMP/$name.log" 2>&1 & ;;
    feast) (cd "$REPO" && exec setsid "$VENV/bin/feast" -c "$REPO" serve -h 127.0.0.1 -p "$HTTP_PORT") >"$TMP/$name.log" 2>&1 & ;;
    *) log "unknown server $name"; exit 2 ;;
  esac
  SERVER_PID=$!
  local i
  for ((i = 0; i < 1200; i++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' ${AUTHZ:+-H "Authorization: $AUTHZ"} \
      --data-binary @"$ROOT/internal/bench/requests/1x3.json" "$URL" 2>/dev/null)" == 200 ]]; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/$name.log" >&2; log "$name exited"; exit 1; }
    sleep 0.1
  done
  cat "$TMP/$name.log" >&2
  log "$name did not answer within 120s"
  exit 1
}

# to_ms VALUE-WITH-UNIT (wrk prints us, ms, s or m)
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

RESULTS="$TMP/results.tsv"
: >"$RESULTS"
label() {
  case "$1" in
    ours) echo "ours" ;;
    ours-cache) echo "ours + online cache" ;;
    ours-metrics) echo "ours + metrics (-m)" ;;
    ours-auth) echo "ours + OIDC auth" ;;
    baseline) echo "ours at $BASELINE" ;;
    probe-goredis) echo "limit probe (go-redis)" ;;
    probe-rueidis) echo "limit probe (rueidis)" ;;
    feast) echo "feast serve" ;;
  esac
}

for server in $SERVERS; do
  log "starting $server"
  AUTHZ=""
  [[ "$server" == ours-auth ]] && AUTHZ="$BENCH_AUTHZ"
  export AUTHZ
  start_server "$server"
  for req in $REQUESTS; do
    body="$ROOT/internal/bench/requests/$req.json"
    BODY="$body" wrk -t1 -c4 -d1s -s "$POST_LUA" "$URL" >/dev/null 2>&1 || true # warm-up
    for c in $CONNS; do
      out=$(BODY="$body" wrk -t1 -c"$c" -d"$DURATION" --latency -s "$POST_LUA" "$URL" 2>&1) || true
      p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      rps=$(awk '$1 == "Requests/sec:" {print $2}' <<<"$out")
      # "Non-2xx or 3xx responses: N" and "Socket errors: connect A, read B, write C, timeout D"
      errs=$(awk '/Non-2xx/ {printf "%s non-2xx, ", $NF}
        /Socket errors/ {gsub(",", ""); for (i = 3; i < NF; i += 2) if ($(i + 1) > 0) printf "%s %s errors, ", $(i + 1), $i}' <<<"$out" | sed 's/, $//')
      if [[ -z "$rps" || -z "$p50" ]]; then
        log "wrk failed for $server $req c=$c:"; echo "$out" >&2
        printf '%s\t%s\t%s\tnan\tnan\tnan\twrk failed\n' "$(label "$server")" "$req" "$c" >>"$RESULTS"
        continue
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(label "$server")" "$req" "$c" "$(to_ms "$p50")" "$(to_ms "$p99")" "$rps" "${errs:-0}" >>"$RESULTS"
      log "$server $req c=$c: p50 $p50 p99 $p99 rps $rps ${errs}"
    done
  done
  stop_server
done

# --- report -------------------------------------------------------------------
REPORT="$TMP/report.md"
{
  echo "# Benchmark results"
  echo
  echo "Measured by \`scripts/bench.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty tree)'):"
  echo "$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(go env GOVERSION), Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), Feast $("$VENV/bin/python" -c 'import feast; print(feast.__version__)' 2>/dev/null),"
  echo "wrk -t1 -d$DURATION --latency on loopback; one server at a time, same Redis, same generated repo"
  echo "($ENTITIES entities, 5 views × 10 features, key version 3). Load average at start: $LOADAVG."
  echo "Absolute figures drift between runs on these machines; compare within one run."
  echo
  python3 "$ROOT/bench/report.py" "$RESULTS"
} >"$REPORT"
cat "$REPORT"
if [[ "$OUT" != "-" ]]; then
  cp "$REPORT" "$OUT"
  log "wrote $OUT"
fi
log "done in $(($(date +%s) - START))s"
