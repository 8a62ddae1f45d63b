"""Run Feast 0.67's get_historical_features on a repo and write the result.

    python feast_run.py REPO ENTITIES.parquet FEATURES.txt OUT.parquet

The repo's feature_store.yaml picks the offline store (file, duckdb or
postgres). The entity frame is read with pandas, as a Feast user would;
the result goes to parquet through to_arrow(). Phase times on stderr.
"""

import sys
import time

import pandas as pd
import pyarrow.parquet as pq

from feast import FeatureStore


def main():
    repo, entities, features, output = sys.argv[1:5]
    t0 = time.perf_counter()
    store = FeatureStore(repo_path=repo)
    refs = [line.strip() for line in open(features) if line.strip()]
    df = pd.read_parquet(entities)
    t1 = time.perf_counter()
    table = store.get_historical_features(entity_df=df, features=refs).to_arrow()
    t2 = time.perf_counter()
    pq.write_table(table, output, compression="snappy")
    t3 = time.perf_counter()
    print(f"feast_run: {store.config.offline_store.type}: setup {t1 - t0:.2f}s, "
          f"retrieval {t2 - t1:.2f}s, write {t3 - t2:.2f}s, {table.num_rows} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
