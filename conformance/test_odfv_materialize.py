"""Materializing on-demand feature views with write_to_online_store=True, against `feast materialize`.

Two copies of feature_repo/ get materialize/testdata/odfv/odfv_materialized.py: write_to_online_store ODFVs in python mode
(natively run, and one that imports a module, which our server hands to its Python worker),
in pandas mode, one reading request data it can only default (materialization has none), and
one over two views with different timestamp columns, which Feast skips with a warning. One
`feast apply`, the registry copied to the second repo; then `feast materialize` in one and ours
in the other over the same window (Feast's _materialize_odfv: latest source rows, point-in-time
join, the UDF, write_to_online_store), then `materialize-incremental` on both. After each, the
online stores must hold the same bytes (SQLite rows, Redis hashes), except the write time Feast
stamps ODFV rows with (now), which can only match in kind. Naming an ODFV without
write_to_online_store must fail on both sides.

Runs for sqlite_v3, redis_v3 and redis_v2; on redis_v3 also through our server's POST /materialize
and /materialize-incremental (sync and async), against Feast's CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import harness
from conftest import copy_repo, rewrite_store_yaml
from test_writes import Side, _start_server
from test_materialize import (INCREMENTAL_END, START, END, feast_cmd, ours_cmd, redis_dump, redis_flush,
                              redis_port, redis_store, registry_record)

_ = redis_port  # the module-scoped Redis fixture, shared with test_materialize

# The ODFVs are materialize/testdata/odfv's, whose Go test compares our rows with a store Feast
# made from the same file: one definition for both.
ODFV_FILE = harness.ROOT / "materialize" / "testdata" / "odfv" / "odfv_materialized.py"

WRITTEN = ["mat_py", "mat_py_module", "mat_pandas", "mat_py_request"]
SKIPPED = ["mat_two_timestamps"]

VARIANTS: Dict[str, Tuple[str, int]] = {
    "sqlite_v3": ("sqlite", 3),
    "redis_v3": ("redis", 3),
    "redis_v2": ("redis", 2),
}

# Creates the SQLite tables of the ODFVs in a Feast repo: `feast apply` on local+SQLite takes the
# plan path, which creates none, and Feast's materialization would fail "no such table" (see
# test_odfv_write.py and docs/compatibility.md).
CREATE_TABLES = """
import sys
from feast import FeatureStore
fs = FeatureStore(repo_path=sys.argv[1])
odfvs = [fs.get_on_demand_feature_view(n) for n in sys.argv[2:]]
fs._get_provider().update_infra(project=fs.project, tables_to_delete=[], tables_to_keep=odfvs,
    entities_to_delete=[], entities_to_keep=[], partial=True)
"""

MASK = "<write time>"


def _repos(root: Path, online_a: dict, online_b: dict, eksv: int, env: Dict[str, str]) -> Tuple[Path, Path]:
    a, b = root / "feast", root / "ours"
    for d, online in ((a, online_a), (b, online_b)):
        copy_repo(d)
        shutil.copy(ODFV_FILE, d / "odfv_materialized.py")
        rewrite_store_yaml(d, online, eksv)
    harness.run_checked(feast_cmd(a) + ["apply"], a, env, root / "logs" / "feast-apply.log")
    (b / "data" / "registry.db").write_bytes((a / "data" / "registry.db").read_bytes())
    if online_a["type"] == "sqlite":
        harness.run_checked([sys.executable, "-c", CREATE_TABLES, str(a), *WRITTEN, *SKIPPED], a, env,
                            root / "logs" / "feast-create-tables.log")
    return a, b


def _odfv_table(table: str) -> bool:
    return any(table.endswith("_" + n) for n in WRITTEN + SKIPPED)


def _dump(kind: str, repo: Path, online: dict, port: int) -> Dict[Any, Any]:
    """The store's contents with ODFV write times masked and empty tables left out."""
    if kind == "sqlite":
        rows = harness.sqlite_rows(repo / "data" / "online.db")
        return {t: sorted(((r[0], r[1], r[2], MASK, MASK) if _odfv_table(t) else r for r in rs), key=repr)
                for t, rs in rows.items() if rs}
    ts_fields = {("_ts:" + n).encode() for n in WRITTEN + SKIPPED}
    db = int(online["connection_string"].rsplit("db=", 1)[1])
    return {k: {f: (MASK if f in ts_fields else v) for f, v in h.items()} for k, h in redis_dump(port, db).items()}


