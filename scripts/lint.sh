#!/usr/bin/env bash
# gofmt, go vet, staticcheck and a tidy go.mod; fails on the first finding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STATICCHECK_VERSION=v0.8.2

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n "$unformatted" ]]; then
  echo "lint: gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
# The root module, and deploy/validate (its own module, so the compose and
# Kubernetes libraries stay out of the server's go.mod).
for mod in . deploy/validate; do
  (
    cd "$mod"
    go vet ./...
    go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...
    cp go.mod /tmp/go.mod.lint.$$; cp go.sum /tmp/go.sum.lint.$$
    go mod tidy
    if ! cmp -s go.mod /tmp/go.mod.lint.$$ || ! cmp -s go.sum /tmp/go.sum.lint.$$; then
      echo "lint: go mod tidy changes $mod/go.mod or go.sum; run it and commit" >&2
      diff /tmp/go.mod.lint.$$ go.mod | head -40 >&2 || true
      cp /tmp/go.mod.lint.$$ go.mod; cp /tmp/go.sum.lint.$$ go.sum
      exit 1
    fi
    rm -f /tmp/go.mod.lint.$$ /tmp/go.sum.lint.$$
  )
done
echo "lint: ok" >&2
