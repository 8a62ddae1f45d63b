"""Order-free checksums of training sets, to tell whether two runs agree.

    python check.py OUT.parquet...

Prints one JSON object per file: rows, non-null count of every feature and
a hash sum over every row's entity_id, event time (epoch us), label, the
int and string features and the doubles rounded to 1e-6 (casts make the
dtypes of different tools comparable: Feast's file store turns an int
column with nulls into float64, for instance).
"""

import json
import sys

import duckdb

FEATS = [f"f_{v}_{s}" for v in "ab" for s in ("double", "double2", "float", "int", "string")]


def checksum(con, path):
    cols = ", ".join(f"count({f}) AS {f}" for f in FEATS)
    row = ", ".join(["entity_id::BIGINT", "epoch_us(event_timestamp::TIMESTAMPTZ)", "label::DOUBLE"]
                    + [f"{f}::BIGINT" for f in FEATS if f.endswith("_int")]
                    + [f"{f}::VARCHAR" for f in FEATS if f.endswith("_string")]
                    + [f"round({f}::DOUBLE * 1e6)::BIGINT" for f in FEATS if "double" in f]
                    + [f"round({f}::DOUBLE * 1e4)::BIGINT" for f in FEATS if f.endswith("_float")])
    q = (f"SELECT count(*) AS rows, {cols}, sum(hash({row}) % 1000000007)::BIGINT AS hash "
         f"FROM read_parquet('{path}')")
    cur = con.execute(q)
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone()))


def main():
    con = duckdb.connect()
    for path in sys.argv[1:]:
        try:
            print(json.dumps({"file": path, **checksum(con, path)}))
        except duckdb.Error as e:
            print(f"check: {path}: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
