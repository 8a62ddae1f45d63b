"""Generate the "types" feature repo: every value type our server must decode and print like Feast.

    python conformance/types_repo.py DIR      # writes DIR/feature_store.yaml, DIR/features.py, DIR/data/*.parquet

Run with the Feast venv's Python (needs pyarrow). The repo is generated at test time by
conformance/test_types.py (never committed); this script is the single source of its
definitions and data. Everything is deterministic: fixed values, fixed event timestamps
inside the suite's materialization window (harness.MATERIALIZE_START..END).

Views (one parquet file each, so a type Feast cannot write shows up as one view):
  scalars    Bytes, String, Int32, Int64, Float32, Float64, Bool, UnixTimestamp
  arrays     Array(...) of each of those
  nullable   the scalars again, with nulls mixed into every column
  complex    Map, Json, Struct, Array(Map), Array(Json), Array(Struct)
  sets       Set(...) of the scalar types
  list_nulls Array(String/Float64/Bool/UnixTimestamp/Bytes) with null elements
  extra      Uuid, TimeUuid, Decimal, PdfBytes, ImageBytes, Array(Uuid), Array(Decimal),
             Array(Array(Int64)), Set(Array(Int64))
  by_code    a String join key (`code`)
  by_small   an Int32 join key (`small_id`)
  by_ts      a UnixTimestamp join key (`ts_key`)
  by_pair    a compound key: Int32 `small_id` + String `code`
Not covered because Feast 0.67.0's `feast materialize` cannot write them from parquet:
ZonedTimestamp (TypeError "ZONED_TIMESTAMP expects datetime values, got numpy.datetime64")
ScalarMap (a parquet map column fails in pyarrow's conversion, a struct column has string
keys, which ScalarMap refuses), and Array(Int32/Int64) with null elements (pyarrow turns the
list into floats, which Feast's type check refuses).
Items (join key `item_id`, Int64): 1 ordinary values, 2 edge values (NaN, ±inf, -0.0, extreme
ints, unicode with quotes/newlines/emoji, empty strings/bytes/lists), 3 negatives and nulls,
-1 and 9223372036854775807 (extreme keys).
"""

from __future__ import annotations

import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PROJECT = "types_conformance"
UTC = timezone.utc

# Inside the suite's window 2025-01-01..2025-01-08; fractions exercise timestamp printing.
TS_A = datetime(2025, 1, 3, 4, 5, 6, tzinfo=UTC)
TS_B = datetime(2025, 1, 4, 7, 8, 9, 123456, tzinfo=UTC)
TS_C = datetime(2025, 1, 5, 10, 11, 12, 500000, tzinfo=UTC)
CREATED = datetime(2025, 1, 6, tzinfo=UTC)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

UNICODE = 'quote " backslash \\ slash / newline \n tab \t cr \r emoji 😀🚀 accents éü 中文 \u2028 nul \x00 bell \x07'
TS_VALUES = [
    datetime(2024, 2, 29, 12, 34, 56, 789012, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2100, 1, 1, tzinfo=UTC),
]

ITEMS = [1, 2, 3, -1, INT64_MAX]
EVENT_TS = [TS_A, TS_B, TS_C, TS_A, TS_B]

TS_US = pa.timestamp("us", tz="UTC")


def _common(ids, ts=None):
    ts = ts or EVENT_TS[: len(ids)]
    return {
        "event_timestamp": pa.array(ts, TS_US),
        "created": pa.array([CREATED] * len(ids), TS_US),
    }


def _write(path: Path, columns: dict) -> None:
    pq.write_table(pa.table(columns), str(path))


