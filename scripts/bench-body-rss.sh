#!/bin/sh
# Resident memory of the server under 1, 32 and 64 concurrent 15 MB
# request bodies (issue 9, item 17). Usage: scripts/bench-body-rss.sh
# [extra serve flags, e.g. --max-in-flight-body-bytes 2147483648]
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/feature-server" ./cmd/feature-server
go build -o "$tmp/bodyrss" ./bench/bodyrss
cp -r server/testdata/golden/sqlite/repo "$tmp/repo"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$tmp/feature-server" -c "$tmp/repo" serve -p "$port" "$@" 2>"$tmp/log" &
pid=$!
i=0
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
	i=$((i + 1)); [ "$i" -lt 200 ] || { cat "$tmp/log"; exit 1; }; sleep 0.05
done
"$tmp/bodyrss" -pid "$pid" -url "http://127.0.0.1:$port/get-online-features"
