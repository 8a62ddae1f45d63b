"""Generate the offline benchmark's data and feature repos (deterministic).

    python gen.py OUT_DIR ENTITY_ROWS FEATURE_ROWS
    python gen.py OUT_DIR ENTITY_ROWS FEATURE_ROWS --repos-into DIR [--pg-port PORT]

The first form writes the data, under OUT_DIR:

  data/view_a.parquet, data/view_b.parquet  FEATURE_ROWS / 2 rows each: the
      sources of two feature views over the same entity (entity_id INT64),
      event_timestamp and created (timestamp[us, UTC]); 2 % of the rows repeat
      an earlier (key, event time) with a later created time, so ties are
      broken by the created column as Feast does; view_a's f_a_double2 is
      null on 3 % of the rows.
  data/view_a.csv, data/view_b.csv  the same rows for PostgreSQL's COPY.
  entities.parquet  ENTITY_ROWS rows: entity_id (9 % of them have no
      feature rows), event_timestamp (UTC) and a label column.
  features.txt  the 10 feature references, one a line.

The second writes only the feature repos, under DIR, over OUT_DIR's files:

  repo-file/  a Feast repo over the parquet files (offline_store: file).
  repo-duckdb/  the same repo with offline_store: duckdb.
  repo-pg/  the same views over PostgreSQLSources (tables bench_view_a,
      bench_view_b) on 127.0.0.1:PORT, written when --pg-port is given.

view_a has a 1-day ttl, view_b a 7-day ttl; the data spans 30 days and the
entity times its last 25, so some rows match nothing (ttl or unknown key).
Run with the Feast venv's Python (numpy, pyarrow).
"""

import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DAY_US = 86400 * 10**6
START = np.datetime64("2025-01-01T00:00:00", "us")
SPAN_DAYS = 30


def source(rng, n, keys, prefix, nulls):
    """One view's source table of n rows over keys entities."""
    dup = n // 50
    base = n - dup
    ids = rng.integers(0, keys, base, dtype=np.int64)
    ts = START + rng.integers(0, SPAN_DAYS * DAY_US, base).astype("timedelta64[us]")
    created = ts + rng.integers(0, 3600 * 10**6, base).astype("timedelta64[us]")
    # ties: an earlier row's key and event time again, created later
    pick = rng.choice(base, dup, replace=False)
    ids = np.concatenate([ids, ids[pick]])
    ts = np.concatenate([ts, ts[pick]])
    created = np.concatenate([created, created[pick] + (1 + rng.integers(0, 10**6, dup)).astype("timedelta64[us]")])
    # file order is shuffled: neither key nor time sorted
    perm = rng.permutation(n)
    ids, ts, created = ids[perm], ts[perm], created[perm]
    double2 = pa.array(rng.random(n) * 100, mask=rng.random(n) < 0.03) if nulls else pa.array(rng.random(n) * 100)
    return pa.table({
        "entity_id": ids,
        f"{prefix}_double": rng.normal(size=n),
        f"{prefix}_double2": double2,
        f"{prefix}_float": rng.random(n).astype(np.float32),
        f"{prefix}_int": rng.integers(0, 10**9, n, dtype=np.int64),
        f"{prefix}_string": np.array(["success", "failed", "running", "cancelled"])[rng.integers(0, 4, n)],
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "created": pa.array(created, pa.timestamp("us", tz="UTC")),
    })


FEATURES = """from datetime import timedelta

from feast import Entity, FeatureView, Field, ValueType
from feast.types import Float32, Float64, Int64, String
{imports}

entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)


def fields(p):
    return [Field(name=f"{{p}}_double", dtype=Float64), Field(name=f"{{p}}_double2", dtype=Float64),
            Field(name=f"{{p}}_float", dtype=Float32), Field(name=f"{{p}}_int", dtype=Int64),
            Field(name=f"{{p}}_string", dtype=String)]


view_a = FeatureView(name="view_a", entities=[entity], ttl=timedelta(days=1), online=False,
                     source={src_a}, schema=fields("f_a"))
view_b = FeatureView(name="view_b", entities=[entity], ttl=timedelta(days=7), online=False,
                     source={src_b}, schema=fields("f_b"))
"""

FILE_IMPORTS = "from feast import FileSource"
FILE_SRC = ('FileSource(name="src_{v}", path="{path}", timestamp_field="event_timestamp", '
            'created_timestamp_column="created")')
PG_IMPORTS = "from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource"
PG_SRC = ('PostgreSQLSource(name="src_{v}", table="bench_view_{v}", timestamp_field="event_timestamp", '
          'created_timestamp_column="created")')


def write_repo(out, name, offline, imports, src):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    with open(os.path.join(d, "features.py"), "w") as f:
        f.write(FEATURES.format(imports=imports, src_a=src("a"), src_b=src("b")))
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write(f"project: bench_offline\nprovider: local\nregistry: data/registry.db\n"
                f"online_store:\n  type: sqlite\n  path: data/online.db\n"
                f"offline_store:\n{offline}entity_key_serialization_version: 3\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("entity_rows", type=int)
    ap.add_argument("feature_rows", type=int)
    ap.add_argument("--repos-into")
    ap.add_argument("--pg-port", type=int)
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    if a.repos_into:
        write_repos(os.path.abspath(a.repos_into), os.path.join(out, "data"), a.pg_port)
        return
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    rng = np.random.default_rng(20250111)
    per_view = a.feature_rows // 2
    keys = max(per_view // 25, 1)
    for v, nulls in (("a", True), ("b", False)):
        t = source(rng, per_view, keys, f"f_{v}", nulls)
        pq.write_table(t, os.path.join(out, "data", f"view_{v}.parquet"), row_group_size=1 << 17, compression="snappy")
        pacsv.write_csv(t, os.path.join(out, "data", f"view_{v}.csv"))
    n = a.entity_rows
    ts = START + (5 * DAY_US + rng.integers(0, (SPAN_DAYS - 5) * DAY_US, n)).astype("timedelta64[us]")
    ent = pa.table({
        "entity_id": rng.integers(0, keys + keys // 10, n, dtype=np.int64),
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "label": rng.random(n),
    })
    pq.write_table(ent, os.path.join(out, "entities.parquet"), compression="snappy")
    with open(os.path.join(out, "features.txt"), "w") as f:
        for v in ("a", "b"):
            for s in ("double", "double2", "float", "int", "string"):
                f.write(f"view_{v}:f_{v}_{s}\n")
    print(f"gen: {n} entity rows, 2 x {per_view} feature rows over {keys} keys in {out}")


def write_repos(out, data, pg_port):
    """The three Feast repos under out, over the files in data."""
    write_repo(out, "repo-file", "  type: file\n", FILE_IMPORTS,
               lambda v: FILE_SRC.format(v=v, path=os.path.join(data, f"view_{v}.parquet")))
    write_repo(out, "repo-duckdb", "  type: duckdb\n", FILE_IMPORTS,
               lambda v: FILE_SRC.format(v=v, path=os.path.join(data, f"view_{v}.parquet")))
    if pg_port:
        write_repo(out, "repo-pg",
                   f"  type: postgres\n  host: 127.0.0.1\n  port: {pg_port}\n  database: feast\n"
                   f"  db_schema: public\n  user: feast\n  password: feast\n  sslmode: disable\n", PG_IMPORTS,
                   lambda v: PG_SRC.format(v=v))


if __name__ == "__main__":
    main()
