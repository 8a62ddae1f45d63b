#!/usr/bin/env bash
# A real Kubernetes API server for the kubernetes auth tests: kube-apiserver
# built from the k8s.io/kubernetes module (Go module proxy) and etcd built
# from go.etcd.io/etcd/server/v3, both cached under ~/.cache/feature-server,
# run on loopback with TLS, RBAC and service-account token issuing. Nothing
# else of a cluster runs (no scheduler, no nodes): the auth tests need only
# TokenReview, TokenRequest and the RBAC API.
#
# Usage:
#   scripts/kube-apiserver.sh install
#       build both binaries (once, ~10 min on 2 cores); prints their directory
#   scripts/kube-apiserver.sh start DIR PORT
#       start etcd (PORT+1, PORT+2) and kube-apiserver (PORT) in the
#       background, state in DIR; wait until it answers; create the test
#       cluster's objects (scripts/kube-apiserver/objects.json); write DIR/env
#       (FEASTGO_TEST_KUBE_* lines, sourceable). DIR/sa holds the feature
#       server's own service-account files (token, ca.crt, namespace) as a pod
#       has them.
#   scripts/kube-apiserver.sh wait DIR
#       wait for a start in DIR run by someone else: 0 and DIR/env's path on
#       stdout when ready, 1 when it failed
#   scripts/kube-apiserver.sh stop DIR
#       stop both and remove DIR
#
# KUBE_WAIT_SECS (default 120) bounds the wait for the API server.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
K8S_VERSION=v1.34.2
STAGING_VERSION=v0.34.2
ETCD_VERSION=v3.6.5
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/feature-server"
BIN="$CACHE/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION"
WAIT_SECS="${KUBE_WAIT_SECS:-120}"
OBJECTS="$ROOT/scripts/kube-apiserver/objects.json"

log() { echo "kube-apiserver: $*" >&2; }
die() { log "error: $*"; exit 1; }

