"""Writes complex_golden.json: what Feast 0.67 stores for request columns of
MAP, STRUCT, JSON and the other non-scalar types.

Each column goes the way Feast's /write-to-online-store and /push take it:
json.loads of the request, pandas.DataFrame, pyarrow.Table.from_pandas,
to_numpy, type_map.python_values_to_proto_values, SerializeToString.

Run with the Python of the Feast 0.67 virtualenv (scripts/feast-venv.sh
prints its directory), from this directory:

    "$(scripts/feast-venv.sh)/bin/python" ingest/testdata/gen_complex_golden.py
"""

import json
import os

import pandas as pd
import pyarrow as pa

from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

# (name, declared type, the column as sent in the request's "df")
CASES = [
    # Maps as the remote online store sends them: json.dumps text.
    ("map_text", "MAP", '["{\\"rating\\": 4.5, \\"trips\\": 12, \\"city\\": \\"Oslo\\"}", null]'),
    ("map_text_nested", "MAP", '["{\\"a\\": {\\"b\\": [1, 2]}, \\"l\\": [{\\"q\\": true}]}"]'),
    ("map_text_null_value", "MAP", '["{\\"k\\": null}"]'),
    ("map_text_empty", "MAP", '["{}"]'),
    ("map_text_float_list", "MAP", '["{\\"k\\": [1.5, 2.0]}"]'),
    ("map_text_string_list", "MAP", '["{\\"k\\": [\\"x\\", \\"y\\"]}"]'),
    ("map_text_unicode", "MAP", '["{\\"n\\u00e4me\\": \\"\\u2603\\"}"]'),
    ("map_text_not_object", "MAP", '["[1, 2]"]'),
    ("map_text_bad_json", "MAP", '["{not json"]'),
    ("map_text_empty_list", "MAP", '["{\\"k\\": []}"]'),
    ("map_text_mixed_list", "MAP", '["{\\"k\\": [1, \\"two\\"]}"]'),
    ("map_all_null", "MAP", '[null, null]'),
    ("struct_text", "STRUCT", '["{\\"name\\": \\"Ann\\", \\"age\\": \\"41\\"}"]'),
    ("struct_text_int", "STRUCT", '["{\\"age\\": 41}"]'),
    # JSON: text is kept as sent once it parses.
    ("json_text", "JSON", '["{\\"max_trips\\": 5, \\"zones\\": [\\"a\\", \\"b\\"]}", "[1, 2]", "3", null]'),
    ("json_text_spacing", "JSON", '["{ \\"a\\" :1 }"]'),
    ("json_text_bad", "JSON", '["{not json"]'),
    ("json_number", "JSON", '[5, 6]'),
    # Lists of texts.
    ("map_list_text", "MAP_LIST", '["[{\\"a\\": 1}, {\\"b\\": \\"x\\"}]", "[]"]'),
    ("json_list", "JSON_LIST", '[["{\\"a\\": 1}", "[1]"], null]'),
    ("json_list_bad", "JSON_LIST", '[["nope"]]'),
    # UUIDs and decimals are strings.
    ("uuid", "UUID", '["6f0c3c3e-4d1c-4b5e-9a0a-3f6f4a1b2c3d", null]'),
    ("decimal", "DECIMAL", '["1.50"]'),
    ("uuid_list", "UUID_LIST", '[["6f0c3c3e-4d1c-4b5e-9a0a-3f6f4a1b2c3d"], []]'),
    # Sets drop repeats.
    ("string_set", "STRING_SET", '[["b", "a", "b"]]'),
    ("int64_set", "INT64_SET", '[[3, 1, 3], [2]]'),
    ("double_set", "DOUBLE_SET", '[[1.5, 1.5, 2]]'),
    ("bool_set", "BOOL_SET", '[[true, false, true]]'),
]


def convert(vt, col):
    df = pd.DataFrame({"c": json.loads(col)})
    table = pa.Table.from_pandas(df)
    vals = table.column("c").to_numpy(zero_copy_only=False)
    return [p.SerializeToString().hex() for p in python_values_to_proto_values(vals, ValueType[vt])]


def main():
    out = []
    for name, vt, col in CASES:
        case = {"name": name, "type": vt, "type_number": ValueType[vt].value, "column": col}
        try:
            case["values"] = convert(vt, col)
        except Exception as e:  # Feast answers a 500: we must refuse with a 4xx
            case["error"] = f"{type(e).__name__}: {e}"
        out.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "complex_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
