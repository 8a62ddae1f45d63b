#!/usr/bin/env bash
# Copy the demo repo (feature_repo/) to DST with its online store pointed at a
# local Redis on PORT (key version 3) and no SQLite file: the repo the push
# benchmark and the soak serve.
#
#   scripts/demo-repo-redis.sh DST PORT
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DST=${1:?usage: demo-repo-redis.sh DST PORT}
PORT=${2:?usage: demo-repo-redis.sh DST PORT}
mkdir -p "$DST"
cp -r "$ROOT/feature_repo/." "$DST/"
rm -f "$DST/data/online.db"
cat >"$DST/feature_store.yaml" <<YAML
project: pipeline_monitoring
provider: local
registry: data/registry.db
online_store:
  type: redis
  connection_string: 127.0.0.1:$PORT
offline_store:
  type: file
entity_key_serialization_version: 3
YAML
