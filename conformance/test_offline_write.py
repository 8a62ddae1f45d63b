"""`/push` with `to: offline` / `online_and_offline` into a parquet FileSource, against Feast 0.67.0.

Two copies of feature_repo/ (SQLite online store) are applied with real `feast apply`; one is
served by real `feast serve`, the other by our server. The same pushes go to both. Then:

* the source parquet files must hold the same table: the same Arrow schema (names, types,
  schema metadata) and the same rows in the same order (Feast rewrites the file as the pushed
  rows followed by the old ones);
* Feast's own offline store (`get_historical_features`) must read the pushed values from the
  file we wrote, with the file's column types;
* pushes Feast refuses with a 500 (missing or extra columns, wrong types) get a 4xx naming the
  column from us, and leave our file byte for byte as it was;
* concurrent pushes to our server lose no row, and no temporary file is left behind.

With CONFORMANCE_OURS=feast the "ours" side is a second `feast serve` (harness check; the
concurrency part is then skipped: Feast's rewrite is not serialized and loses rows).
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest

import harness
from conftest import copy_repo, rewrite_store_yaml
from harness import HarnessError, Proc

SOURCE = Path("data") / "pipeline_stats.parquet"


def stats_frame(ids: List[int], ts: str, **over: Any) -> Dict[str, List[Any]]:
    n = len(ids)
    df: Dict[str, List[Any]] = {
        "pipeline_id": ids,
        "event_timestamp": [ts] * n,
        "created": [ts] * n,
        "avg_execution_time": [12.5 + i for i in range(n)],
        "success_rate": [0.5] * n,
        "error_count": list(range(n)),
        "failure_probability": [0.125] * n,
        "avg_memory_usage": [1024.5] * n,
        "cpu_utilization": [0.75] * n,
        "last_status": ["success"] * n,
        "is_active": [True] * n,
    }
    df.update(over)
    return df


# Pushes both servers accept, in order.
PUSHES: List[Dict[str, Any]] = [
    {"push_source_name": "pipeline_stats_push", "to": "offline", "df": stats_frame(
        [9001, 9002, 9003], "2025-01-05 10:00:00+00:00",
        created=["2025-01-05T10:00:01.5Z", "2025-01-05 11:00:01+01:00", "2025-01-06 12:30:16+00:00"],
        avg_execution_time=[12.5, 3, None],          # ints and a null: pandas float64
        error_count=[3, None, 7],                    # int with a null: float64, cast back to int64
        failure_probability=[0.125, 0.5, 1],         # float64 cast to the file's float32
        last_status=["success", None, "failed"],
        is_active=[True, False, True],
    )},
    {"push_source_name": "pipeline_stats_push", "to": "online_and_offline", "df": stats_frame(
        [9004, 9005], "2025-01-06 12:30:15.250000+00:00")},
]

# Pushes Feast answers with a 500 (after writing nothing): ours must be a 4xx naming the column.
BAD_PUSHES: List[Any] = [
    ("missing column", {"push_source_name": "pipeline_stats_push", "to": "offline",
                        "df": {k: v for k, v in stats_frame([1], "2025-01-05 10:00:00+00:00").items() if k != "is_active"}},
     "is_active"),
    ("extra column", {"push_source_name": "pipeline_stats_push", "to": "offline",
                      "df": dict(stats_frame([1], "2025-01-05 10:00:00+00:00"), nope=[1])}, "nope"),
    ("fraction into an int64 column", {"push_source_name": "pipeline_stats_push", "to": "offline",
                                       "df": stats_frame([1], "2025-01-05 10:00:00+00:00", error_count=[1.5])}, "error_count"),
    ("string into a double column", {"push_source_name": "pipeline_stats_push", "to": "offline",
                                      "df": stats_frame([1], "2025-01-05 10:00:00+00:00", avg_execution_time=["fast"])},
     "avg_execution_time"),
    ("unparseable timestamp", {"push_source_name": "pipeline_stats_push", "to": "offline",
                               "df": stats_frame([1], "yesterday")}, "event_timestamp"),
]

# Run by the venv's Python: the table of each file, and Feast's point-in-time read of the pushed rows.
READ_SCRIPT = """
import json, sys
import pandas as pd, pyarrow.parquet as pq
from feast import FeatureStore
out = []
for repo in json.loads(sys.argv[1]):
    t = pq.read_table(repo + "/data/pipeline_stats.parquet")
    rows = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in t.to_pylist()]
    store = FeatureStore(repo_path=repo)
    ids = json.loads(sys.argv[2])
    entity_df = pd.DataFrame({"pipeline_id": ids, "event_timestamp": pd.Timestamp("2025-01-07", tz="UTC")})
    feats = ["avg_execution_time", "success_rate", "error_count", "failure_probability", "last_status", "is_active"]
    hist = store.get_historical_features(entity_df=entity_df, features=["pipeline_stats:" + f for f in feats]).to_df()
    hist = hist.sort_values("pipeline_id")
    out.append({
        "schema": t.schema.to_string(show_schema_metadata=False),
        "metadata": {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()},
        "rows": rows,
        "historical": json.loads(hist[["pipeline_id"] + feats].to_json(orient="records")),
        "historical_dtypes": {c: str(hist[c].dtype) for c in ["pipeline_id"] + feats},
    })