def write_data(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    ids = pa.array(ITEMS, pa.int64())

    _write(data / "scalars.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        "f_bytes": pa.array([b"hello", b"\x00\x01\xfe\xff", b"", b"\x80", b"end"], pa.binary()),
        "f_string": pa.array(["plain", UNICODE, "", " leading and trailing ", "last"], pa.string()),
        "f_int32": pa.array([7, INT32_MAX, INT32_MIN, -1, 0], pa.int32()),
        "f_int64": pa.array([42, INT64_MAX, INT64_MIN, -42, 0], pa.int64()),
        "f_float32": pa.array([0.1, float("inf"), float("nan"), -0.0, 3.4028234663852886e38], pa.float32()),
        "f_float64": pa.array([0.1, float("-inf"), float("nan"), -0.0, 5e-324], pa.float64()),
        "f_bool": pa.array([True, False, True, False, True], pa.bool_()),
        "f_ts": pa.array(TS_VALUES + [datetime(1970, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)], TS_US),
    })

    _write(data / "nullable.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        "n_bytes": pa.array([b"x", None, b"", None, b"y"], pa.binary()),
        "n_string": pa.array(["x", None, "", None, "null"], pa.string()),
        "n_int32": pa.array([1, None, -5, None, 0], pa.int32()),
        "n_int64": pa.array([1, None, -5, None, 0], pa.int64()),
        "n_float32": pa.array([1.5, None, float("nan"), None, 0.0], pa.float32()),
        "n_float64": pa.array([1.5, None, float("nan"), None, 0.0], pa.float64()),
        "n_bool": pa.array([True, None, False, None, True], pa.bool_()),
        "n_ts": pa.array([TS_VALUES[0], None, TS_VALUES[1], None, TS_VALUES[2]], TS_US),
    })

    _write(data / "arrays.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        "a_bytes": pa.array([[b"a", b"\xff"], [], [b""], None, [b"z"]], pa.list_(pa.binary())),
        "a_string": pa.array([["a", "b"], [], [UNICODE, ""], None, ["😀"]], pa.list_(pa.string())),
        "a_int32": pa.array([[1, 2, 3], [], [INT32_MIN, INT32_MAX], None, [0]], pa.list_(pa.int32())),
        "a_int64": pa.array([[1, 2, 3], [], [INT64_MIN, INT64_MAX], None, [-1]], pa.list_(pa.int64())),
        "a_float32": pa.array(
            [[0.1, 2.5], [], [float("nan"), float("inf"), float("-inf"), -0.0], None, [1e-45]], pa.list_(pa.float32())
        ),
        "a_float64": pa.array(
            [[0.1, 2.5], [], [float("nan"), float("inf"), float("-inf"), -0.0], None, [1e308]], pa.list_(pa.float64())
        ),
        "a_bool": pa.array([[True, False], [], [False], None, [True, True]], pa.list_(pa.bool_())),
        "a_ts": pa.array([TS_VALUES, [], [TS_VALUES[1]], None, [TS_VALUES[2]]], pa.list_(TS_US)),
    })

    # Null elements inside lists (Feast substitutes a per-type default; Int lists with a null
    # cannot be materialized: pyarrow turns them into floats).
    _write(data / "list_nulls.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        "ln_string": pa.array([["a", None], [None], [], None, ["z"]], pa.list_(pa.string())),
        "ln_float64": pa.array([[1.5, None], [None], [], None, [2.5]], pa.list_(pa.float64())),
        "ln_bool": pa.array([[True, None], [None], [], None, [False]], pa.list_(pa.bool_())),
        "ln_ts": pa.array([[TS_VALUES[0], None], [None], [], None, [TS_VALUES[1]]], pa.list_(TS_US)),
        "ln_bytes": pa.array([[b"a", None], [None], [], None, [b"z"]], pa.list_(pa.binary())),
    })

    _write(data / "complex.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        # Map and Struct columns as JSON text: Feast json.loads() strings for MAP/STRUCT values.
        "c_map": pa.array([
            '{"a": "x", "b": "y"}',
            '{"n": 1, "f": 1.5, "t": true, "s": "' + 'q\\"uote \\n 😀' + '", "l": [1, 2], "nested": {"k": "v"}, "none": null}',
            "{}",
            None,
            '{"z": "last", "a": "first"}',
        ], pa.string()),
        "c_json": pa.array([
            '{"k": [1, 2, {"x": null}]}',
            '[1, "two", 3.5, true, null]',
            '"just a string"',
            None,
            "123",
        ], pa.large_string()),
        "c_struct": pa.array([
            {"name": "alice", "age": 30},
            {"name": UNICODE, "age": -1},
            {"name": "", "age": 0},
            None,
            {"name": "z", "age": INT32_MAX},
        ], pa.struct([("name", pa.string()), ("age", pa.int32())])),
        "c_map_list": pa.array([
            '[{"a": "1"}, {"b": "2"}]',
            "[]",
            '[{"x": 1.5}]',
            None,
            '[{}]',
        ], pa.string()),
        "c_json_list": pa.array([
            ['{"a": 1}', "[1, 2]"],
            [],
            ['"s"', "null", "1.5"],
            None,
            ["true"],
        ], pa.list_(pa.string())),
        "c_struct_list": pa.array([
            '[{"name": "a", "age": 1}, {"name": "b", "age": 2}]',
            "[]",
            '[{"name": "c", "age": -3}]',
            None,
            '[{"name": "d", "age": 4}]',
        ], pa.string()),
    })

    _write(data / "sets.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        "s_string": pa.array([["a", "b", "a"], [], ["😀"], None, ["z"]], pa.list_(pa.string())),
        "s_int32": pa.array([[3, 1, 3], [], [INT32_MIN], None, [0]], pa.list_(pa.int32())),
        "s_int64": pa.array([[3, 1, 3], [], [INT64_MAX, INT64_MIN], None, [0]], pa.list_(pa.int64())),
        "s_float32": pa.array([[1.5, 1.5, 2.5], [], [0.1], None, [0.0]], pa.list_(pa.float32())),
        "s_float64": pa.array([[1.5, 1.5, 2.5], [], [0.1], None, [0.0]], pa.list_(pa.float64())),
        "s_bool": pa.array([[True, True, False], [], [False], None, [True]], pa.list_(pa.bool_())),
        "s_bytes": pa.array([[b"a", b"a"], [], [b"\xff"], None, [b""]], pa.list_(pa.binary())),
        "s_ts": pa.array([[TS_VALUES[0], TS_VALUES[0]], [], [TS_VALUES[1]], None, [TS_VALUES[2]]], pa.list_(TS_US)),
    })

    _write(data / "extra.parquet", {
        "item_id": ids,
        **_common(ITEMS),
        "x_uuid": pa.array([
            "12345678-1234-5678-1234-567812345678", "00000000-0000-0000-0000-000000000000", None,
            "ffffffff-ffff-ffff-ffff-ffffffffffff", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ], pa.string()),
        "x_time_uuid": pa.array([
            "5b6e7c2a-1d8f-11ef-9262-0242ac120002", None, "5b6e7c2a-1d8f-11ef-9262-0242ac120002", None,
            "00000000-0000-1000-8000-000000000000",
        ], pa.string()),
        "x_decimal": pa.array(["3.14159", "-0.000001", None, "1E+3", "12345678901234567890.123456789"], pa.string()),
        "x_pdf": pa.array([b"%PDF-1.4", b"", None, b"\x00", b"%%EOF"], pa.binary()),
        "x_image": pa.array([b"\x89PNG\r\n", b"", None, b"\xff\xd8\xff", b"GIF89a"], pa.binary()),
        "x_uuid_list": pa.array([
            ["12345678-1234-5678-1234-567812345678"], [], None, ["00000000-0000-0000-0000-000000000000"], [],
        ], pa.list_(pa.string())),
        "x_decimal_list": pa.array([["1.5", "-2"], [], None, ["0"], ["1E+2"]], pa.list_(pa.string())),
        "x_nested": pa.array([[[1, 2], [3]], [], None, [[]], [[INT64_MAX], [INT64_MIN, 0]]], pa.list_(pa.list_(pa.int64()))),
        "x_set_of_lists": pa.array([[[1, 2], [1, 2], [3]], [], None, [[]], [[-1]]], pa.list_(pa.list_(pa.int64()))),
    })

    codes = ["a", UNICODE, "", "with space", "1"]
    _write(data / "by_code.parquet", {
        "code": pa.array(codes, pa.string()),
        **_common(codes),
        "code_value": pa.array([1, 2, 3, 4, 5], pa.int64()),
    })

    smalls = [1, -1, INT32_MAX, INT32_MIN, 0]
    _write(data / "by_small.parquet", {
        "small_id": pa.array(smalls, pa.int32()),
        **_common(smalls),
        "small_value": pa.array(["one", "minus one", "max", "min", "zero"], pa.string()),
    })

    pairs = [(1, "a"), (-1, ""), (2, "a")]
    _write(data / "by_pair.parquet", {
        "small_id": pa.array([p[0] for p in pairs], pa.int32()),
        "code": pa.array([p[1] for p in pairs], pa.string()),
        **_common(pairs),
        "pair_value": pa.array(["1/a", "-1/empty", "2/a"], pa.string()),
    })

    ts_keys = [datetime(2024, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)]
    _write(data / "by_ts.parquet", {
        "ts_key": pa.array(ts_keys, TS_US),
        **_common(ts_keys),
        "ts_value": pa.array([10, 20], pa.int64()),
    })


