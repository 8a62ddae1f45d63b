#!/usr/bin/env bash
# Start/stop the throw-away backing services used by tests and benchmarks:
# standalone Redis, a 3-master Redis Cluster, Redis + Sentinel, and PostgreSQL.
#
# Everything listens on 127.0.0.1 only and keeps its data under
# ${SERVICES_DIR:-/tmp/feastgo-services}/<service>-<port>. Every start command
# is idempotent: a service that already answers on its port is reused. No
# persistence is configured for Redis; data is disposable.
#
# Missing binaries are installed when running as root on Debian/Ubuntu
# (apt-get update once, then apt-get install -y redis-server postgresql).
#
# Usage:
#   scripts/services.sh redis-start PORT        | redis-stop PORT
#   scripts/services.sh cluster-start BASEPORT  | cluster-stop BASEPORT
#       3 masters on BASEPORT..BASEPORT+2, no replicas
#   scripts/services.sh sentinel-start MASTERPORT SENTINELPORT
#   scripts/services.sh sentinel-stop [MASTERPORT SENTINELPORT]
#       master redis + one sentinel monitoring it as "mymaster" (quorum 1);
#       without ports, stops every sentinel setup recorded under SERVICES_DIR
#   scripts/services.sh postgres-start PORT     | postgres-stop PORT
#       database "feast", user "feast" password "feast", trust auth on 127.0.0.1
set -euo pipefail

SERVICES_DIR="${SERVICES_DIR:-/tmp/feastgo-services}"
HOST=127.0.0.1
WAIT_SECS="${WAIT_SECS:-30}"

log() { echo "services: $*" >&2; }
die() { log "error: $*"; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

is_port() { [[ "${1:-}" =~ ^[0-9]+$ ]] && (( $1 > 0 && $1 < 65536 )); }
need_port() { is_port "${1:-}" || die "expected a port number, got '${1:-}'"; }

# --------------------------------------------------------------------------
# Package installation

APT_UPDATED=0
apt_install() {
  is_root || die "missing $* and not root; install them (Debian: apt-get install -y $*)"
  command -v apt-get >/dev/null 2>&1 || die "missing $* and no apt-get on this machine"
  if (( APT_UPDATED == 0 )); then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update >&2
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2
}

PG_BIN=""
find_pg_bin() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    # may be a symlink into /usr/lib/postgresql/N/bin (which has pg_isready etc.)
    PG_BIN=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    return 0
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [[ -n "$d" && -x "$d/pg_ctl" && -x "$d/initdb" ]]; then
    PG_BIN="$d"
    return 0
  fi
  return 1
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  apt_install redis-server postgresql
  command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after install"
}

ensure_postgres() {
  find_pg_bin && command -v psql >/dev/null 2>&1 && return 0
  apt_install redis-server postgresql
  find_pg_bin || die "pg_ctl/initdb still missing after install"
}

