"""On-demand feature views with write_to_online_store=True: transformed on write, read like a view.

Two copies of feature_repo/ get one extra python-mode ODFV over pipeline_stats with
write_to_online_store=True (ODFV_SOURCE below). Each is applied with real `feast apply`;
one is served by `feast serve`, the other by our server (as in test_writes.py). The same
requests go to both:

* /push to pipeline_stats_push: Feast writes the push source's feature views only, never
  the ODFV (FeatureStore._fvs_for_push_source_or_raise lists feature views and stream
  views);
* /write-to-online-store for the ODFV with the source features: Feast runs the UDF on the
  frame and stores its outputs under the ODFV's name;
* /write-to-online-store for the ODFV with transform_on_write=false and the outputs given:
  stored as sent.

Then the stores must hold the same bytes, and /get-online-features for the ODFV's features
must answer the same from both servers (and carry the transformed values).

Runs for the sqlite_v3 and redis_v3 write variants.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import harness
from conftest import copy_repo, rewrite_store_yaml, services_sh
from harness import HarnessError
from test_writes import Side, WriteStack, _start_server, dump

ODFV = "pipeline_risk_written"

ODFV_SOURCE = '''"""Test-only: an ODFV written to the online store (conformance/test_odfv_write.py)."""

from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, String

from features import pipeline, pipeline_stats


@on_demand_feature_view(
    sources=[pipeline_stats],
    schema=[
        Field(name="risk_x2", dtype=Float64),
        Field(name="status_upper", dtype=String),
    ],
    entities=[pipeline],
    mode="python",
    write_to_online_store=True,
)
def pipeline_risk_written(inputs: dict) -> dict:
    return {
        "risk_x2": [v * 2 for v in inputs["failure_probability"]],
        "status_upper": [s.upper() if s else "NONE" for s in inputs["last_status"]],
    }
'''

TS1 = "2025-01-05 10:00:00+00:00"
TS2 = "2025-01-06 12:30:15+00:00"

WRITES: List[Tuple[str, Dict[str, Any]]] = [
    ("/push", {
        "push_source_name": "pipeline_stats_push",
        "df": {
            "pipeline_id": [9001, 9002],
            "event_timestamp": [TS1, TS1],
            "created": [TS1, TS1],
            "avg_execution_time": [12.5, 3.0],
            "success_rate": [0.5, 0.25],
            "error_count": [3, 4],
            "failure_probability": [0.125, 0.5],
            "avg_memory_usage": [1024.5, 2048.0],
            "cpu_utilization": [0.5, 0.75],
            "last_status": ["success", "failed"],
            "is_active": [True, False],
        },
    }),
    ("/write-to-online-store", {
        "feature_view_name": ODFV,
        "df": {
            "pipeline_id": [9001, 9002, 9003],
            "event_timestamp": [TS1, TS2, TS2],
            "created": [TS1, TS2, TS2],
            "failure_probability": [0.125, 0.5, 1],
            "last_status": ["success", None, "failed"],
        },
    }),
    ("/write-to-online-store", {
        "feature_view_name": ODFV,
        "transform_on_write": False,
        "df": {
            "pipeline_id": [9005],
            "event_timestamp": [TS1],
            "created": [TS1],
            "risk_x2": [0.75],
            "status_upper": ["AS-SENT"],
        },
    }),
]

READ = {
    "features": [f"{ODFV}:risk_x2", f"{ODFV}:status_upper"],
    "entities": {"pipeline_id": [9001, 9002, 9003, 9005, 4242]},
    "full_feature_names": True,
}

VARIANTS = {"sqlite_v3": ("sqlite", 3), "redis_v3": ("redis", 3)}


@pytest.fixture(scope="module", params=list(VARIANTS))
def ostack(request, tmp_root: Path, base_env: Dict[str, str], ours_mode: str, our_binary: str) -> WriteStack:
    variant = request.param
    kind, eksv = VARIANTS[variant]
    vdir = tmp_root / ("odfv-write-" + variant)
    logs = vdir / "logs"
    env = dict(base_env)
    ws = WriteStack(variant, kind, eksv)
    cleanups = []

    def cleanup():
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as e:
                print(f"[{variant}] cleanup: {e}", file=sys.stderr)

    request.addfinalizer(cleanup)
    for name in ("feast", "ours"):
        repo = vdir / name
        copy_repo(repo)
        (repo / "odfv_written.py").write_text(ODFV_SOURCE)
        if kind == "sqlite":
            cfg = {"type": "sqlite", "path": "data/online.db"}
        else:
            port = harness.free_port()
            cleanups.append(lambda p=port: services_sh(env, logs / "services.log", "redis-stop", str(p)))
            services_sh(env, logs / "services.log", "redis-start", str(port))
            cfg = {"type": "redis", "connection_string": f"127.0.0.1:{port}", "key_ttl_seconds": 86400}
        rewrite_store_yaml(repo, cfg, eksv)
        ws.store_cfg[name] = cfg
        feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
        harness.run_checked(feast + ["apply"], repo, env, logs / f"feast-apply-{name}.log")
        side = Side(name, repo)
        _start_server(side, ours_mode, our_binary, env, logs, is_ours=(name == "ours"))
        cleanups.append(side.proc.stop)
        ws.sides[name] = side

    if kind == "sqlite":
        # `feast apply` on SQLite takes the plan path (FeatureStore._should_use_plan), whose
        # infra plan has no table for ODFVs: Feast's write then fails. Record both answers,
        # then create the table with Feast's own provider, as FeatureStore.apply would.
        path, body = WRITES[1]
        payload = json.dumps(body).encode()
        ws.no_table = (harness.post(ws.sides["feast"].url, path, payload),
                       harness.post(ws.sides["ours"].url, path, payload))
        for side in ws.sides.values():
            code = (
                "import sys\n"
                "from feast import FeatureStore\n"
                "fs = FeatureStore(repo_path=sys.argv[1])\n"
                "o = fs.get_on_demand_feature_view(sys.argv[2])\n"
                "fs._get_provider().update_infra(project=fs.project, tables_to_delete=[], tables_to_keep=[o],\n"
                "    entities_to_delete=[], entities_to_keep=[], partial=True)\n"
            )
            harness.run_checked([sys.executable, "-c", code, str(side.repo), ODFV], side.repo, env,
                                logs / f"create-table-{side.name}.log")

    for path, body in WRITES:
        payload = json.dumps(body).encode()
        fa = harness.post(ws.sides["feast"].url, path, payload)
        if fa.status != 200:
            raise HarnessError(f"[{variant}] Feast refused {path} {body}: {fa.for_report()}")
        oa = harness.post(ws.sides["ours"].url, path, payload)
        assert (oa.status, oa.text, oa.media_type) == (fa.status, fa.text, fa.media_type), (
            f"[{variant}] {path} {body}: Feast {fa.for_report()}, ours {oa.for_report()}")
    return ws


def _mask_write_time(kind: str, d: Any) -> Any:
    """Feast stamps ODFV rows with the write time (_convert_arrow_odfv_to_proto: now), not the
    frame's event_timestamp: those bytes can only match in kind, not in value."""
    if kind == "sqlite":
        return {t: sorted(((r[0], r[1], r[2], "<write time>", "<write time>") if t.endswith("_" + ODFV) else r
                           for r in rows), key=repr) for t, rows in d.items()}
    ts_field = ("_ts:" + ODFV).encode().hex()
    return {k: {**h, "fields": {f: ("<write time>" if f == ts_field else v) for f, v in h["fields"].items()}}
            for k, h in d.items()}