FEATURE_STORE_YAML = f"""\
project: {PROJECT}
provider: local
registry: data/registry.db
online_store:
  type: sqlite
  path: data/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

FEATURES_PY = '''\
"""Generated by conformance/types_repo.py: do not edit."""
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource
from feast.types import (
    Array, Bool, Bytes, Decimal, Float32, Float64, ImageBytes, Int32, Int64, Json, Map,
    PdfBytes, Set, String, Struct, TimeUuid, UnixTimestamp, Uuid,
)
from feast.value_type import ValueType

item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.INT64)
code = Entity(name="code", join_keys=["code"], value_type=ValueType.STRING)
small = Entity(name="small", join_keys=["small_id"], value_type=ValueType.INT32)
ts_entity = Entity(name="ts_entity", join_keys=["ts_key"], value_type=ValueType.UNIX_TIMESTAMP)

TTL = timedelta(days=3650)


def source(name):
    return FileSource(
        name=name + "_source",
        path="data/" + name + ".parquet",
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )


def view(name, entity, schema):
    return FeatureView(name=name, entities=[entity], ttl=TTL, schema=schema, source=source(name), online=True)


SCALAR_TYPES = [("bytes", Bytes), ("string", String), ("int32", Int32), ("int64", Int64),
                ("float32", Float32), ("float64", Float64), ("bool", Bool), ("ts", UnixTimestamp)]

scalars = view("scalars", item, [Field(name="f_" + n, dtype=t) for n, t in SCALAR_TYPES])
nullable = view("nullable", item, [Field(name="n_" + n, dtype=t) for n, t in SCALAR_TYPES])
arrays = view("arrays", item, [Field(name="a_" + n, dtype=Array(t)) for n, t in SCALAR_TYPES])
sets = view("sets", item, [Field(name="s_" + n, dtype=Set(t)) for n, t in SCALAR_TYPES])
complex_view = view("complex", item, [
    Field(name="c_map", dtype=Map),
    Field(name="c_json", dtype=Json),
    Field(name="c_struct", dtype=Struct({"name": String, "age": Int32})),
    Field(name="c_map_list", dtype=Array(Map)),
    Field(name="c_json_list", dtype=Array(Json)),
    Field(name="c_struct_list", dtype=Array(Struct({"name": String, "age": Int32}))),
])
extra = view("extra", item, [
    Field(name="x_uuid", dtype=Uuid),
    Field(name="x_time_uuid", dtype=TimeUuid),
    Field(name="x_decimal", dtype=Decimal),
    Field(name="x_pdf", dtype=PdfBytes),
    Field(name="x_image", dtype=ImageBytes),
    Field(name="x_uuid_list", dtype=Array(Uuid)),
    Field(name="x_decimal_list", dtype=Array(Decimal)),
    Field(name="x_nested", dtype=Array(Array(Int64))),
    Field(name="x_set_of_lists", dtype=Set(Array(Int64))),
])
list_nulls = view("list_nulls", item, [
    Field(name="ln_string", dtype=Array(String)),
    Field(name="ln_float64", dtype=Array(Float64)),
    Field(name="ln_bool", dtype=Array(Bool)),
    Field(name="ln_ts", dtype=Array(UnixTimestamp)),
    Field(name="ln_bytes", dtype=Array(Bytes)),
])
by_code = view("by_code", code, [Field(name="code_value", dtype=Int64)])
by_small = view("by_small", small, [Field(name="small_value", dtype=String)])
by_ts = view("by_ts", ts_entity, [Field(name="ts_value", dtype=Int64)])
by_pair = FeatureView(
    name="by_pair", entities=[small, code], ttl=TTL, schema=[Field(name="pair_value", dtype=String)],
    source=source("by_pair"), online=True,
)

all_types = FeatureService(name="all_types", features=[scalars, arrays, complex_view])
'''


def write_repo(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    (dest / "features.py").write_text(FEATURES_PY)
    write_data(dest / "data")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(textwrap.dedent(__doc__))
    write_repo(Path(sys.argv[1]))
