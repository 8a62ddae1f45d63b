"""Generate the benchmark Feast repo (run with the Feast venv's Python).

    python bench/gen_repo.py REPO_DIR REDIS_PORT [N_ENTITIES]

Writes REPO_DIR/feature_store.yaml (Redis online store, key version 3),
REPO_DIR/features.py (entity user_id INT64; views user_stats_1..5, each with
ten features: five Float32 s<v>_f0..f4 and five Int64 s<v>_i0..i4) and
REPO_DIR/data/users.parquet with N_ENTITIES (default 2000) rows, user_id 1..N.
The caller then runs `feast apply` and `feast materialize` on REPO_DIR.
Nothing here is committed: the repo exists only for one benchmark run.
"""

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

VIEWS = 5

FEATURES_PY = '''
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Int64

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)

source = FileSource(
    name="users_source",
    path="data/users.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

views = []
for v in range(1, {views} + 1):
    schema = [Field(name=f"s{{v}}_f{{i}}", dtype=Float32) for i in range(5)]
    schema += [Field(name=f"s{{v}}_i{{i}}", dtype=Int64) for i in range(5)]
    views.append(
        FeatureView(
            name=f"user_stats_{{v}}",
            entities=[user],
            ttl=timedelta(days=3650),
            schema=schema,
            online=True,
            source=source,
        )
    )
user_stats_1, user_stats_2, user_stats_3, user_stats_4, user_stats_5 = views
'''.format(views=VIEWS)

STORE_YAML = """project: bench
provider: local
registry: data/registry.db
online_store:
  type: redis
  connection_string: "127.0.0.1:{port}"
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def main() -> None:
    repo = Path(sys.argv[1])
    port = int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(STORE_YAML.format(port=port))
    (repo / "features.py").write_text(FEATURES_PY)

    rng = np.random.default_rng(42)
    base = datetime(2024, 1, 2, tzinfo=timezone.utc)
    df = pd.DataFrame({"user_id": np.arange(1, n + 1, dtype=np.int64)})
    # Distinct event times with microseconds, as real data has.
    df["event_timestamp"] = [base + timedelta(seconds=int(i), microseconds=int(i * 7919 % 1_000_000)) for i in range(n)]
    df["created"] = df["event_timestamp"]
    for v in range(1, VIEWS + 1):
        for i in range(5):
            df[f"s{v}_f{i}"] = rng.random(n, dtype=np.float32) * 100
            df[f"s{v}_i{i}"] = rng.integers(0, 1_000_000, n, dtype=np.int64)
    df.to_parquet(repo / "data" / "users.parquet", index=False)


if __name__ == "__main__":
    main()