def _write_times(port: int, db: int) -> Dict[Tuple[bytes, bytes], bytes]:
    """(hash, ODFV ts field) -> the raw write time, to see a run rewrite the rows."""
    ts_fields = {("_ts:" + n).encode() for n in WRITTEN}
    return {(k, f): v for k, h in redis_dump(port, db).items() for f, v in h.items() if f in ts_fields}


def _written_views(kind: str, d: Dict[Any, Any]) -> Dict[str, int]:
    """ODFV name -> rows (SQLite) or hashes holding it (Redis): the test is not vacuous."""
    out = {n: 0 for n in WRITTEN + SKIPPED}
    for n in out:
        if kind == "sqlite":
            out[n] = sum(len(rs) for t, rs in d.items() if t.endswith("_" + n))
        else:
            out[n] = sum(1 for h in d.values() if ("_ts:" + n).encode() in h)
    return out


def _assert_same(kind: str, fd: Dict[Any, Any], od: Dict[Any, Any], what: str) -> None:
    assert fd, f"{what}: Feast's store is empty"
    assert od.keys() == fd.keys(), (f"{what}: only Feast {sorted(fd.keys() - od.keys())[:5]}, "
                                    f"only ours {sorted(od.keys() - fd.keys())[:5]}")
    for k in fd:
        if kind == "sqlite":
            e, a = fd[k], od[k]
            assert a == e, f"{what}: table {k}:\nonly Feast: {[r for r in e if r not in a][:5]}\nonly ours: {[r for r in a if r not in e][:5]}"
        else:
            assert od[k] == fd[k], f"{what}: hash {k.hex()}:\nFeast {fd[k]}\nours  {od[k]}"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_odfv_materialize_same_as_feast(variant, tmp_root, base_env, ours_mode, our_binary, redis_port):
    kind, eksv = VARIANTS[variant]
    root = tmp_root / "odfv_materialize" / variant
    logs = root / "logs"
    if kind == "sqlite":
        online_a = online_b = {"type": "sqlite", "path": "data/online.db"}
    else:
        db_a, db_b = (5, 6) if eksv == 3 else (7, 8)
        redis_flush(redis_port, db_a)
        redis_flush(redis_port, db_b)
        online_a, online_b = redis_store(redis_port, db_a), redis_store(redis_port, db_b)
    a, b = _repos(root, online_a, online_b, eksv, base_env)

    steps: List[Tuple[str, List[str]]] = [
        ("materialize", ["materialize", START, END]),
        ("incremental", ["materialize-incremental", INCREMENTAL_END]),
    ]
    for step, args in steps:
        harness.run_checked(feast_cmd(a) + args, a, base_env, logs / f"feast-{step}.log")
        harness.run_checked(ours_cmd(b, ours_mode, our_binary) + args, b, base_env, logs / f"ours-{step}.log")
        fd, od = _dump(kind, a, online_a, redis_port), _dump(kind, b, online_b, redis_port)
        counts = _written_views(kind, fd)
        assert all(counts[n] > 0 for n in WRITTEN), f"[{variant}] {step}: Feast wrote {counts}"
        assert all(counts[n] == 0 for n in SKIPPED), f"[{variant}] {step}: Feast wrote {counts}"
        _assert_same(kind, fd, od, f"[{variant}] {step}")


