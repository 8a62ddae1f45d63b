"""The limit probe: bench/offline/asof.sql run by the duckdb Python package.

    python asof_probe.py DATA_DIR ENTITIES.parquet OUT.parquet

DATA_DIR holds view_a.parquet and view_b.parquet (gen.py). Prints the
query's own time on stderr; the caller times the whole process.
"""

import os
import sys
import time

import duckdb


def main():
    data, entities, output = sys.argv[1:4]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "asof.sql")) as f:
        sql = f.read()
    for k, v in {"entities": entities, "view_a": os.path.join(data, "view_a.parquet"),
                 "view_b": os.path.join(data, "view_b.parquet"), "output": output}.items():
        sql = sql.replace("{" + k + "}", v.replace("'", "''"))
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(sql)
    print(f"asof_probe: duckdb {duckdb.__version__}, query {time.perf_counter() - t:.2f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
