#!/usr/bin/env bash
# Keycloak as the real OIDC identity provider of the auth tests: the Quarkus
# distribution from Maven Central (org.keycloak:keycloak-quarkus-dist), cached
# under ~/.cache/feature-server, run on loopback with an in-memory H2 database
# and the realms committed in scripts/keycloak/ (realm "feast": clients
# feast-client, feast-short, feast-other and the test users; realm "other":
# another issuer with other keys). See scripts/keycloak/README.md.
#
# Usage:
#   scripts/keycloak.sh install
#       download (once), unpack and pre-build it for the in-memory database;
#       prints its home directory
#   scripts/keycloak.sh start DIR PORT
#       start it in the background on 127.0.0.1:PORT (instance files, log and
#       pid in DIR), import the realms, wait until realm feast's OIDC
#       discovery document answers; writes DIR/env (FEASTGO_TEST_OIDC_*
#       lines, sourceable) and prints the pid. Idempotent: a Keycloak already
#       answering for DIR on PORT is reused.
#   scripts/keycloak.sh wait DIR
#       wait (KEYCLOAK_WAIT_SECS) for a start in DIR, run by someone else, to
#       end: 0 and DIR/env's path on stdout when it is ready, 1 when it failed
#   scripts/keycloak.sh stop DIR
#       stop the instance started in DIR and remove DIR
#
# Java 21+ is needed: /usr/lib/jvm/temurin-25-jdk-amd64 when present, else the
# newest /usr/lib/jvm JDK of 21 or more, else Debian's openjdk-21-jdk-headless
# (or -25) installed with apt-get. KEYCLOAK_WAIT_SECS (default 120) bounds the
# wait for the start.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KC_VERSION=26.7.3
# From keycloak-quarkus-dist-$KC_VERSION.tar.gz.sha1 on Maven Central.
KC_SHA1=4ff244668809213a1c91ad2505390287203029d0
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/feature-server"
KC_TGZ="$CACHE/keycloak-$KC_VERSION.tar.gz"
KC_HOME="$CACHE/keycloak-$KC_VERSION"
KC_URL="${KEYCLOAK_MAVEN_REPO:-https://repo1.maven.org/maven2}/org/keycloak/keycloak-quarkus-dist/$KC_VERSION/keycloak-quarkus-dist-$KC_VERSION.tar.gz"
# The options baked into the build (kc.sh build) that `start --optimized` uses.
KC_BUILD_OPTS=(--db=dev-mem --health-enabled=false --metrics-enabled=false)
KC_BUILD_MARK="$KC_HOME/.feastgo-build-$(echo "${KC_BUILD_OPTS[*]}" | sha1sum | cut -c1-12)"
REALM_DIR="$ROOT/scripts/keycloak"
WAIT_SECS="${KEYCLOAK_WAIT_SECS:-120}"

log() { echo "keycloak: $*" >&2; }
die() { log "error: $*"; exit 1; }

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

# Sets JAVA_HOME to a JDK of version 21 or more, installing one when none is there.
find_java() {
  local d m
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    d=${d%/}
    [[ -x "$d/bin/java" ]] || continue
    m=$(java_major "$d/bin/java")
    if [[ -n "$m" ]] && ((m >= 21)); then
      export JAVA_HOME="$d"
      return 0
    fi
  done
  [[ $(id -u) -eq 0 ]] || die "no JDK 21+ under /usr/lib/jvm and not root; apt-get install -y openjdk-21-jdk-headless"
  log "no JDK 21+ found; installing one from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  local pkg
  for pkg in openjdk-21-jdk-headless openjdk-25-jdk-headless; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then
      apt-get install -y -qq "$pkg" >&2
      find_java_installed && return 0
    fi
  done
  die "could not install a JDK 21+ (tried openjdk-21-jdk-headless, openjdk-25-jdk-headless)"
}
find_java_installed() {
  local d m
  for d in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    d=${d%/}
    m=$(java_major "$d/bin/java" 2>/dev/null || true)
    if [[ -n "$m" ]] && ((m >= 21)); then export JAVA_HOME="$d"; return 0; fi
  done
  return 1
}

download() {
  [[ -f "$KC_TGZ" ]] && [[ "$(sha1sum "$KC_TGZ" | cut -d' ' -f1)" == "$KC_SHA1" ]] && return 0
  mkdir -p "$CACHE"
  log "downloading keycloak-quarkus-dist $KC_VERSION from Maven Central (~170 MB, once)"
  curl -fsSL --retry 3 -o "$KC_TGZ.tmp" "$KC_URL"
  [[ "$(sha1sum "$KC_TGZ.tmp" | cut -d' ' -f1)" == "$KC_SHA1" ]] || { rm -f "$KC_TGZ.tmp"; die "sha1 mismatch for $KC_URL"; }
  mv "$KC_TGZ.tmp" "$KC_TGZ"
}