# build_main MODULE VERSION PKG OUT [REPLACES...]: go build of a main package
# of a module whose own go.mod replaces its siblings with local paths (so
# `go install pkg@version` refuses it): a throwaway module requires it and
# pins the siblings to released versions.
build_main() {
  local module="$1" version="$2" pkg="$3" out="$4"
  shift 4
  local work
  work=$(mktemp -d)
  {
    printf 'module feastgo.build/%s\n\ngo 1.24.0\n\nrequire %s %s\n' "$(basename "$out")" "$module" "$version"
    if (($#)); then
      printf '\nreplace (\n'
      local r
      for r in "$@"; do printf '\t%s\n' "$r"; done
      printf ')\n'
    fi
  } >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$work/tools.go"
  (cd "$work" && GOFLAGS=-mod=mod go mod tidy >"$work/tidy.log" 2>&1) || { tail -n 20 "$work/tidy.log" >&2; die "go mod tidy for $pkg failed"; }
  (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$out.tmp" "$pkg") || die "go build $pkg failed"
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

install() {
  if [[ -x "$BIN/kube-apiserver" && -x "$BIN/etcd" ]]; then
    echo "$BIN"
    return 0
  fi
  mkdir -p "$BIN"
  # One build at a time (the Go and conformance lanes of scripts/test.sh may
  # both ask): the second waits, then finds the binaries.
  exec 8>"$BIN.lock"
  command -v flock >/dev/null 2>&1 && flock 8
  if [[ -x "$BIN/kube-apiserver" && -x "$BIN/etcd" ]]; then
    echo "$BIN"
    return 0
  fi
  local start=$SECONDS
  if [[ ! -x "$BIN/etcd" ]]; then
    log "building etcd $ETCD_VERSION (once)"
    build_main go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$BIN/etcd" \
      "go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION" \
      "go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION" \
      "go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION" \
      "go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION"
  fi
  if [[ ! -x "$BIN/kube-apiserver" ]]; then
    log "building kube-apiserver $K8S_VERSION (once; several minutes)"
    local replaces=() m
    # k8s.io/kubernetes replaces its staging modules with ./staging paths.
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
      cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
      cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms \
      kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
      replaces+=("k8s.io/$m => k8s.io/$m $STAGING_VERSION")
    done
    build_main k8s.io/kubernetes "$K8S_VERSION" k8s.io/kubernetes/cmd/kube-apiserver "$BIN/kube-apiserver" "${replaces[@]}"
  fi
  log "built in $((SECONDS - start)) s"
  echo "$BIN"
}

# certs DIR: a CA, the API server's certificate for 127.0.0.1 and localhost,
# and the service-account signing key pair.
certs() {
  local d="$1/pki"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=feastgo-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

answers() { # DIR PORT
  curl -fs --noproxy '*' -m 2 --cacert "$1/pki/ca.crt" -H "Authorization: Bearer $(cat "$1/admin-token")" \
    "https://127.0.0.1:$2/readyz" 2>/dev/null | grep -q '^ok'
}

# api DIR PORT METHOD PATH [JSON]: one call as the cluster admin; prints the answer.
api() {
  local dir="$1" port="$2" method="$3" path="$4" body="${5:-}"
  local args=(-fsS --noproxy '*' -m 10 --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(cat "$dir/admin-token")"
    -H 'Content-Type: application/json' -X "$method" "https://127.0.0.1:$port$path")
  [[ -n "$body" ]] && args+=(--data-binary "$body")
  curl "${args[@]}"
}

# objects DIR PORT: create the objects of $OBJECTS (a JSON list of
# [path, object]) and a token of the feature server's service account.
objects() {
  local dir="$1" port="$2"
  python3 - "$OBJECTS" >"$dir/objects.tsv" <<'PY'
import json, sys
for path, obj in json.load(open(sys.argv[1])):
    print(path + "\t" + json.dumps(obj))
PY
  local path obj
  while IFS=$'\t' read -r path obj; do
    api "$dir" "$port" POST "$path" "$obj" >/dev/null || die "creating $path $obj failed"
  done <"$dir/objects.tsv"
  mkdir -p "$dir/sa"
  api "$dir" "$port" POST /api/v1/namespaces/feast/serviceaccounts/feature-server/token \
    '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":86400}}' |
    python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["status"]["token"])' >"$dir/sa/token"
  cp "$dir/pki/ca.crt" "$dir/sa/ca.crt"
  echo feast >"$dir/sa/namespace"
}

write_env() {
  local dir="$1" port="$2"
  cat >"$dir/env.tmp" <<ENV
FEASTGO_TEST_KUBE_HOST=127.0.0.1
FEASTGO_TEST_KUBE_PORT=$port
FEASTGO_TEST_KUBE_CA=$dir/pki/ca.crt
FEASTGO_TEST_KUBE_ADMIN_TOKEN_FILE=$dir/admin-token
FEASTGO_TEST_KUBE_SA_DIR=$dir/sa
ENV
  mv "$dir/env.tmp" "$dir/env"
}

start() {
  local dir="${1:-}" port="${2:-}"
  [[ -n "$dir" && "$port" =~ ^[0-9]+$ ]] || die "usage: kube-apiserver.sh start DIR PORT"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  rm -f "$dir/failed"
  if [[ -f "$dir/env" && -f "$dir/apiserver.pid" ]] && kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null && answers "$dir" "$port"; then
    cat "$dir/apiserver.pid"
    return 0
  fi
  local bin
  bin=$(install) || { touch "$dir/failed"; return 1; }
  rm -rf "$dir/etcd-data" "$dir/pki" "$dir/sa" "$dir/env"
  certs "$dir"
  python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/admin-token"
  # Static tokens: the admin, and two plain users (not service accounts)
  # for the user-token path: token,user,uid,"group1,group2".
  {
    echo "$(cat "$dir/admin-token"),admin,admin,system:masters"
    echo "jane-token-$(cat "$dir/admin-token"),jane,jane,\"data-science,analysts\""
    echo "joe-token-$(cat "$dir/admin-token"),joe,joe,outsiders"
  } >"$dir/tokens.csv"
  local eport=$((port + 1)) pport=$((port + 2))
  setsid "$bin/etcd" --name default --data-dir "$dir/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "default=http://127.0.0.1:$pport" --unsafe-no-fsync --log-level warn \
    >"$dir/etcd.log" 2>&1 </dev/null &
  echo $! >"$dir/etcd.pid"
  setsid "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$eport" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --tls-cert-file "$dir/pki/server.crt" --tls-private-key-file "$dir/pki/server.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
    --service-cluster-ip-range 10.96.0.0/24 --enable-priority-and-fairness=false --profiling=false \
    --cert-dir "$dir/pki" --v 0 \
    >"$dir/apiserver.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/apiserver.pid"
  local i t0=$SECONDS
  for ((i = 0; i < WAIT_SECS * 5; i++)); do
    if answers "$dir" "$port"; then
      objects "$dir" "$port" || { touch "$dir/failed"; return 1; }
      write_env "$dir" "$port"
      log "ready on 127.0.0.1:$port in $((SECONDS - t0)) s (logs in $dir)"
      echo "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  log "did not answer on 127.0.0.1:$port within ${WAIT_SECS}s; the end of its log:"
  tail -n 30 "$dir/apiserver.log" >&2 || true
  stop_procs "$dir"
  touch "$dir/failed"
  return 1
}

wait_ready() {
  local dir="${1:-}" i
  [[ -n "$dir" ]] || die "usage: kube-apiserver.sh wait DIR"
  # An install (build) may come first: wait long.
  for ((i = 0; i < (WAIT_SECS + 1800) * 10; i++)); do
    if [[ -f "$dir/env" ]]; then echo "$dir/env"; return 0; fi
    if [[ -f "$dir/failed" ]]; then log "the start in $dir failed (logs in $dir)"; return 1; fi
    sleep 0.1
  done
  log "timed out waiting for the start in $dir"
  return 1
}

stop_procs() {
  local dir="$1" f
  for f in apiserver etcd; do
    if [[ -f "$dir/$f.pid" ]]; then
      kill -TERM -- "-$(cat "$dir/$f.pid")" 2>/dev/null || kill -TERM "$(cat "$dir/$f.pid")" 2>/dev/null || true
    fi
  done
  for f in apiserver etcd; do
    if [[ -f "$dir/$f.pid" ]]; then
      local p i
      p=$(cat "$dir/$f.pid")
      for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$p" 2>/dev/null || true
      rm -f "$dir/$f.pid"
    fi
  done
}

stop() {
  local dir="${1:-}"
  [[ -n "$dir" ]] || die "usage: kube-apiserver.sh stop DIR"
  [[ -d "$dir" ]] || return 0
  stop_procs "$dir"
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" "${3:-}" ;;
  wait) wait_ready "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) die "usage: kube-apiserver.sh install | start DIR PORT | wait DIR | stop DIR" ;;
esac
