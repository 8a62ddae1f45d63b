#!/usr/bin/env bash
# Runs every Go fuzz target (func FuzzX(f *testing.F) in a *_test.go file)
# for a short time each: the request decoders of server/ (every HTTP body
# and gRPC request), the entity-key parser, the JSON value encoder, the
# Python-source analyser, registry bytes, feature_store.yaml. `make test`
# runs it with 3000 inputs a target (its fuzz stage, after the unit stage, which
# runs the seed corpora and testdata/fuzz/ inputs as plain tests).
#
#   scripts/fuzz-short.sh [TIME] [REGEXP]
#
# TIME is go test's -fuzztime for each target (default 30s; also 1000x).
# REGEXP picks targets by name (default: all). FUZZ_PARALLEL sets the
# fuzzing workers (default: go's, one per CPU). A failure stops the run; the
# input that failed is written under the package's testdata/fuzz/<Target>/:
# commit it with the fix as a regression seed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
time=${1:-30s}
pick=${2:-.}
parallel=()
[[ -n "${FUZZ_PARALLEL:-}" ]] && parallel=(-parallel "$FUZZ_PARALLEL")

# package directory <TAB> target, for every target
targets=$(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -H -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' |
  sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1\t\2#' | sort -u)
if [[ -z "$targets" ]]; then
  echo "fuzz-short: no fuzz targets found" >&2
  exit 1
fi
n=0
while IFS=$'\t' read -r dir name; do
  [[ "$name" =~ $pick ]] || continue
  n=$((n + 1))
  echo "fuzz-short: $name (./$dir) for $time" >&2
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "${parallel[@]}" "./$dir"
done <<<"$targets"
if [[ $n -eq 0 ]]; then
  echo "fuzz-short: no target matches $pick" >&2
  exit 1
fi
echo "fuzz-short: $n targets, no failure" >&2