@pytest.mark.parametrize("variant", ["sqlite_v3"])
def test_odfv_materialize_by_name(variant, tmp_root, base_env, ours_mode, our_binary):
    """--views with write_to_online_store ODFVs only; an ODFV without it is refused by both."""
    kind, eksv = VARIANTS[variant]
    root = tmp_root / "odfv_materialize" / f"{variant}-by-name"
    online = {"type": "sqlite", "path": "data/online.db"}
    a, b = _repos(root, online, online, eksv, base_env)
    args = ["materialize", START, END, "--views", "mat_pandas", "--views", "mat_py_module"]
    harness.run_checked(feast_cmd(a) + args, a, base_env, root / "logs" / "feast-by-name.log")
    harness.run_checked(ours_cmd(b, ours_mode, our_binary) + args, b, base_env, root / "logs" / "ours-by-name.log")
    fd, od = _dump(kind, a, online, 0), _dump(kind, b, online, 0)
    counts = _written_views(kind, fd)
    assert counts["mat_pandas"] > 0 and counts["mat_py_module"] > 0 and counts["mat_py"] == 0, counts
    assert [t for t in fd if not _odfv_table(t)] == [], f"only the named views are written: {sorted(fd)}"
    _assert_same(kind, fd, od, f"[{variant}] by name")

    bad = ["materialize", START, END, "--views", "pipeline_risk"]
    outs = []
    for cmd, repo in ((feast_cmd(a), a), (ours_cmd(b, ours_mode, our_binary), b)):
        p = subprocess.run(cmd + bad, cwd=str(repo), env=base_env, capture_output=True, text=True, timeout=300)
        outs.append((p.returncode, p.stdout + p.stderr))
    want = "OnDemandFeatureView pipeline_risk is not configured for write_to_online_store."
    for rc, text in outs:
        assert rc != 0 and want in text, f"rc {rc}: {text[-2000:]}"


def test_odfv_materialize_http(tmp_root, base_env, ours_mode, our_binary, redis_port):
    """Our POST /materialize and /materialize-incremental write what Feast's CLI writes."""
    kind, eksv = VARIANTS["redis_v3"]
    root = tmp_root / "odfv_materialize" / "redis_v3-http"
    logs = root / "logs"
    db_a, db_b = 9, 10
    redis_flush(redis_port, db_a)
    redis_flush(redis_port, db_b)
    online_a, online_b = redis_store(redis_port, db_a), redis_store(redis_port, db_b)
    a, b = _repos(root, online_a, online_b, eksv, base_env)
    side = Side("ours", b)
    _start_server(side, ours_mode, our_binary, base_env, logs, is_ours=True)
    try:
        steps = [
            ("materialize", ["materialize", START, END], "/materialize", {"start_ts": START, "end_ts": END}),
            ("incremental", ["materialize-incremental", INCREMENTAL_END], "/materialize-incremental?async=true",
             {"end_ts": INCREMENTAL_END}),
        ]
        for step, args, path, body in steps:
            harness.run_checked(feast_cmd(a) + args, a, base_env, logs / f"feast-{step}.log")
            before = _write_times(redis_port, db_b)
            answer = harness.post(side.url, path, json.dumps(body).encode())
            assert answer.status in (200, 202), f"{path}: {answer.for_report()}"
            # An async run is done when every feature view has recorded its interval (the ODFVs
            # run before them).
            want = 1 if step == "materialize" else 2
            for _ in range(600):
                if all(len(r[2]) == want for r in registry_record(b / "data" / "registry.db")):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"{path}: our run did not record its intervals in 60 s")
            after = _write_times(redis_port, db_b)
            assert after and all(after.get(k) != v for k, v in before.items()), (
                f"{step}: our server did not rewrite every ODFV row")
            fd, od = _dump(kind, a, online_a, redis_port), _dump(kind, b, online_b, redis_port)
            counts = _written_views(kind, fd)
            assert all(counts[n] > 0 for n in WRITTEN), f"{step}: Feast wrote {counts}"
            _assert_same(kind, fd, od, f"[redis_v3 http] {step}")
    finally:
        side.proc.stop()
