"""Prints Feast's own answer (FeatureStore.get_online_features) for the test's request as JSON."""

import json
import sys

from feast import FeatureStore

if __name__ == "__main__":  # feast apply imports every file of the repo
    req = json.loads(sys.argv[1])
    store = FeatureStore(repo_path=".")
    out = store.get_online_features(features=req["features"], entity_rows=req["entity_rows"]).to_dict()
    print(json.dumps(out))
