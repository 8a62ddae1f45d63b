# The README's two commands are `make run` and `make test`; .ci/run calls
# `make test`. Everything a test needs (Debian's redis-server, postgresql and
# protobuf-compiler, the Feast virtualenv) is installed by the scripts the
# targets call.

GO ?= go
REPO ?= feature_repo
PORT ?= 6566

.PHONY: run build deps test unit lint conformance bench bench-materialize bench-offline bench-offline-pg soak proto proto-check proto-golden

# Serve the demo repo on the embedded default (SQLite online store, parquet
# offline data): needs nothing but Go.
run:
	$(GO) run ./cmd/feature-server -c $(REPO) serve -h 127.0.0.1 -p $(PORT)

build:
	$(GO) build -o bin/feature-server ./cmd/feature-server

# Installs what the later stages use, then lint, proto-check and the Go tests
# (against real Redis / PostgreSQL) beside the conformance run against real
# Feast 0.67.0; prints each stage's time (scripts/test.sh).
test:
	scripts/test.sh

# Everything a later target uses, installed before the first of them runs:
# Debian's packages (scripts/deps.sh) and the Feast virtualenv.
deps:
	scripts/deps.sh
	scripts/feast-venv.sh >/dev/null

lint:
	scripts/lint.sh

# Go tests with -race; integration tests get real services from
# scripts/services.sh (started and stopped by scripts/go-test.sh).
unit:
	scripts/go-test.sh

conformance:
	conformance/run.sh

bench: deps
	scripts/bench.sh

# Materialization, ours against feast materialize, parquet into a local Redis
# (1 M entities × 10 features; results in bench/materialize.md).
bench-materialize: deps
	scripts/bench-materialize.sh

# Training sets (issue 11): ours against Feast's file, duckdb and postgres
# offline stores and a DuckDB ASOF JOIN probe, 1 M entity rows × 10 features
# over 10 M feature rows (BENCH_OFFLINE_SMALL=1: 10 k × 100 k); results in
# bench/offline.md.
bench-offline: deps
	scripts/bench-offline.sh

# Only the PostgreSQL lane of bench-offline (ours on PostgreSQL, Feast's postgres store,
# the probe as the checksum reference), into bench/offline-postgres.md.
bench-offline-pg: deps
	BENCH_OFFLINE_TOOLS="probe ours-pg feast-pg" BENCH_OUT=$${BENCH_OUT:-bench/offline-postgres.md} scripts/bench-offline.sh

# The soak: 50% of the measured maximum rate for 10 minutes (SOAK_DURATION), reads, pushes and
# a registry rewrite every 10 s; errors and resident memory into bench/soak.md.
soak: deps
	scripts/soak.sh

# Regenerate protos/**/*.pb.go from protos/**/*.proto.
proto:
	scripts/deps.sh
	scripts/gen-proto.sh

# Fail when the committed generated code is not what the .proto files give.
proto-check: proto
	@git diff --exit-code -- protos || { echo "proto-check: generated code is stale; run make proto and commit" >&2; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- protos)"; \
	if [ -n "$$untracked" ]; then echo "proto-check: untracked files under protos/:" >&2; echo "$$untracked" >&2; exit 1; fi

# Rewrite the Feast-made golden files that protos/protos_test.go checks against
# (Feast's descriptors and a registry written by Feast), using the pinned Feast.
proto-golden:
	VENV="$$(scripts/feast-venv.sh)" && "$$VENV/bin/python" protos/testdata/make_golden.py
