#!/usr/bin/env bash
# Install the Debian packages the tests use, when missing: redis-server,
# postgresql (servers started by scripts/services.sh), protobuf-compiler (make
# proto-check), wrk (benchmarks), curl (the scripts' readiness probes and the
# API calls of scripts/kube-apiserver.sh) and openssl (the test cluster's
# certificates). Idempotent; needs root for apt-get.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing ${need[*]}; install them (apt-get install -y ${need[*]}) or run as root" >&2
  exit 1
fi
echo "deps: apt-get install ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${need[@]}" >&2