# Wait until "$@" succeeds, at most WAIT_SECS seconds; 1 if it never did.
wait_for_quiet() {
  shift
  local i
  for ((i = 0; i < WAIT_SECS * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Wait until "$@" succeeds, at most WAIT_SECS seconds, or stop the script.
wait_for() {
  wait_for_quiet "$@" || die "timed out after ${WAIT_SECS}s waiting for $1"
}

# --------------------------------------------------------------------------
# Redis helpers

redis_ping() { [[ "$(redis-cli -h $HOST -p "$1" ping 2>/dev/null)" == PONG ]]; }
redis_down() { ! redis_ping "$1"; }

# redis_launch PORT DIR [extra redis-server args...]
redis_launch() {
  local port="$1" dir="$2"; shift 2
  mkdir -p "$dir"
  redis-server \
    --port "$port" --bind "$HOST" \
    --daemonize yes \
    --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" \
    --dir "$dir" \
    --save "" --appendonly no \
    "$@"
  if ! wait_for_quiet "redis on port $port" redis_ping "$port"; then
    echo "services: redis on port $port did not answer; the end of $dir/redis.log:" >&2
    tail -n 20 "$dir/redis.log" >&2 2>/dev/null || true
    die "timed out after ${WAIT_SECS}s waiting for redis on port $port"
  fi
}

# redis_shutdown PORT DIR: SHUTDOWN NOSAVE, falling back to the pid in DIR.
redis_shutdown() {
  local port="$1" dir="$2"
  if redis_ping "$port"; then
    redis-cli -h $HOST -p "$port" shutdown nosave >/dev/null 2>&1 || true
  elif [[ -f "$dir/redis.pid" ]]; then
    local pid; pid=$(cat "$dir/redis.pid")
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  fi
  wait_for "redis on port $port to stop" redis_down "$port"
  rm -f "$dir/redis.pid"
}

cmd_redis_start() {
  local port="${1:-}"; need_port "$port"; ensure_redis
  if redis_ping "$port"; then log "redis already running on $HOST:$port"; return 0; fi
  redis_launch "$port" "$SERVICES_DIR/redis-$port"
  log "redis started on $HOST:$port (data $SERVICES_DIR/redis-$port)"
}

cmd_redis_stop() {
  local port="${1:-}"; need_port "$port"
  redis_shutdown "$port" "$SERVICES_DIR/redis-$port"
  rm -rf "${SERVICES_DIR:?}/redis-$port"
  log "redis on $HOST:$port stopped"
}

# --------------------------------------------------------------------------
# Redis Cluster

cluster_ok() {
  redis-cli -h $HOST -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok'
}

cluster_all_ok() {
  local base="$1" p
  for p in "$base" $((base + 1)) $((base + 2)); do
    cluster_ok "$p" || return 1
  done
}

cmd_cluster_start() {
  local base="${1:-}"; need_port "$base"; ensure_redis
  local ports=("$base" $((base + 1)) $((base + 2))) p
  local root="$SERVICES_DIR/cluster-$base"

  if cluster_all_ok "$base"; then
    log "redis cluster already running on $HOST:${ports[0]}-${ports[2]}"
    return 0
  fi

  # Anything half-formed (some nodes down, a failed create) is torn down and
  # rebuilt from empty node configs: this is disposable test data.
  local any_up=0
  for p in "${ports[@]}"; do redis_ping "$p" && any_up=1; done
  if (( any_up )); then
    local fresh=1
    for p in "${ports[@]}"; do
      local known
      known=$(redis-cli -h $HOST -p "$p" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_known_nodes://p' || true)
      [[ "$known" == 1 ]] || fresh=0
    done
    if (( ! fresh )); then
      log "redis cluster on $HOST:${ports[0]}-${ports[2]} is in a broken state; recreating"
      for p in "${ports[@]}"; do redis_shutdown "$p" "$root/$p"; done
    fi
  fi

  for p in "${ports[@]}"; do
    if ! redis_ping "$p"; then
      rm -rf "${root:?}/$p"
      redis_launch "$p" "$root/$p" \
        --cluster-enabled yes \
        --cluster-config-file "$root/$p/nodes.conf" \
        --cluster-node-timeout 5000
    fi
  done

  log "creating redis cluster on $HOST:${ports[0]}-${ports[2]}"
  redis-cli --cluster create "$HOST:${ports[0]}" "$HOST:${ports[1]}" "$HOST:${ports[2]}" \
    --cluster-replicas 0 --cluster-yes >&2
  wait_for "cluster_state:ok on $HOST:${ports[0]}-${ports[2]}" cluster_all_ok "$base"
  log "redis cluster ready on $HOST:${ports[0]}-${ports[2]} (data $root)"
}

cmd_cluster_stop() {
  local base="${1:-}"; need_port "$base"
  local root="$SERVICES_DIR/cluster-$base" p
  for p in "$base" $((base + 1)) $((base + 2)); do
    redis_shutdown "$p" "$root/$p"
  done
  rm -rf "${root:?}"
  log "redis cluster on $HOST:$base-$((base + 2)) stopped"
}

# --------------------------------------------------------------------------
# Redis Sentinel

sentinel_has_master() {
  [[ -n "$(redis-cli -h $HOST -p "$1" sentinel get-master-addr-by-name mymaster 2>/dev/null)" ]]
}

cmd_sentinel_start() {
  local mport="${1:-}" sport="${2:-}"
  need_port "$mport"; need_port "$sport"; ensure_redis
  local dir="$SERVICES_DIR/sentinel-$sport"
  mkdir -p "$dir/master"

  if ! redis_ping "$mport"; then
    redis_launch "$mport" "$dir/master"
    log "sentinel master redis started on $HOST:$mport"
  else
    log "sentinel master redis already running on $HOST:$mport"
  fi
  echo "$mport" >"$dir/master_port"

  if redis_ping "$sport" && sentinel_has_master "$sport"; then
    log "sentinel already running on $HOST:$sport"
    return 0
  fi

  # Sentinel rewrites its config file at runtime, so it gets its own copy.
  cat >"$dir/sentinel.conf" <<EOF
port $sport
bind $HOST
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor mymaster $HOST $mport 1
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF
  # redis-sentinel is a separate Debian package; redis-server --sentinel is the same thing.
  redis-server "$dir/sentinel.conf" --sentinel
  wait_for "sentinel on port $sport" sentinel_has_master "$sport"
  log "sentinel started on $HOST:$sport monitoring mymaster=$HOST:$mport (data $dir)"
}

sentinel_stop_one() {
  local sport="$1" mport="${2:-}"
  local dir="$SERVICES_DIR/sentinel-$sport"
  [[ -z "$mport" && -f "$dir/master_port" ]] && mport=$(cat "$dir/master_port")
  redis_shutdown "$sport" "$dir"                      # sentinel (pidfile sentinel.pid handled below)
  if [[ -f "$dir/sentinel.pid" ]]; then
    local pid; pid=$(cat "$dir/sentinel.pid")
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  fi
  if [[ -n "$mport" ]]; then
    redis_shutdown "$mport" "$dir/master"
  fi
  rm -rf "${dir:?}"
  log "sentinel on $HOST:$sport${mport:+ and master on $HOST:$mport} stopped"
}

cmd_sentinel_stop() {
  local mport="${1:-}" sport="${2:-}"
  if [[ -n "$sport" ]]; then
    need_port "$mport"; need_port "$sport"
    sentinel_stop_one "$sport" "$mport"
    return 0
  fi
  [[ -z "$mport" ]] || die "usage: sentinel-stop [MASTERPORT SENTINELPORT]"
  local d found=0
  for d in "$SERVICES_DIR"/sentinel-*; do
    [[ -d "$d" ]] || continue
    found=1
    sentinel_stop_one "${d##*/sentinel-}"
  done
  (( found )) || log "no sentinel setups recorded under $SERVICES_DIR"
}

# --------------------------------------------------------------------------
# PostgreSQL

# Run a PostgreSQL binary as the cluster owner: postgres refuses to run as root.
pg_run() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h $HOST -p "$1"; }
pg_down() { ! pg_ready "$1"; }

pg_psql() {
  local port="$1"; shift
  psql -X -q -v ON_ERROR_STOP=1 -h $HOST -p "$port" -U postgres -d postgres "$@"
}

cmd_postgres_start() {
  local port="${1:-}"; need_port "$port"; ensure_postgres
  local dir="$SERVICES_DIR/postgres-$port"
  local data="$dir/data"

  if pg_ready "$port"; then
    log "postgres already running on $HOST:$port"
  else
    mkdir -p "$dir"
    chmod 755 "$SERVICES_DIR"   # the postgres user must be able to traverse it
    if is_root; then
      id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (install the postgresql package)"
      chown -R postgres:postgres "$dir"
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
      rm -rf "${data:?}"
      log "initdb $data"
      pg_run "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
      # TCP only on 127.0.0.1, trust for everyone (disposable test cluster).
      cat >"$data/pg_hba.conf" <<EOF
local all all              trust
host  all all 127.0.0.1/32 trust
EOF
      is_root && chown postgres:postgres "$data/pg_hba.conf"
    fi
    pg_run "$PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t "$WAIT_SECS" \
      -o "-p $port -c listen_addresses=$HOST -c unix_socket_directories=$dir -c fsync=off" \
      start >&2 || { tail -n 20 "$dir/postgres.log" >&2; die "postgres failed to start"; }
    wait_for "postgres on port $port" pg_ready "$port"
    log "postgres started on $HOST:$port (data $data)"
  fi

  # Idempotent role + database creation.
  if [[ "$(pg_psql "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname='feast'")" != 1 ]]; then
    pg_psql "$port" -c "CREATE ROLE feast LOGIN PASSWORD 'feast'"
  fi
  if [[ "$(pg_psql "$port" -tAc "SELECT 1 FROM pg_database WHERE datname='feast'")" != 1 ]]; then
    pg_psql "$port" -c "CREATE DATABASE feast OWNER feast"
  fi
  log "postgres ready: postgresql://feast:feast@$HOST:$port/feast"
}

cmd_postgres_stop() {
  local port="${1:-}"; need_port "$port"
  local dir="$SERVICES_DIR/postgres-$port"
  local data="$dir/data"
  if [[ -f "$data/postmaster.pid" ]]; then
    find_pg_bin || die "pg_ctl not found"
    pg_run "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >&2 || true
    wait_for "postgres on port $port to stop" pg_down "$port"
  elif find_pg_bin && pg_ready "$port"; then
    die "postgres on $HOST:$port was not started from $data; not stopping it"
  fi
  rm -rf "${dir:?}"
  log "postgres on $HOST:$port stopped"
}

# --------------------------------------------------------------------------

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

main() {
  local cmd="${1:-}"; shift || true
  mkdir -p "$SERVICES_DIR"
  case "$cmd" in
    redis-start)    cmd_redis_start "$@" ;;
    redis-stop)     cmd_redis_stop "$@" ;;
    cluster-start)  cmd_cluster_start "$@" ;;
    cluster-stop)   cmd_cluster_stop "$@" ;;
    sentinel-start) cmd_sentinel_start "$@" ;;
    sentinel-stop)  cmd_sentinel_stop "$@" ;;
    postgres-start) cmd_postgres_start "$@" ;;
    postgres-stop)  cmd_postgres_stop "$@" ;;
    -h|--help|help|"") usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
