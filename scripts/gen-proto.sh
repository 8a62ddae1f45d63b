#!/usr/bin/env bash
# Regenerate the Go code for the .proto files under protos/.
#
# Output is byte-for-byte reproducible only with the same tool versions:
#   protoc              Debian bookworm's protobuf-compiler (libprotoc 3.21.12);
#                       install with: apt-get install -y protobuf-compiler
#   protoc-gen-go       pinned by the `tool` directives in go.mod
#   protoc-gen-go-grpc  pinned by the `tool` directives in go.mod
# The protoc version is written into every generated file's header, so a
# different protoc makes `make proto-check` fail; this script refuses to run
# with one unless PROTOC_VERSION_CHECK=0.
#
# Environment:
#   PROTOC                protoc binary to use (default: protoc from PATH)
#   PROTOC_VERSION_CHECK  set to 0 to accept another protoc version
set -euo pipefail

want_protoc="libprotoc 3.21.12"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

protoc="${PROTOC:-protoc}"
if ! command -v "$protoc" >/dev/null 2>&1; then
  echo "gen-proto: $protoc not found; install it with: apt-get install -y protobuf-compiler" >&2
  exit 1
fi
have_protoc="$("$protoc" --version)"
if [[ "$have_protoc" != "$want_protoc" && "${PROTOC_VERSION_CHECK:-1}" != 0 ]]; then
  echo "gen-proto: $protoc is '$have_protoc', the committed code was generated with '$want_protoc'" >&2
  echo "gen-proto: install Debian's protobuf-compiler, or set PROTOC_VERSION_CHECK=0 to go ahead" >&2
  exit 1
fi

bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT

# The plugins are built from the versions go.mod pins.
go build -o "$bin/" \
  google.golang.org/protobuf/cmd/protoc-gen-go \
  google.golang.org/grpc/cmd/protoc-gen-go-grpc

# Start from a clean slate so that output of a removed .proto does not linger.
find protos/feast -name '*.pb.go' -delete

mapfile -t sources < <(cd protos && find feast -name '*.proto' | LC_ALL=C sort)

"$protoc" \
  -I protos \
  --plugin=protoc-gen-go="$bin/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
  --go_out=protos --go_opt=paths=source_relative \
  --go-grpc_out=protos --go-grpc_opt=paths=source_relative \
  "${sources[@]}"

echo "gen-proto: generated Go for ${#sources[@]} .proto files" >&2
