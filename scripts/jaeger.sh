#!/usr/bin/env bash
# Jaeger v2 (an OpenTelemetry Collector build) as the real OTLP receiver of
# the tracing tests: built once with the Go toolchain into a cache keyed by
# its version (a throw-away module of its own, so that none of its
# dependencies reach our go.mod), run with in-memory storage on loopback.
#
# Usage:
#   scripts/jaeger.sh install
#       build it unless cached; prints the binary's path
#   scripts/jaeger.sh start DIR OTLP_GRPC_PORT OTLP_HTTP_PORT QUERY_HTTP_PORT QUERY_GRPC_PORT
#       start it in the background (config, log and pid in DIR) and wait
#       until its query API answers; prints its pid
set -euo pipefail
JAEGER_VERSION=v1.75.0
JAEGER_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/feature-server/jaeger-$JAEGER_VERSION"
JAEGER_BIN="$JAEGER_DIR/jaeger"

log() { echo "jaeger: $*" >&2; }

install() {
  if [[ -x "$JAEGER_BIN" ]]; then
    echo "$JAEGER_BIN"
    return 0
  fi
  log "building jaeger $JAEGER_VERSION (once; several minutes on 2 cores)"
  local start src
  start=$(date +%s)
  src="$JAEGER_DIR/src"
  mkdir -p "$src"
  # `go install ...@version` refuses a module with replace directives;
  # jaeger's has one, repeated here.
  cat >"$src/go.mod" <<MOD
module feastgo.test/jaeger-build

go 1.25

require github.com/jaegertracing/jaeger $JAEGER_VERSION

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
MOD
  rm -f "$src/go.sum"
  (cd "$src" && GOFLAGS=-mod=mod go get "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" >&2 &&
    GOFLAGS=-mod=mod go build -trimpath -o "$JAEGER_BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2)
  mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
  log "built in $(($(date +%s) - start)) s: $JAEGER_BIN"
  echo "$JAEGER_BIN"
}

start() {
  local dir="$1" grpc="$2" http="$3" qhttp="$4" qgrpc="$5"
  local bin
  bin=$(install)
  mkdir -p "$dir"
  cat >"$dir/jaeger.yaml" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$qhttp
    grpc:
      endpoint: 127.0.0.1:$qgrpc
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpc
      http:
        endpoint: 127.0.0.1:$http
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
  "$bin" --config "$dir/jaeger.yaml" >"$dir/jaeger.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/jaeger.pid"
  local i
  for ((i = 0; i < 600; i++)); do
    if curl -fs --noproxy '*' "http://127.0.0.1:$qhttp/api/services" >/dev/null 2>&1; then
      echo "$pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "did not answer on 127.0.0.1:$qhttp; its log:"
  cat "$dir/jaeger.log" >&2 || true
  kill "$pid" 2>/dev/null || true
  return 1
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
