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
    # JSON objects and nested lists as values, as a raw HTTP client sends
    # them: pandas keeps the dicts and lists, Arrow types them (a struct
    # has every key of every row, a missing one null; ints with a null
    # among them turn to floats), to_numpy hands over dicts and ndarrays.
    ("map_obj", "MAP", '[{"vehicle_type": "sedan", "seats": 4, "rating": 4.5, "ev": true}, null]'),
    ("map_obj_missing_keys", "MAP", '[{"a": 1}, {"b": "x"}]'),
    ("map_obj_int_float", "MAP", '[{"a": 1}, {"a": 1.5}]'),
    ("map_obj_nested", "MAP", '[{"a": {"b": 1, "c": "x"}}, {"a": null}, {}]'),
    ("map_obj_int_list", "MAP", '[{"k": [1, 2]}, {"k": []}]'),
    ("map_obj_int_list_null", "MAP", '[{"k": [1, null]}]'),
    ("map_obj_float_list", "MAP", '[{"k": [1.5, 2]}]'),
    ("map_obj_bool_list", "MAP", '[{"k": [true, false]}]'),
    ("map_obj_string_list", "MAP", '[{"k": ["x", "y"]}]'),
    ("map_obj_string_list_null", "MAP", '[{"k": ["x", null]}]'),
    ("map_obj_bool_list_null", "MAP", '[{"k": [true, null]}]'),
    ("map_obj_empty_list", "MAP", '[{"k": []}]'),
    ("map_obj_null_list", "MAP", '[{"k": [null]}]'),
    ("map_obj_list_of_objects", "MAP", '[{"k": [{"q": 1}]}]'),
    ("map_obj_nested_list", "MAP", '[{"k": [[1]]}]'),
    ("map_obj_empty", "MAP", '[{}, {}]'),
    ("map_obj_null_value", "MAP", '[{"k": null}]'),
    ("map_obj_empty_string", "MAP", '[{"k": ""}]'),
    ("map_obj_mixed_types", "MAP", '[{"a": 1}, {"a": "x"}]'),
    ("map_obj_bool_int", "MAP", '[{"a": true}, {"a": 1}]'),
    ("map_obj_and_string", "MAP", '[{"a": 1}, "x"]'),
    ("map_obj_and_number", "MAP", '[{"a": 1}, 5]'),
    ("map_obj_and_list", "MAP", '[{"a": 1}, [1]]'),
    ("map_obj_dup_key", "MAP", '[{"a": 1, "b": 2, "a": 3}]'),
    ("map_obj_unicode", "MAP", '[{"n\\u00e4me": "\\u2603"}]'),
    ("map_obj_key_order", "MAP", '[{"a": 1, "b": 2}, {"b": 3, "a": 4}]'),
    ("map_obj_null_rows", "MAP", '[{"n": 1}, null, {"n": 2}]'),
    ("map_nested_list_column", "MAP", '[[[1]]]'),
    ("struct_obj", "STRUCT", '[{"name": "Ann", "age": "41"}, null]'),
    ("struct_obj_missing", "STRUCT", '[{"name": "Ann"}, {"age": "41"}]'),
    ("struct_obj_int", "STRUCT", '[{"age": 41}]'),
    ("struct_obj_nested", "STRUCT", '[{"p": {"q": [1, 2]}}]'),
    ("struct_from_int", "STRUCT", '[5, -6]'),
    ("struct_from_float", "STRUCT", '[1.5, null, 1e16]'),
    ("struct_from_int_null", "STRUCT", '[1, null]'),
    ("struct_from_bool", "STRUCT", '[true, false, null]'),
    ("json_obj", "JSON", '[{"max_trips": 5, "zones": "a"}, null]'),
    ("json_obj_missing", "JSON", '[{"a": 1}, {"b": "x"}]'),
    ("json_obj_nested", "JSON", '[{"a": {"b": true, "c": null}}, {"a": null}]'),
    ("json_obj_text", "JSON", '[{"n\\u00e4me": "\\u2603 \\"q\\" \\\\ / \\n \\t \\u0001 \\u007f \\ud83d\\ude00"}]'),
    ("json_obj_floats", "JSON", '[{"a": 1e16, "b": 0.1, "c": -0.0, "d": 1e-7, "e": 123456789.123, "f": 1e300}]'),
    ("json_obj_list", "JSON", '[{"a": [1, 2]}]'),
    ("json_obj_empty", "JSON", '[{}]'),
    ("json_float_column", "JSON", '[1.5, null]'),
    ("json_int_null_column", "JSON", '[1, null]'),
    ("json_bool_column", "JSON", '[true]'),
    ("json_list_column", "JSON", '[[1]]'),
    ("json_list_objects", "JSON_LIST", '[[{"a": 1}, {"b": "x"}], null, []]'),
    ("json_list_objects_null_item", "JSON_LIST", '[[{"a": 1}, null]]'),
    ("json_list_strings_null", "JSON_LIST", '[["{}", null]]'),
    ("json_list_floats", "JSON_LIST", '[[1.5, 2]]'),
    ("json_list_ints", "JSON_LIST", '[[1, 2]]'),
    ("json_list_ints_null", "JSON_LIST", '[[1, null]]'),
    ("json_list_bools_null", "JSON_LIST", '[[true, null]]'),
    ("json_list_nested_lists", "JSON_LIST", '[[[1]]]'),
    ("json_list_obj_with_list", "JSON_LIST", '[[{"a": [1]}]]'),
    ("map_list_objects", "MAP_LIST", '[[{"a": 1}]]'),
    ("struct_list_objects", "STRUCT_LIST", '[[{"name": "Ann"}, {"age": "41"}], null, []]'),
    ("struct_list_null_item", "STRUCT_LIST", '[[{"a": 1}, null]]'),
    ("struct_list_obj_list", "STRUCT_LIST", '[[{"a": [1, 2]}]]'),
    ("value_list_ints", "VALUE_LIST", '[[[1, 2], [3]], null, [], [null, []]]'),
    ("value_list_ints_null", "VALUE_LIST", '[[[1, 2], [3]], [[null]]]'),
    ("value_list_strings", "VALUE_LIST", '[[["a"], ["b", "c"]]]'),
    ("value_list_string_null", "VALUE_LIST", '[[["a", null]]]'),
    ("value_list_bools", "VALUE_LIST", '[[[true, false]]]'),
    ("value_list_bool_null", "VALUE_LIST", '[[[true, null]]]'),
    ("value_list_floats", "VALUE_LIST", '[[[1.5], [2]]]'),
    ("value_list_deep", "VALUE_LIST", '[[[[1, 2]], [[3], []]]]'),
    ("value_list_objects", "VALUE_LIST", '[[{"a": 1, "b": 2}]]'),
    ("value_list_flat_strings", "VALUE_LIST", '[["ab", "", "c"]]'),
    ("value_list_flat_ints", "VALUE_LIST", '[[1, 2]]'),
    ("value_list_mixed_depth", "VALUE_LIST", '[[[1], [[2]]]]'),
    ("value_list_mixed_inner", "VALUE_LIST", '[[[1], ["x"]]]'),
    ("value_set_ints", "VALUE_SET", '[[[1, 1, 2]], null]'),
    ("int64_list_nested", "INT64_LIST", '[[[1]]]'),
    ("string_list_objects", "STRING_LIST", '[[{"a": 1}]]'),
    ("int64_set_nested", "INT64_SET", '[[[1]]]'),
    ("string_from_object", "STRING", '[{"a": 1}, null]'),
    ("int64_from_object", "INT64", '[{"a": 1}]'),
    ("int64_from_nested_list", "INT64", '[[[1]]]'),
    ("uuid_from_object", "UUID", '[{"a": 1}]'),
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