print(json.dumps(out))
"""


def read_both(repos: List[Path], ids: List[int], env: Dict[str, str], log: Path) -> List[Dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", READ_SCRIPT, json.dumps([str(r) for r in repos]), json.dumps(ids)],
                         cwd=str(repos[0]), env=env, capture_output=True, text=True, timeout=300)
    log.write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise HarnessError(f"reading the parquet sources failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def offline_stack(tmp_root: Path, base_env: Dict[str, str], ours_mode: str, our_binary: str):
    root = tmp_root / "offline-write"
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sides: Dict[str, Any] = {}
    procs: List[Proc] = []
    try:
        for name in ("feast", "ours"):
            repo = root / name
            copy_repo(repo)
            rewrite_store_yaml(repo, {"type": "sqlite", "path": "data/online.db"}, 3)
            feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
            harness.run_checked(feast + ["apply"], repo, base_env, logs / f"feast-apply-{name}.log")
            port = harness.free_port()
            if name == "ours" and ours_mode == "binary":
                argv = [our_binary, "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port)]
                timeout = 60
            else:
                argv = feast + ["serve", "-h", "127.0.0.1", "-p", str(port)]
                timeout = 180
            proc = Proc.start(f"{name} server", argv, logs / f"{name}.log", repo, base_env)
            procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            harness.wait_healthy(proc, url, timeout=timeout)
            sides[name] = (repo, url)
        yield sides
    finally:
        for p in procs:
            p.stop()


def test_bad_offline_pushes_are_4xx_and_write_nothing(offline_stack, ours_mode):
    (frepo, furl), (orepo, ourl) = offline_stack["feast"], offline_stack["ours"]
    before = (orepo / SOURCE).read_bytes()
    for label, body, column in BAD_PUSHES:
        payload = json.dumps(body).encode()
        fa = harness.post(furl, "/push", payload)
        oa = harness.post(ourl, "/push", payload)
        assert fa.status >= 500, f"{label}: Feast accepted it: {fa.for_report()}"
        diffs = harness.compare_error(fa, oa, policy=ours_mode == "binary")
        assert not diffs, f"{label}: Feast {fa.for_report()}, ours {oa.for_report()}:\n" + "\n".join(diffs)
        if ours_mode == "binary":
            assert column in oa.text, f"{label}: the error does not name {column}: {oa.text}"
        assert (orepo / SOURCE).read_bytes() == before, f"{label}: our parquet file changed"


def test_offline_push_writes_what_feast_writes(offline_stack, base_env, tmp_root):
    (frepo, furl), (orepo, ourl) = offline_stack["feast"], offline_stack["ours"]
    for body in PUSHES:
        payload = json.dumps(body).encode()
        fa = harness.post(furl, "/push", payload)
        assert fa.status == 200, f"Feast refused {body['to']}: {fa.for_report()}"
        oa = harness.post(ourl, "/push", payload)
        assert (oa.status, oa.text, oa.media_type) == (fa.status, fa.text, fa.media_type), (
            f"{body['to']}: Feast {fa.for_report()}, ours {oa.for_report()}")

    ids = [9001, 9002, 9003, 9004, 9005]
    feast_side, ours_side = read_both([frepo, orepo], ids, base_env, tmp_root / "offline-write" / "logs" / "read.log")
    assert ours_side["schema"] == feast_side["schema"]
    assert ours_side["metadata"] == feast_side["metadata"]
    assert len(ours_side["rows"]) == len(feast_side["rows"]) == 71 + 5
    for i, (f, o) in enumerate(zip(feast_side["rows"], ours_side["rows"])):
        assert f == o, f"row {i}: Feast wrote {f}, we wrote {o}"
    # Feast's offline store reads the pushed rows from our file, typed as the file's columns.
    assert ours_side["historical"] == feast_side["historical"]
    assert ours_side["historical_dtypes"] == feast_side["historical_dtypes"]
    got = {r["pipeline_id"]: r for r in ours_side["historical"]}
    assert got[9001]["error_count"] == 3 and got[9002]["error_count"] is None
    assert got[9005]["avg_execution_time"] == 13.5 and got[9003]["last_status"] == "failed"


def test_concurrent_offline_pushes_lose_nothing(offline_stack, ours_mode, base_env, tmp_root):
    if ours_mode != "binary":
        pytest.skip("Feast's parquet rewrite is not serialized: concurrent pushes lose rows")
    orepo, ourl = offline_stack["ours"]
    import pyarrow.parquet as pq

    before = pq.read_table(orepo / SOURCE).num_rows
    bodies = [json.dumps({"push_source_name": "pipeline_stats_push", "to": "offline",
                          "df": stats_frame([20000 + i, 30000 + i], "2025-01-05 10:00:00+00:00")}).encode()
              for i in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda b: harness.post(ourl, "/push", b), bodies))
    assert all(a.status == 200 for a in answers), [a.for_report() for a in answers if a.status != 200]
    t = pq.read_table(orepo / SOURCE)
    assert t.num_rows == before + 32
    ids = set(t.column("pipeline_id").to_pylist())
    assert all(20000 + i in ids and 30000 + i in ids for i in range(16))
    leftovers = [p.name for p in (orepo / "data").iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
