"""Print Go table rows of what Feast 0.67.0's python_values_to_proto_values
makes of one Python value per case, for internal/pyconv's tests.

Run with the Feast venv's python (scripts/feast-venv.sh):
    $VENV/bin/python internal/pyconv/testdata/feast_rules.py
and compare its output with the tables in feast_test.go.
"""
import math
import struct

from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType


def go_float(f):
    return "math.Float64frombits(0x%016x)" % struct.unpack("<Q", struct.pack("<d", f))[0]


def run(vt, x):
    try:
        v = python_values_to_proto_values([x], vt)[0]
    except Exception as e:  # the class Feast raises, a 500 from its server
        return None, type(e).__name__
    which = v.WhichOneof("val")
    return (which, getattr(v, which) if which else None), None


def row(name, vt, x, render):
    got, err = run(vt, x)
    if err:
        print("\t{%s, %s, false, %q}," % (name, render(x), err))
        return
    field, val = got
    print("\t{%s, %s, true, %q}, // %s=%r" % (name, render(x), field or "", field, val))
    return val


print("// int64Cases: INT64 of a Python float.")
for f in [0.0, -0.0, 3.9, -3.9, 9.21e18, math.nextafter(2.0**63, 0), -(2.0**63), 2.0**63, 9.25e18, -9.3e18,
          1e300, math.inf, -math.inf]:
    got, err = run(ValueType.INT64, f)
    print("\t{%s, %s, %s}," % (go_float(f), got[1] if got else 0, "true" if got else "false"))

print("// int32Cases: INT32 of a Python int.")
for i in [0, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**40]:
    got, err = run(ValueType.INT32, i)
    print("\t{%d, %s}, // %s" % (i, "true" if got else "false", err or got))

print("// float32Cases: FLOAT of a Python float, as stored (bits of the float32).")
for f in [0.1, 1 / 3, 3.4028234663852886e38, 3.4028235677973366e38, 3.402823669209385e38,
          3.4028236692093846e38, 1e39, -1e39, 1e-46, 1.4e-45, -0.0, math.inf]:
    got, err = run(ValueType.FLOAT, f)
    print("\t{%s, 0x%08x}, // %r" % (go_float(f), struct.unpack("<I", struct.pack("<f", got[1]))[0], got[1]))

print("// nullCases: a NaN is a null (an empty Value) for every scalar type.")
for vt in [ValueType.DOUBLE, ValueType.FLOAT, ValueType.INT64, ValueType.INT32, ValueType.STRING,
           ValueType.BOOL, ValueType.UNIX_TIMESTAMP]:
    got, err = run(vt, float("nan"))
    print("\t// %s: %s" % (vt.name, err or got))

print("// NaN inside a DOUBLE_LIST is stored as the bits of float('nan'):")
v = python_values_to_proto_values([[float("nan")]], ValueType.DOUBLE_LIST)[0]
print("\t// %s" % go_float(v.double_list_val.val[0]))

print("// intStrCases: INT64 of a str (Python's int(str)).")
for s in [" 12 ", "+7", "-0", "1_000", "1__0", "_1", "1_", "+-1", "0x10", "", " ", "1.0",
          "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
          "\t42\n", "٣"]:
    got, err = run(ValueType.INT64, s)
    print("\t{%r, %s, %s}, // %s" % (s, got[1] if got else 0, "true" if got else "false", err or ""))

print("// floatStrCases: FLOAT of a str (Python's float(str)), as float64 before the float32 cast.")
for s in [" 1.5 ", "1_0.5", "1e5", "1E+5", ".5", "5.", "+.5e-1", "inf", "-Infinity", "+INF", "1e400", "-1e400", "1e-400",
          "0x1p3", "1_", "_1", "e5", "1e", ".", "", "1__0", "1_0e1_0", "nan", "1.5f", "١.٥"]:
    try:
        f = float(s)
    except ValueError:
        print("\t{%r, 0, false}," % s)
        continue
    got, err = run(ValueType.FLOAT, s)
    assert got, (s, err)
    print("\t{%r, %s, true}," % (s, go_float(f)))

print("// boolCases: BOOL, INT64 and STRING of bools and ints.")
for vt, x in [(ValueType.BOOL, 0), (ValueType.BOOL, 1), (ValueType.BOOL, 2), (ValueType.BOOL, -1),
              (ValueType.INT64, True), (ValueType.INT64, False), (ValueType.STRING, True), (ValueType.STRING, False),
              (ValueType.DOUBLE, True), (ValueType.FLOAT, True)]:
    got, err = run(vt, x)
    print("\t// %s of %r: %s" % (vt.name, x, err or got))
