"""Record Feast 0.67's point-in-time join answers as golden files Go can read without Python.

    "$(scripts/feast-venv.sh)/bin/python" conformance/historical_goldens.py [--out DIR] [--no-duckdb] [--no-postgres]

Generates conformance/historical_repo.py's repo in a temp dir, runs the real `feast apply`,
then every case of CASES through `FeatureStore.get_historical_features(...).to_df()` with
Feast's `file` offline store, (unless --no-duckdb) its `duckdb` offline store and (unless
--no-postgres) its `postgres` offline store, and writes

  DIR/cases/<case>.json   the request and each store's answer (format: DIR/README.md)
  DIR/repo/               feature_store.yaml, features.py, data/*.parquet, data/registry.db
  DIR/repo_postgres/      the same repo over PostgreSQLSource tables: features.py,
                          feature_store.yaml (host/port placeholders), data.sql (the parquet
                          rows as CREATE TABLE + INSERT), data/registry.db

For the postgres store the script starts a PostgreSQL of its own (scripts/services.sh, on a
free port, stopped at the end; or uses HISTORICAL_GOLDENS_PG_PORT's, which it leaves running),
runs data.sql in schema `historical_goldens` and points offline_store.db_schema at it. The
postgres extra (psycopg) is part of the shared Feast venv (scripts/feast-venv.sh).

DIR defaults to offlinestore/testdata/historical. data/registry.db is rewritten only when
its objects differ from the fresh apply's (every apply changes ids and timestamps).

The duckdb store needs ibis-framework[duckdb], which the shared Feast venv does not carry:
it is pip-installed once (pinned, --no-deps) into DUCKDB_EXTRA_DIR, default
~/.cache/feature-server/duckdb-extra-feast-0.67.0, and put on sys.path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import historical_repo  # noqa: E402

DEFAULT_OUT = ROOT / "offlinestore" / "testdata" / "historical"
REPO_FILES = (
    "feature_store.yaml", "features.py", "data/registry.db",
    "data/driver_stats.parquet", "data/driver_daily.parquet", "data/customer_profile.parquet",
    "data/driver_customer.parquet", "data/global_stats.parquet",
)
PG_REPO_FILES = ("feature_store.yaml", "features.py", "data.sql", "data/registry.db")
PG_SCHEMA = "historical_goldens"
FORMAT_VERSION = 1

DUCKDB_PINS = (
    "ibis-framework==12.0.0", "duckdb==2.0.1", "atpublic==9.0.0", "parsy==2.2", "pyarrow-hotfix==0.7",
    "sqlglot==30.31.0", "rich==15.0.0", "markdown-it-py==4.3.0", "mdurl==0.1.2",
)
DUCKDB_EXTRA_DIR = Path(os.environ.get(
    "DUCKDB_EXTRA_DIR",
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "feature-server" / "duckdb-extra-feast-0.67.0",
))


# --------------------------------------------------------------------------
# Cases. Entity frames are given as ordered columns with a pandas dtype each; timestamp
# columns hold RFC 3339 strings (or null) and are parsed with pandas.to_datetime.

def T(s: str) -> str:
    return "2025-03-" + s


D_TS = "datetime64[ns, UTC]"

# The main frame: every view's join keys, labels, and rows chosen for the edges.
MAIN_ROWS = [
    # driver_id, customer_id, event_timestamp, label_int, label_f
    (1001, "c1", T("01T00:00:00Z"), 1, 0.5),    # exactly at 1001's first row and c1's first row
    (1001, "c1", T("02T00:00:00Z"), 2, None),   # at the created-ts tie (0.21 must win); c1 at T0+1d exactly
    (1001, "c2", T("02T12:00:00Z"), 3, float("nan")),
    (1001, "c1", T("03T00:00:00Z"), 4, 1.5),    # at 1001's NaN/null row
    (1001, "c1", T("04T00:00:00Z"), 5, 2.5),    # after everything: NaN row still within ttl
    (1002, "c1", T("02T11:59:59Z"), 6, 3.5),    # 1s before 1002's full tie: its T0+12h row
    (1002, "c3", T("02T12:00:00Z"), 7, 4.5),    # exactly at the full tie; c3 has no rows
    (1003, "c2", T("03T00:00:00Z"), 8, 5.5),    # ttl lower bound exactly (T0 == ts - 2d): inclusive
    (1003, "c2", T("03T00:00:01Z"), 9, 6.5),    # one second past ttl: no match
    (1004, "c1", T("05T00:00:00Z"), 10, 7.5),   # 1004's only row is in the future
    (9999, "c9", T("02T00:00:00Z"), 11, 8.5),   # no rows anywhere
    (1001, "c1", T("01T00:00:00Z"), 12, 9.5),   # same keys+ts as row 0, other label
    (1001, "c1", "2025-02-28T23:59:59Z", 13, 10.5),  # one second before any driver_stats row
]


def frame(rows, names, dtypes) -> Dict[str, Any]:
    cols = list(zip(*rows)) if rows else [[] for _ in names]
    return {"columns": [{"name": n, "dtype": dt, "values": list(c)} for n, dt, c in zip(names, dtypes, cols)]}


MAIN = frame(
    MAIN_ROWS,
    ["driver_id", "customer_id", "event_timestamp", "label_int", "label_f"],
    ["int64", "object", D_TS, "int64", "float64"],
)

ALL_FEATURES = [
    "driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:trips", "driver_stats:label",
    "driver_daily:trips_today",
    "customer_profile:segment", "customer_profile:score", "customer_profile:vip",
    "driver_customer:pair_trips",
    "global_stats:total_active",
]


def only(fr: Dict[str, Any], names: List[str]) -> Dict[str, Any]:
    return {"columns": [c for c in fr["columns"] if c["name"] in names]}


def with_column(fr: Dict[str, Any], name: str, dtype: str, values: list) -> Dict[str, Any]:
    return {"columns": fr["columns"] + [{"name": name, "dtype": dtype, "values": values}]}


def renamed(fr: Dict[str, Any], old: str, new: str, dtype: Optional[str] = None, values=None) -> Dict[str, Any]:
    cols = []
    for c in fr["columns"]:
        if c["name"] == old:
            c = {"name": new, "dtype": dtype or c["dtype"], "values": values if values is not None else c["values"]}
        cols.append(c)
    return {"columns": cols}


N = len(MAIN_ROWS)
TS_VALUES = [r[2] for r in MAIN_ROWS]


def _shift(ts: str, offset: str) -> str:
    """The same instant written with another UTC offset (e.g. +02:00)."""
    t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    sign = 1 if offset[0] == "+" else -1
    hh, mm = offset[1:].split(":")
    tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
    return t.astimezone(tz).isoformat()


CASES: List[Dict[str, Any]] = [
    {"name": "all_views", "description": "every view, plain names, the edge-case frame with two label columns",
     "features": ALL_FEATURES, "full_feature_names": False, "entity_df": MAIN},
    {"name": "all_views_full_names", "description": "every view with full_feature_names",
     "features": ALL_FEATURES, "full_feature_names": True, "entity_df": MAIN},
    {"name": "driver_stats_edges", "description": "ttl view with created-ts ties and ttl edges, in a non-request order",
     "features": ["driver_stats:trips", "driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp", "label_int"])},
    {"name": "no_ttl_field_mapping", "description": "ttl 0 view with a field_mapping and its own timestamp field name",
     "features": ["driver_daily:trips_today"], "full_feature_names": True,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "string_key_ttl_1d", "description": "String join key, ttl 1 day, NaN and all-null source rows",
     "features": ["customer_profile:vip", "customer_profile:score", "customer_profile:segment"],
     "full_feature_names": False, "entity_df": only(MAIN, ["customer_id", "event_timestamp"])},
    {"name": "composite_key", "description": "two join keys",
     "features": ["driver_customer:pair_trips"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "customer_id", "event_timestamp"])},
    {"name": "entityless", "description": "entityless view: latest row at or before each entity ts",
     "features": ["global_stats:total_active"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "odfv_python", "description": "python-mode ODFV with request data, plus one of its inputs",
     "features": ["driver_stats:conv_rate", "driver_conv_py:conv_plus_val", "driver_conv_py:trips_label"],
     "full_feature_names": False,
     "entity_df": with_column(only(MAIN, ["driver_id", "event_timestamp"]), "val_to_add", "int64", list(range(N)))},
    {"name": "odfv_pandas_full_names", "description": "pandas-mode ODFV alone: its inputs are joined too",
     "features": ["customer_score_pd:adjusted_score"], "full_feature_names": True,
     "entity_df": with_column(only(MAIN, ["customer_id", "event_timestamp"]), "multiplier", "float64",
                              [2.0 + i for i in range(N)])},
    {"name": "feature_service", "description": "feature service with a view projection and an ODFV",
     "feature_service": "driver_service", "full_feature_names": False,
     "entity_df": with_column(only(MAIN, ["driver_id", "event_timestamp"]), "val_to_add", "int64", [10] * N)},
    {"name": "feature_service_aliased", "description": "with_name alias and with_join_key_map, full names",
     "feature_service": "aliased_service", "full_feature_names": True,
     "entity_df": renamed(only(MAIN, ["driver_id", "customer_id", "event_timestamp"]), "customer_id", "other_customer_id")},
    {"name": "feature_service_aliased_plain", "description": "the aliased service without full names",
     "feature_service": "aliased_service", "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "customer_id", "event_timestamp"]), "customer_id", "other_customer_id")},
    {"name": "tz_offset", "description": "entity timestamps written at +02:00 (a fixed-offset tz-aware column)",
     "features": ["driver_stats:conv_rate", "global_stats:total_active"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "event_timestamp"]), "event_timestamp", "event_timestamp",
                          "datetime64[ns, UTC+02:00]", [_shift(t, "+02:00") for t in TS_VALUES])},
    {"name": "naive_timestamps", "description": "naive entity timestamps (mean UTC)",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "event_timestamp"]), "event_timestamp", "event_timestamp",
                          "datetime64[ns]", [t.replace("Z", "") for t in TS_VALUES])},
    {"name": "other_timestamp_name", "description": "the frame's only datetime column is not called event_timestamp",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "event_timestamp"]), "event_timestamp", "label_time")},
    {"name": "two_timestamp_columns", "description": "event_timestamp plus another datetime column (passed through)",
     "features": ["driver_stats:trips"], "full_feature_names": False,
     "entity_df": with_column(only(MAIN, ["driver_id", "event_timestamp"]), "seen_at", "datetime64[ns, UTC-01:00]",
                              ["2024-12-31T23:00:00-01:00"] * N)},
    {"name": "null_join_key", "description": "a null String join key in the frame",
     "features": ["customer_profile:segment", "driver_customer:pair_trips"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "customer_id", "event_timestamp"]), "customer_id", "customer_id",
                          "object", [None if i % 3 == 0 else r[1] for i, r in enumerate(MAIN_ROWS)])},
    {"name": "zero_rows", "description": "an entity frame of 0 rows",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": frame([], ["driver_id", "event_timestamp"], ["int64", D_TS])},
    # Bad input (issue 11 item 5): Feast's exception class and message are recorded.
    {"name": "bad_no_timestamp_column", "description": "no datetime column at all",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "label_int"])},
    {"name": "bad_unparseable_timestamp", "description": "event_timestamp holds strings that are no timestamps",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "event_timestamp"]), "event_timestamp", "event_timestamp",
                          "object", ["not a timestamp"] * N)},
    {"name": "string_timestamps", "description": "event_timestamp as RFC 3339 strings (object dtype), not parsed by the caller",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "event_timestamp"]), "event_timestamp", "event_timestamp",
                          "object", TS_VALUES)},
    {"name": "bad_mixed_zone_timestamps", "description": "an object column of datetimes with different UTC offsets",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": renamed(only(MAIN, ["driver_id", "event_timestamp"]), "event_timestamp", "event_timestamp",
                          "object[datetime]", [_shift(t, "+02:00" if i % 2 else "-05:00") for i, t in enumerate(TS_VALUES)])},
    {"name": "bad_unknown_view", "description": "a feature ref to a view that does not exist",
     "features": ["no_such_view:conv_rate"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "bad_unknown_feature", "description": "a feature the view does not have",
     "features": ["driver_stats:no_such_feature"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "bad_unknown_feature_service", "description": "a feature service that does not exist",
     "feature_service": "no_such_service", "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "bad_join_key_missing", "description": "customer_id missing from the frame",
     "features": ["customer_profile:segment"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "bad_request_data_missing", "description": "ODFV request field val_to_add missing from the frame",
     "features": ["driver_conv_py:conv_plus_val"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
    {"name": "bad_name_collision", "description": "the same plain feature name from two projections",
     "features": ["driver_stats:conv_rate", "driver_stats:conv_rate"], "full_feature_names": False,
     "entity_df": only(MAIN, ["driver_id", "event_timestamp"])},
]


# Range mode (issue 11): get_historical_features(entity_df=None, start_date=, end_date=).
# Dates are RFC 3339 (a naive one is UTC); start_date None is Feast's default (end - max ttl).
# The rows are each store's own (file: one per entity as of end_date; postgres: the source rows
# in the range), recorded sorted.
RANGE_CASES: List[Dict[str, Any]] = [
    {"name": "range_ttl_view", "description": "range mode: ttl view with created-ts ties, 2 days",
     "features": ["driver_stats:conv_rate", "driver_stats:trips"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("03T00:00:00Z")},
    {"name": "range_all_features_full_names", "description": "range mode: every driver_stats feature, full names",
     "features": ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:trips", "driver_stats:label"],
     "full_feature_names": True, "start_date": T("01T12:00:00Z"), "end_date": T("02T12:00:00Z")},
    {"name": "range_no_ttl_field_mapping", "description": "range mode: ttl 0 view with a field_mapping",
     "features": ["driver_daily:trips_today"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("04T00:00:00Z")},
    {"name": "range_string_key", "description": "range mode: String join key, ttl 1 day",
     "features": ["customer_profile:segment", "customer_profile:score", "customer_profile:vip"],
     "full_feature_names": False, "start_date": T("01T00:00:00Z"), "end_date": T("02T12:00:00Z")},
    {"name": "range_composite_key", "description": "range mode: two join keys",
     "features": ["driver_customer:pair_trips"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("04T00:00:00Z")},
    {"name": "range_entityless", "description": "range mode: entityless view",
     "features": ["global_stats:total_active"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("03T00:00:00Z")},
    {"name": "range_two_views_same_key", "description": "range mode: two views over the same join key",
     "features": ["driver_stats:conv_rate", "driver_daily:trips_today"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("03T00:00:00Z")},
    {"name": "range_two_views_other_keys", "description": "range mode: views with different join keys",
     "features": ["driver_stats:conv_rate", "customer_profile:segment"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("03T00:00:00Z")},
    {"name": "range_default_start", "description": "range mode: no start_date (end - the largest ttl)",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "start_date": None, "end_date": T("03T00:00:00Z")},
    {"name": "range_default_start_no_ttl", "description": "range mode: no start_date, no ttl (end - 30 days)",
     "features": ["global_stats:total_active"], "full_feature_names": False,
     "start_date": None, "end_date": "2025-03-31T12:00:00Z"},
    {"name": "range_naive_dates", "description": "range mode: naive dates (UTC)",
     "features": ["driver_stats:trips"], "full_feature_names": False,
     "start_date": "2025-03-01T12:00:00", "end_date": "2025-03-02T12:00:00"},
    {"name": "range_empty_window", "description": "range mode: a range before every row",
     "features": ["driver_stats:conv_rate"], "full_feature_names": False,
     "start_date": "2024-01-01T00:00:00Z", "end_date": "2024-01-02T00:00:00Z"},
    {"name": "range_feature_service_aliased", "description": "range mode: a feature service with an alias",
     "feature_service": "aliased_service", "full_feature_names": True,
     "start_date": T("01T00:00:00Z"), "end_date": T("03T00:00:00Z")},
    {"name": "bad_range_odfv_request_data", "description": "range mode: an ODFV needing request data",
     "features": ["driver_conv_py:conv_plus_val"], "full_feature_names": False,
     "start_date": T("01T00:00:00Z"), "end_date": T("03T00:00:00Z")},
]

# --------------------------------------------------------------------------
# JSON <-> pandas

def build_entity_df(spec: Dict[str, Any]):
    import pandas as pd

    data = {}
    for c in spec["columns"]:
        dt, vals = c["dtype"], [decode_value(v) for v in c["values"]]
        if dt.startswith("datetime64"):
            s = pd.to_datetime(pd.Series(vals, dtype="object"), format="ISO8601")
            if not vals and "," in dt:  # an empty column parses as naive
                s = s.dt.tz_localize(dt.split(",", 1)[1].strip(" ]"))
            if str(s.dtype) != dt:
                raise ValueError(f"column {c['name']}: built {s.dtype}, want {dt}")
        elif dt == "object[datetime]":  # python datetimes with their own offsets
            s = pd.Series([None if v is None else datetime.fromisoformat(v) for v in vals], dtype="object")
        elif dt == "float64":
            s = pd.Series([math.nan if v is None else v for v in vals], dtype="float64")
        else:
            s = pd.Series(vals, dtype=dt)
        data[c["name"]] = s
    return pd.DataFrame(data, columns=[c["name"] for c in spec["columns"]])


def decode_value(v: Any) -> Any:
    if isinstance(v, dict) and v.get("$") in SPECIAL_FLOATS:
        return SPECIAL_FLOATS[v["$"]]
    return v


SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_frame_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    return {"columns": [dict(c, values=[encode_value(v) for v in c["values"]]) for c in spec["columns"]]}


def rfc3339(ts) -> str:
    """pandas/python timestamp -> RFC 3339 with offset ('Z' for UTC); naive stays naive."""
    s = ts.isoformat()
    if s.endswith("+00:00"):
        s = s[:-6] + "Z"
    return s


def encode_value(v: Any) -> Any:
    import numpy as np
    import pandas as pd

    if v is None:
        return None
    if v is pd.NaT:
        return {"$": "NaT"}
    if v is pd.NA:
        return {"$": "NA"}
    if isinstance(v, (pd.Timestamp, datetime)):
        return rfc3339(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return {"$": "NaN"}
        if math.isinf(f):
            return {"$": "Infinity" if f > 0 else "-Infinity"}
        return f
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        import base64
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [encode_value(x) for x in v]
    return {"$repr": repr(v), "$type": type(v).__name__}


def encode_df(df) -> Dict[str, Any]:
    cols = []
    for name in df.columns:
        s = df[name]
        cols.append({"name": str(name), "dtype": str(s.dtype), "values": [encode_value(v) for v in s.tolist()]})
    return {"num_rows": len(df), "columns": cols}


def _key(v: Any) -> str:
    """Comparable form of one entity-frame value: timestamps as UTC instants."""
    import pandas as pd

    if isinstance(v, (pd.Timestamp, datetime)) and v is not pd.NaT:
        t = pd.Timestamp(v)
        if t.tzinfo is None:
            t = t.tz_localize("UTC")
        return "ts:" + str(t.tz_convert("UTC").value)
    return json.dumps(encode_value(v), sort_keys=True)


def attach_entity_rows(result, entity_df) -> Dict[str, Any]:
    """Rows of Feast's answer sorted by the entity row they come from (row order is Feast's own
    business: dask sorts by timestamp, SQL engines do not sort). Each row gets the indices of the
    entity-frame rows with the same values in every entity-frame column."""
    import pandas as pd

    ent_cols = list(entity_df.columns)

    def ent_key(c: str, v: Any) -> str:
        # A column Feast parsed into timestamps (strings, mixed-offset datetimes) is keyed as such.
        if c in result.columns and str(result[c].dtype).startswith("datetime64") and isinstance(v, (str, datetime)):
            try:
                return _key(pd.Timestamp(v))
            except ValueError:
                pass
        return _key(v)

    index: Dict[tuple, List[int]] = {}
    for i in range(len(entity_df)):
        k = tuple(ent_key(c, entity_df[c].iloc[i]) for c in ent_cols)
        index.setdefault(k, []).append(i)
    feast_order = []
    for j in range(len(result)):
        k = tuple(_key(result[c].iloc[j]) if c in result.columns else "<missing>" for c in ent_cols)
        feast_order.append(index.get(k, []))
    order = sorted(range(len(result)), key=lambda j: (feast_order[j] or [len(entity_df)], j))
    doc = encode_df(result.iloc[order].reset_index(drop=True))
    doc["entity_rows"] = [feast_order[j] for j in order]
    covered = {i for rows in feast_order for i in rows}
    doc["missing_entity_rows"] = [i for i in range(len(entity_df)) if i not in covered]
    return doc


# --------------------------------------------------------------------------
# Running Feast

def ensure_duckdb() -> bool:
    try:
        import ibis  # noqa: F401
        import duckdb  # noqa: F401
        return True
    except ImportError:
        pass
    if not (DUCKDB_EXTRA_DIR / ".complete").exists():
        print(f"historical_goldens: installing {' '.join(DUCKDB_PINS)} into {DUCKDB_EXTRA_DIR}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
             "--target", str(DUCKDB_EXTRA_DIR), *DUCKDB_PINS],
            check=True, stdout=sys.stderr,
        )
        (DUCKDB_EXTRA_DIR / ".complete").write_text("\n".join(DUCKDB_PINS) + "\n")
    sys.path.append(str(DUCKDB_EXTRA_DIR))
    import ibis  # noqa: F401,F811
    import duckdb  # noqa: F401,F811
    return True


# --------------------------------------------------------------------------
# The PostgreSQL twin of the repo

# Column types as Feast's PostgreSQL offline store maps Arrow types (pa_to_postgres_type).
PG_TYPES = {
    "int64": "bigint", "int32": "integer", "double": "double precision", "float": "real",
    "string": "text", "bool": "boolean", "timestamp[us, tz=UTC]": "timestamptz",
}


def _sql_literal(v: Any, typ: str) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "'NaN'" if math.isnan(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        return "'" + v.isoformat() + "'"
    return "'" + str(v).replace("'", "''") + "'"


def postgres_sql(data: Path) -> str:
    """The repo's parquet files as SQL: one CREATE TABLE + INSERT per file, rows in file order
    (a full tie is broken by physical order in some stores), into the current search_path."""
    import pyarrow.parquet as pq

    out = ["-- Generated by conformance/historical_goldens.py from repo/data/*.parquet: do not edit."]
    for path in sorted(data.glob("*.parquet")):
        tbl = pq.read_table(path)
        types = [PG_TYPES[str(f.type)] for f in tbl.schema]
        cols = ", ".join(f'"{f.name}" {t}' for f, t in zip(tbl.schema, types))
        out.append(f'CREATE TABLE "{path.stem}" ({cols});')
        names = ", ".join(f'"{f.name}"' for f in tbl.schema)
        rows = [", ".join(_sql_literal(r[f.name], t) for f, t in zip(tbl.schema, types)) for r in tbl.to_pylist()]
        out.append(f'INSERT INTO "{path.stem}" ({names}) VALUES\n  (' + "),\n  (".join(rows) + ");")
    return "\n".join(out) + "\n"


def postgres_features_py(src: str) -> str:
    """features.py with every FileSource a PostgreSQLSource over the table of the same name."""
    import re

    out = src.replace(
        "from feast.on_demand_feature_view import on_demand_feature_view\n",
        "from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource\n"
        "from feast.on_demand_feature_view import on_demand_feature_view\n",
    ).replace(", FileSource,", ",")
    out, n = re.subn(r'FileSource\(\n(\s+name="[a-z_]+",\n)(\s+)path="data/([a-z_]+)\.parquet",',
                     r'PostgreSQLSource(\n\1\2table="\3",', out)
    want = src.count("FileSource(")
    if n != want or n < 5:
        raise RuntimeError(f"expected {want} FileSources in features.py, rewrote {n}")
    return out


def postgres_yaml(src: str, port: Any) -> str:
    offline = ("offline_store:\n  type: postgres\n  host: 127.0.0.1\n  port: " + str(port) + "\n  database: feast\n"
               f"  db_schema: {PG_SCHEMA}\n  user: feast\n  password: feast\n  sslmode: disable\n")
    if "offline_store:\n  type: file\n" not in src:
        raise RuntimeError("feature_store.yaml: no `offline_store: type: file` block to replace")
    return src.replace("offline_store:\n  type: file\n", offline)


def write_postgres_repo(repo: Path, pg_repo: Path, port: int) -> None:
    pg_repo.mkdir(parents=True, exist_ok=True)
    (pg_repo / "data").mkdir(exist_ok=True)
    (pg_repo / "features.py").write_text(postgres_features_py((repo / "features.py").read_text()))
    (pg_repo / "feature_store.yaml").write_text(postgres_yaml((repo / "feature_store.yaml").read_text(), port))
    (pg_repo / "data.sql").write_text(postgres_sql(repo / "data"))


def load_postgres(port: int, sql: str) -> None:
    """Run data.sql in a fresh PG_SCHEMA (the feast role may not create databases)."""
    import psycopg

    with psycopg.connect(f"postgresql://feast:feast@127.0.0.1:{port}/feast", autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        con.execute(f"SET search_path = {PG_SCHEMA}")
        con.execute(sql)


class Postgres:
    """A PostgreSQL for the postgres store: HISTORICAL_GOLDENS_PG_PORT's (left running), or one
    started here with scripts/services.sh in a temp SERVICES_DIR and stopped by close()."""

    def __init__(self) -> None:
        self.services: Optional[Path] = None
        given = os.environ.get("HISTORICAL_GOLDENS_PG_PORT")
        if given:
            self.port = int(given)
            return
        import harness

        self.port = harness.free_port()
        # The postgres user must traverse the data dir's parents: a dir of its own, 0755.
        self.services = Path(tempfile.mkdtemp(prefix="historical-goldens-pg."))
        self.services.chmod(0o755)
        self._sh("postgres-start")

    def _sh(self, cmd: str) -> None:
        env = dict(os.environ, SERVICES_DIR=str(self.services))
        p = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), cmd, str(self.port)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"services.sh {cmd} {self.port} failed:\n{p.stdout[-3000:]}")

    def close(self) -> None:
        if self.services is not None:
            try:
                self._sh("postgres-stop")
            finally:
                shutil.rmtree(self.services, ignore_errors=True)
                self.services = None


def log(msg: str) -> None:
    print(f"historical_goldens: {msg}", file=sys.stderr)


def feast_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"TZ": "UTC", "PYTHONHASHSEED": "0", "FEAST_USAGE": "False"})
    return env


def feast_apply(repos: List[Path], with_duckdb: bool) -> None:
    """The real `feast apply` CLI in each repo, at once; meanwhile this process imports what
    the retrievals need."""
    feast = str(Path(sys.executable).parent / "feast")
    procs = [subprocess.Popen([feast, "-c", str(r), "apply"], cwd=r, env=feast_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in repos]
    outs = []
    try:
        import feast.infra.offline_stores.dask  # noqa: F401
        if with_duckdb:
            ensure_duckdb()
            import feast.infra.offline_stores.duckdb  # noqa: F401
        if len(repos) > 1:
            import feast.infra.offline_stores.contrib.postgres_offline_store.postgres  # noqa: F401
        outs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for r, p, out in zip(repos, procs, outs):
        if p.returncode != 0:
            raise RuntimeError(f"feast apply in {r.name} failed ({p.returncode}):\n{out[-4000:]}")


def parse_date(s: Optional[str]) -> Optional[datetime]:
    return None if s is None else datetime.fromisoformat(s.replace("Z", "+00:00"))


def sorted_result(df) -> Dict[str, Any]:
    """A range-mode answer: its rows sorted by their encoded values (row order is the store's)."""
    doc = encode_df(df)
    rows = list(zip(*[c["values"] for c in doc["columns"]])) if doc["columns"] else []
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
    for i, c in enumerate(doc["columns"]):
        c["values"] = [r[i] for r in rows]
    doc["sorted"] = True
    return doc


def run_range_case(store, case: Dict[str, Any]) -> Dict[str, Any]:
    kwargs: Dict[str, Any] = {"full_feature_names": case["full_feature_names"],
                              "start_date": parse_date(case["start_date"]), "end_date": parse_date(case["end_date"])}
    try:
        if "feature_service" in case:
            kwargs["features"] = store.get_feature_service(case["feature_service"])
        else:
            kwargs["features"] = case["features"]
        df = store.get_historical_features(**kwargs).to_df()
    except Exception as e:
        return {"error": {"module": type(e).__module__, "class": type(e).__name__, "message": str(e)}}
    return {"result": sorted_result(df)}


def run_case(store, case: Dict[str, Any]) -> Dict[str, Any]:
    if "entity_df" not in case:
        return run_range_case(store, case)
    entity_df = build_entity_df(case["entity_df"])
    kwargs: Dict[str, Any] = {"entity_df": entity_df, "full_feature_names": case["full_feature_names"]}
    try:
        if "feature_service" in case:
            kwargs["features"] = store.get_feature_service(case["feature_service"])
        else:
            kwargs["features"] = case["features"]
        df = store.get_historical_features(**kwargs).to_df()
    except Exception as e:  # Feast's answer to bad input is its exception
        return {"error": {"module": type(e).__module__, "class": type(e).__name__, "message": str(e)}}
    return {"result": attach_entity_rows(df, entity_df)}


def stores(repo: Path, with_duckdb: bool, pg_repo: Optional[Path]):
    from feast import FeatureStore

    out = {"file": FeatureStore(repo_path=str(repo))}
    if with_duckdb:
        ensure_duckdb()
        yml = repo / "feature_store.duckdb.yaml"
        yml.write_text((repo / "feature_store.yaml").read_text().replace("type: file", "type: duckdb"))
        out["duckdb"] = FeatureStore(repo_path=str(repo), fs_yaml_file=yml)
    if pg_repo is not None:
        out["postgres"] = FeatureStore(repo_path=str(pg_repo))
    return out


def differences(answers: Dict[str, Any], na: str = "file", nb: str = "duckdb") -> List[str]:
    """Human-readable notes where two stores' answers differ (beyond row order)."""
    if na not in answers or nb not in answers:
        return []
    a, b = answers[na], answers[nb]
    notes = []
    if ("error" in a) != ("error" in b):
        return [f"{na}: {'error' if 'error' in a else 'result'}; {nb}: {'error' if 'error' in b else 'result'}"]
    if "error" in a:
        if a["error"]["class"] != b["error"]["class"]:
            notes.append(f"error class: {na} {a['error']['class']}, {nb} {b['error']['class']}")
        elif a["error"]["message"] != b["error"]["message"]:
            notes.append("error message differs")
        return notes
    ra, rb = a["result"], b["result"]
    if [c["name"] for c in ra["columns"]] != [c["name"] for c in rb["columns"]]:
        notes.append(f"columns: {na} {[c['name'] for c in ra['columns']]}, {nb} {[c['name'] for c in rb['columns']]}")
    da = {c["name"]: c for c in ra["columns"]}
    db = {c["name"]: c for c in rb["columns"]}
    for name in da:
        if name in db and da[name]["dtype"] != db[name]["dtype"]:
            notes.append(f"dtype of {name}: {na} {da[name]['dtype']}, {nb} {db[name]['dtype']}")
    if ra.get("sorted"):
        if ra["num_rows"] != rb["num_rows"]:
            notes.append(f"rows: {na} {ra['num_rows']}, {nb} {rb['num_rows']}")
        elif [c["values"] for c in ra["columns"]] != [c["values"] for c in rb["columns"]]:
            notes.append("values differ")
        return notes
    if ra["missing_entity_rows"] != rb["missing_entity_rows"]:
        notes.append(f"entity rows missing from the answer: {na} {ra['missing_entity_rows']}, {nb} {rb['missing_entity_rows']}")
    if ra["num_rows"] != rb["num_rows"]:
        notes.append(f"rows: {na} {ra['num_rows']}, {nb} {rb['num_rows']}")
    # values per entity row present in both
    def by_row(r):
        out = {}
        for j, rows in enumerate(r["entity_rows"]):
            out[tuple(rows)] = {c["name"]: c["values"][j] for c in r["columns"]}
        return out
    ba, bb = by_row(ra), by_row(rb)
    for k in sorted(set(ba) & set(bb)):
        for name in ba[k]:
            if name in bb[k] and ba[k][name] != bb[k][name]:
                notes.append(f"entity row {list(k)} {name}: {na} {json.dumps(ba[k][name])}, {nb} {json.dumps(bb[k][name])}")
    return notes


def generate(out: Path, with_duckdb: bool, with_postgres: bool = True, work: Optional[Path] = None) -> Dict[str, Any]:
    """Write goldens into out; returns {case name: doc}."""
    tmp = Path(tempfile.mkdtemp(prefix="historical-goldens.", dir=work))
    pg = None
    try:
        repo = tmp / "repo"
        historical_repo.write_repo(repo)
        pg_repo = None
        if with_postgres:
            pg = Postgres()
            pg_repo = tmp / "repo_postgres"
            write_postgres_repo(repo, pg_repo, pg.port)
            load_postgres(pg.port, (pg_repo / "data.sql").read_text())
        t0 = time.monotonic()
        feast_apply([repo] + ([pg_repo] if pg_repo else []), with_duckdb)
        log(f"feast apply: {time.monotonic() - t0:.1f}s")
        os.environ.update({"TZ": "UTC", "FEAST_USAGE": "False"})
        # Feast's duckdb store reads a relative FileSource path against the working
        # directory, not the repo (the file store uses the repo): run inside the repo.
        cwd = os.getcwd()
        os.chdir(repo)
        try:
            sts = stores(repo, with_duckdb, pg_repo)
            docs = {}
            spent = dict.fromkeys(sts, 0.0)
            for case in CASES + RANGE_CASES:
                answers = {}
                for name, st in sts.items():
                    t0 = time.monotonic()
                    answers[name] = run_case(st, case)
                    spent[name] += time.monotonic() - t0
                docs[case["name"]] = answers
            log("get_historical_features, all cases: " + ", ".join(f"{n} {t:.1f}s" for n, t in spent.items()))
        finally:
            os.chdir(cwd)
        for case in CASES + RANGE_CASES:
            dirs = [str(r) for r in (pg_repo, repo) if r is not None]
            answers = scrub(docs[case["name"]], [str(Path(d).resolve()) for d in dirs] + dirs)
            request = {k: case[k] for k in ("features", "feature_service", "full_feature_names") if k in case}
            if "entity_df" in case:
                request["entity_df"] = encode_frame_spec(case["entity_df"])
            else:
                request["start_date"], request["end_date"] = case["start_date"], case["end_date"]
            docs[case["name"]] = {
                "format": FORMAT_VERSION,
                "name": case["name"],
                "description": case["description"],
                "request": request,
                "answers": answers,
                "store_differences": differences(answers),
            }
            if with_postgres:
                docs[case["name"]]["postgres_differences"] = differences(answers, "duckdb", "postgres")
        write_out(out, repo, pg_repo, docs)
        return docs
    finally:
        if pg is not None:
            pg.close()
        shutil.rmtree(tmp, ignore_errors=True)


def scrub(v: Any, repo_dirs: List[str]) -> Any:
    """Error messages name the temp repo dir: write it as <repo>."""
    if isinstance(v, dict):
        return {k: scrub(x, repo_dirs) for k, x in v.items()}
    if isinstance(v, list):
        return [scrub(x, repo_dirs) for x in v]
    if isinstance(v, str):
        for d in repo_dirs:
            v = v.replace(d, "<repo>")
    return v


def dump(doc: Any) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write_out(out: Path, repo: Path, pg_repo: Optional[Path], docs: Dict[str, Any]) -> None:
    cases = out / "cases"
    cases.mkdir(parents=True, exist_ok=True)
    for p in cases.glob("*.json"):
        if p.stem not in docs:
            p.unlink()
    for name, doc in docs.items():
        (cases / f"{name}.json").write_text(dump(doc))
    dst = out / "repo"
    for rel in REPO_FILES:
        src, d = repo / rel, dst / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        if rel == "data/registry.db" and d.exists() and registry_same(d, src, repo):
            continue
        shutil.copyfile(src, d)
    if pg_repo is None:
        return
    dst = out / "repo_postgres"
    for rel in PG_REPO_FILES:
        src, d = pg_repo / rel, dst / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        if rel == "data/registry.db" and d.exists() and registry_same(d, src, pg_repo):
            continue
        if rel == "feature_store.yaml":  # the port is this run's: committed as a placeholder
            d.write_text(committed_pg_yaml(src.read_text()))
            continue
        shutil.copyfile(src, d)


def committed_pg_yaml(text: str) -> str:
    """repo_postgres/feature_store.yaml as committed: the port of the run replaced by 5432
    (tests write their own PostgreSQL's port)."""
    import re

    return re.sub(r"(?m)^  port: \d+$", "  port: 5432", text, count=1)


def registry_same(committed: Path, fresh: Path, fresh_repo: Path) -> bool:
    """The two registries hold the same objects (ids, timestamps and the temp dir apply ran in
    aside: UDF pickles and infra name it)."""
    import re

    import harness

    def objects(path: Path) -> str:
        text = json.dumps(harness.registry_objects(path, [str(fresh_repo)]), sort_keys=True)
        return re.sub(r"[^\s\"']*historical-goldens\.[A-Za-z0-9_]+/repo", "<repo>", text)

    return objects(committed) == objects(fresh)


def main() -> None:
    # Feast orders some columns (an ODFV's unrequested inputs) by Python set order: pin the
    # hash seed so the goldens are stable; re-exec when the caller did not.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, PYTHONHASHSEED="0"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-duckdb", action="store_true", help="without Feast's duckdb offline store")
    ap.add_argument("--no-postgres", action="store_true", help="without Feast's postgres offline store")
    args = ap.parse_args()
    docs = generate(args.out, not args.no_duckdb, not args.no_postgres)
    for name, doc in docs.items():
        kinds = {s: ("error " + a["error"]["class"]) if "error" in a else f"{a['result']['num_rows']} rows"
                 for s, a in doc["answers"].items()}
        print(f"{name}: {kinds}" + (f"  differences: {len(doc['store_differences'])}" if doc["store_differences"] else ""))


if __name__ == "__main__":
    main()
