#!/usr/bin/env bash
# `make test`: every check, in stages, each timed.
#
#   deps         Debian packages (scripts/deps.sh) and the Feast virtualenv
#                (scripts/feast-venv.sh), before anything that uses them
#   lint         gofmt, go vet, staticcheck, go mod tidy (scripts/lint.sh)
#   proto-check  the committed generated code is what the .proto files give
#   unit         Go tests with -race against real services (scripts/go-test.sh)
#   conformance  real Feast 0.67.0 against our server (conformance/run.sh)
#
# One Keycloak (scripts/keycloak.sh, the OIDC identity provider of the auth
# tests) is started in the background after deps and shared by both lanes
# (FEASTGO_TEST_KEYCLOAK_DIR: each waits for it when it needs it), then stopped.
#
# lint, proto-check and unit are one lane; conformance is the other, and the
# two lanes run at once. Conformance mostly waits on Python servers (about one
# core of the two), so the Go lane fits beside it; on this 2-core machine the
# run is about the conformance lane's length rather than the sum.
# TEST_PARALLEL=0 runs the stages one after another.
#
# Each lane's output is prefixed with its stage name. At the end a table says
# how long each stage took and how it ended; the exit code is non-zero when any
# stage failed. proto-check edits nothing it does not restore (make proto-check
# runs make proto, and fails on a diff).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

STATUS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/feastgo-test.XXXXXX")
KC_DIR=
cleanup() {
  [[ -n "$KC_DIR" ]] && scripts/keycloak.sh stop "$KC_DIR" >/dev/null 2>&1 || true
  rm -rf "$STATUS_DIR"
}
trap cleanup EXIT

# A free port below 10000: under the ephemeral range, and below the ports
# scripts/go-test.sh picks (10000-32012), which it checks before Keycloak
# has bound this one.
keycloak_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(8000, 9999)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
    print(p)
    break
else:
    raise SystemExit("no free port in 8000-9999")
PY
}

# stage NAME CMD...: runs CMD with its output prefixed by NAME, and records
# NAME's duration and exit code in STATUS_DIR.
stage() {
  local name=$1 start rc
  shift
  start=$(date +%s)
  echo "==> $name: $*" >&2
  set +e
  ( "$@" ) 2>&1 | sed -u "s/^/[$name] /"
  rc=${PIPESTATUS[0]}
  set -e
  echo "$((  $(date +%s) - start  )) $rc" >"$STATUS_DIR/$name"
  echo "==> $name: $( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)") in $(fmt $(( $(date +%s) - start )))" >&2
  return "$rc"
}

fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# (Called where errexit does not apply: each step's failure is checked.)
deps() {
  scripts/deps.sh && scripts/feast-venv.sh >/dev/null
}

go_lane() {
  stage lint scripts/lint.sh || return 1
  stage proto-check make -s proto-check || return 1
  stage unit scripts/go-test.sh || return 1
  # Every fuzz target fuzzed briefly (new inputs, not only the seeds the
  # unit stage runs); scripts/fuzz-short.sh with a longer time for more.
  # A count, not a time: under load, go's time-bounded fuzzing can end
  # in "context deadline exceeded" with no failing input.
  FUZZ_PARALLEL=1 stage fuzz scripts/fuzz-short.sh "${FUZZ_TIME:-3000x}"
}

started=$(date +%s)
rc=0
if stage deps deps; then
  KC_DIR="$STATUS_DIR/keycloak"
  mkdir -p "$KC_DIR"
  scripts/keycloak.sh start "$KC_DIR" "$(keycloak_port)" >/dev/null 2>"$STATUS_DIR/keycloak-start.log" &
  export FEASTGO_TEST_KEYCLOAK_DIR="$KC_DIR"
  if [[ "${TEST_PARALLEL:-1}" == 0 ]]; then
    go_lane || rc=1
    if ((rc == 0)); then stage conformance conformance/run.sh || rc=1; fi
  else
    go_lane &
    go_pid=$!
    stage conformance conformance/run.sh || rc=1
    wait "$go_pid" || rc=1
  fi
else
  rc=1
fi

echo >&2
echo "make test: stage timings" >&2
for name in deps lint proto-check unit fuzz conformance; do
  if [[ -f "$STATUS_DIR/$name" ]]; then
    read -r secs code <"$STATUS_DIR/$name"
    printf '  %-12s %8s  %s\n' "$name" "$(fmt "$secs")" "$( ((code == 0)) && echo ok || echo "FAILED (exit $code)")" >&2
  else
    printf '  %-12s %8s  %s\n' "$name" "-" "not run" >&2
  fi
done
printf '  %-12s %8s  %s\n' "total" "$(fmt $(( $(date +%s) - started )))" "$( ((rc == 0)) && echo ok || echo FAILED)" >&2
exit "$rc"