def test_odfv_write_sqlite_without_table(ostack: WriteStack):
    if ostack.kind != "sqlite":
        pytest.skip("SQLite only")
    # Deliberate difference (docs/compatibility.md): after `feast apply` on local+SQLite, Feast has
    # created no table for a write_to_online_store ODFV and answers 500 "no such table"; we create
    # the table as Feast's other apply path does, and write.
    fa, oa = ostack.no_table
    assert fa.status == 500 and "no such table" in fa.text, f"Feast's answer changed: {fa.for_report()}"
    assert (oa.status, oa.text) == (200, "null"), f"ours {oa.for_report()}"


def test_odfv_write_stores_identical(ostack: WriteStack):
    fd = _mask_write_time(ostack.kind, dump(ostack, "feast"))
    od = _mask_write_time(ostack.kind, dump(ostack, "ours"))
    assert fd, f"[{ostack.variant}] Feast's store is empty"
    if ostack.kind == "sqlite":
        table = [t for t in fd if t.endswith("_" + ODFV)]
        assert table and fd[table[0]], f"[{ostack.variant}] Feast wrote no {ODFV} rows: tables {sorted(fd)}"
        assert od.keys() == fd.keys(), f"[{ostack.variant}] tables differ: Feast {sorted(fd)}, ours {sorted(od)}"
        for t in fd:
            e, a = fd[t], od[t]
            assert a == e, (f"[{ostack.variant}] table {t}:\nonly Feast: {[r for r in e if r not in a]}\n"
                            f"only ours: {[r for r in a if r not in e]}")
    else:
        assert od.keys() == fd.keys(), (
            f"[{ostack.variant}] Redis keys differ: only Feast {sorted(fd.keys() - od.keys())}, "
            f"only ours {sorted(od.keys() - fd.keys())}")
        for k in fd:
            assert od[k] == fd[k], f"[{ostack.variant}] hash {k}: Feast {fd[k]}, ours {od[k]}"


def test_odfv_write_read_back(ostack: WriteStack):
    payload = json.dumps(READ).encode()
    fa = harness.post(ostack.sides["feast"].url, "/get-online-features", payload)
    oa = harness.post(ostack.sides["ours"].url, "/get-online-features", payload)
    assert fa.status == 200, f"[{ostack.variant}] Feast: {fa.for_report()}"
    ok_f, fj = fa.parsed()
    ok_o, oj = oa.parsed()
    # Write times (see _mask_write_time) differ by nature.
    for j in (fj, oj if ok_o else {}):
        for r in j.get("results", []):
            r["event_timestamps"] = [t if t.startswith("1970-") else "<write time>" for t in r["event_timestamps"]]
    assert oa.status == 200 and ok_o, f"[{ostack.variant}] ours: {oa.for_report()}"
    diffs = harness.compare_success(fj, oj, harness.column_groups(READ, {}), ostack.kind == "redis")
    assert not diffs, (f"[{ostack.variant}] request {READ}\nFeast: {json.dumps(fj)}\nours: {json.dumps(oj)}\n"
                       + "\n".join(diffs))
    # Not vacuous: the transformed values (and the as-sent row) are there.
    names = fj["metadata"]["feature_names"]
    cols = {n: r["values"] for n, r in zip(names, fj["results"])}
    assert cols[f"{ODFV}__risk_x2"] == [0.25, 1.0, 2.0, 0.75, None], fj
    assert cols[f"{ODFV}__status_upper"] == ["SUCCESS", "NONE", "FAILED", "AS-SENT", None], fj
