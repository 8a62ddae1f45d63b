# Protobuf code generation. The Go code under protos/ is generated from the
# .proto files next to it and committed; see scripts/gen-proto.sh for the tools.

.PHONY: proto proto-check proto-golden

# Regenerate protos/**/*.pb.go from protos/**/*.proto.
proto:
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