install() {
  find_java
  if [[ -f "$KC_BUILD_MARK" && -x "$KC_HOME/bin/kc.sh" && -f "$KC_HOME/lib/quarkus-run.jar" ]]; then
    echo "$KC_HOME"
    return 0
  fi
  if [[ ! -x "$KC_HOME/bin/kc.sh" || ! -f "$KC_HOME/lib/quarkus-run.jar" ]]; then
    download
    log "unpacking $KC_TGZ"
    rm -rf "$KC_HOME.tmp"
    mkdir -p "$KC_HOME.tmp"
    tar -xzf "$KC_TGZ" -C "$KC_HOME.tmp" --strip-components=1
    rm -rf "$KC_HOME"
    mv "$KC_HOME.tmp" "$KC_HOME"
  fi
  # Augmentation once, so that each start (--optimized) skips it (~25 s).
  log "kc.sh build ${KC_BUILD_OPTS[*]} (once)"
  local start=$SECONDS
  (cd "$KC_HOME" && JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m" bin/kc.sh build "${KC_BUILD_OPTS[@]}" >"$KC_HOME/build.log" 2>&1) ||
    { tail -n 30 "$KC_HOME/build.log" >&2; die "kc.sh build failed"; }
  rm -f "$KC_HOME"/.feastgo-build-*
  touch "$KC_BUILD_MARK"
  log "built in $((SECONDS - start)) s"
  echo "$KC_HOME"
}

discovery_url() { echo "http://127.0.0.1:$1/realms/feast/.well-known/openid-configuration"; }

answers() { curl -fs --noproxy '*' -m 2 "$(discovery_url "$1")" 2>/dev/null | grep -q '"token_endpoint"'; }

write_env() {
  local dir="$1" port="$2" base="http://127.0.0.1:$2"
  cat >"$dir/env.tmp" <<ENV
FEASTGO_TEST_OIDC_DISCOVERY=$(discovery_url "$port")
FEASTGO_TEST_OIDC_OTHER_DISCOVERY=$base/realms/other/.well-known/openid-configuration
FEASTGO_TEST_OIDC_ISSUER=$base/realms/feast
FEASTGO_TEST_OIDC_TOKEN_URL=$base/realms/feast/protocol/openid-connect/token
ENV
  mv "$dir/env.tmp" "$dir/env"
}

# An instance home: Keycloak's kc.sh takes its home from its own location and
# writes under home/data (the realms to import, transaction logs), so each
# instance gets a copy of bin/ and data/ of its own and links to the rest.
start() {
  local dir="${1:-}" port="${2:-}"
  [[ -n "$dir" && "$port" =~ ^[0-9]+$ ]] || die "usage: keycloak.sh start DIR PORT"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  rm -f "$dir/failed"
  if [[ -f "$dir/keycloak.pid" ]] && kill -0 "$(cat "$dir/keycloak.pid")" 2>/dev/null && answers "$port"; then
    write_env "$dir" "$port"
    cat "$dir/keycloak.pid"
    return 0
  fi
  if answers "$port"; then die "something else already answers as Keycloak on 127.0.0.1:$port"; fi
  local home
  home=$(install) || { touch "$dir/failed"; return 1; }
  local inst="$dir/home"
  rm -rf "$inst" "$dir/env"
  mkdir -p "$inst/data/import"
  cp -r "$home/bin" "$inst/bin"
  local f
  for f in lib conf providers themes; do ln -s "$home/$f" "$inst/$f"; done
  cp "$REALM_DIR"/*-realm.json "$inst/data/import/"
  local t0
  t0=$(date +%s.%N)
  # setsid: its own process group, so that stop ends kc.sh and the JVM together.
  JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m" JAVA_OPTS_APPEND="${KEYCLOAK_JAVA_OPTS_APPEND:-}" setsid "$inst/bin/kc.sh" start --optimized \
    --http-enabled=true --http-host=127.0.0.1 --http-port="$port" \
    --hostname-strict=false --import-realm --cache=local \
    --log-level=warn >"$dir/keycloak.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/keycloak.pid"
  local i
  for ((i = 0; i < WAIT_SECS * 10; i++)); do
    if answers "$port"; then
      write_env "$dir" "$port"
      log "ready on 127.0.0.1:$port in $(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))") s (log $dir/keycloak.log)"
      echo "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  log "did not answer on 127.0.0.1:$port within ${WAIT_SECS}s; the end of its log:"
  tail -n 40 "$dir/keycloak.log" >&2 || true
  kill -TERM -- "-$pid" 2>/dev/null || true
  touch "$dir/failed"
  return 1
}

wait_ready() {
  local dir="${1:-}" i
  [[ -n "$dir" ]] || die "usage: keycloak.sh wait DIR"
  for ((i = 0; i < (WAIT_SECS + 30) * 10; i++)); do
    if [[ -f "$dir/env" ]]; then echo "$dir/env"; return 0; fi
    if [[ -f "$dir/failed" ]]; then log "the start in $dir failed (its log: $dir/keycloak.log)"; return 1; fi
    sleep 0.1
  done
  log "timed out waiting for the start in $dir"
  return 1
}

stop() {
  local dir="${1:-}"
  [[ -n "$dir" ]] || die "usage: keycloak.sh stop DIR"
  if [[ -f "$dir/keycloak.pid" ]]; then
    local pid i
    pid=$(cat "$dir/keycloak.pid")
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "${dir:?}"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  wait) shift; wait_ready "$@" ;;
  stop) shift; stop "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
