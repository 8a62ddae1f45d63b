"""Writes: our /push and /write-to-online-store against Feast 0.67.0's own.

For each online store (SQLite, Redis, PostgreSQL; entity key serialization v3 and v2) two
copies of feature_repo/ are applied with real `feast apply`, each with its own store: one
is served by real `feast serve`, the other by our server. The same write requests go to
both. Then:

* the stores must hold the same bytes: every Redis hash (keys, fields, values; TTLs
  present or absent alike), every SQLite / PostgreSQL row of every table;
* Feast's SDK (FeatureStore.get_online_features, through its own Redis / SQLite /
  PostgreSQL online store) must read the same values from the store we wrote as from the
  store Feast wrote, and those values must be the ones the requests carried.

Requests Feast refuses with a 5xx (client mistakes) must get a 4xx from us with Feast's
error shape, and leave both stores unchanged.

With CONFORMANCE_OURS=feast the "ours" side is a second `feast serve` (harness check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import harness
from conftest import copy_repo, rewrite_store_yaml, services_sh
from harness import HarnessError, Proc

# variant -> (store kind, entity_key_serialization_version)
WRITE_VARIANTS: Dict[str, Tuple[str, int]] = {
    "sqlite_v3": ("sqlite", 3),
    "sqlite_v2": ("sqlite", 2),
    "redis_v3": ("redis", 3),
    "redis_v2": ("redis", 2),
    "postgres_v3": ("postgres", 3),
}

TS1 = "2025-01-05 10:00:00+00:00"
TS0 = "2025-01-04 09:00:00.250000+00:00"  # older than TS1: Redis keeps the newer row
TS2 = "2025-01-06 12:30:15+00:00"
# pandas takes the format of a column from its first value: sub-second times get their own column.
TS_FRAC = ["2025-01-05 10:00:00.123456+00:00", "2025-01-06 12:30:15.500000+00:00"]

# (path, body): the same list goes to both servers, in order.
WRITES: List[Tuple[str, Dict[str, Any]]] = [
    ("/push", {
        "push_source_name": "pipeline_stats_push",
        "df": {
            "pipeline_id": [9001, 9002, 9003],
            "event_timestamp": [TS1, TS1, TS2],
            "created": ["2025-01-05 10:00:01", "2025-01-05 10:00:01", "2025-01-06 12:30:16"],
            "avg_execution_time": [12.5, 3, None],
            "success_rate": [0.5, 0.25, 0.75],
            "error_count": [3, None, 7],
            "failure_probability": [0.125, 0.5, 1],
            "avg_memory_usage": [1024.5, 2048, 4096.25],
            "cpu_utilization": [0.5, 0.75, 0.25],
            "last_status": ["success", None, "failed"],
            "is_active": [True, False, True],
        },
    }),
    # Older event time for 9001: Redis skips it (dedup), SQL stores overwrite.
    ("/push", {
        "push_source_name": "pipeline_stats_push",
        "to": "online",
        "df": {
            "pipeline_id": [9001],
            "event_timestamp": [TS0],
            "created": [TS0],
            "avg_execution_time": [99.5],
            "success_rate": [0.5],
            "error_count": [99],
            "failure_probability": [0.5],
            "avg_memory_usage": [1.5],
            "cpu_utilization": [0.5],
            "last_status": ["stale"],
            "is_active": [False],
        },
    }),
    ("/write-to-online-store", {
        "feature_view_name": "pipeline_history",
        "df": {
            "pipeline_id": [9001, 9002],
            "event_timestamp": [TS1, TS2],
            "created": [TS1, TS2],
            "recent_execution_times": [[1.5, 2.25, 3.0], []],
            "recent_error_counts": [[1, 0, 2], None],
            "recent_statuses": [["success", "failed"], ["success"]],
            "last_run_at": [1736071200, 1736080000],  # a null would make the column float: see ingest.convertColumn
            "retry_count": [2, 0],
            "cpu_samples": [[0.5, 0.25], [0.75]],
        },
    }),
    ("/write-to-online-store", {
        "feature_view_name": "pipeline_team_stats",
        "df": {
            "pipeline_id": [9001, 9002],
            "team_id": ["team_a", "team_b"],
            "event_timestamp": [TS1, TS1],
            "created": [TS1, TS1],
            "ownership_score": [0.5, 0.875],
            "handoffs": [4, 5],
        },
    }),
    # Composite key of two INT64s: (9001, 9002) and (9002, 9001) are different rows.
    ("/push", {
        "push_source_name": "runner_pipeline_push",
        "df": {
            "runner_id": [9001, 9002, 9003],
            "pipeline_id": [9002, 9001, 9001],
            "event_timestamp": [TS1, TS1, TS2],
            "created": [TS1, TS1, TS2],
            "queue_seconds": [1.5, 2.75, None],
            "runs": [3, 4, 5],
            "last_result": ["passed", None, "failed"],
        },
    }),
    # Key columns in the other order; rewrites (9001, 9002) with a newer event time.
    ("/write-to-online-store", {
        "feature_view_name": "runner_pipeline_stats",
        "df": {
            "pipeline_id": [9002, 9003],
            "runner_id": [9001, 9001],
            "event_timestamp": [TS2, TS2],
            "created": [TS2, TS2],
            "queue_seconds": [9.25, 0.5],
            "runs": [30, 1],
            "last_result": ["flaky", "passed"],
        },
    }),
    ("/write-to-online-store", {
        "feature_view_name": "team_stats",
        "allow_registry_cache": True,
        "df": {
            "team_id": ["team_a"],
            "event_timestamp": ["2025-01-05 11:00:00+01:00"],
            "created": ["2025-01-05 10:00:00"],
            "team_size": [8],
            "budget_utilization": [0.625],
            "on_call": ["alice"],
        },
    }),
    ("/write-to-online-store", {
        "feature_view_name": "pipeline_latency",
        "df": {
            "pipeline_id": [9001, 9003],
            "ts": TS_FRAC,
            "created": [TS1, TS2],
            "execution_ms": [1200, 800],
            "queue_wait_ms": [30, 45],
        },
    }),
]

# Client mistakes: Feast answers 4xx or 5xx, we a 4xx; neither may write anything.
BAD_WRITES: List[Tuple[str, str, Dict[str, Any]]] = [
    ("unknown push source", "/push", {"push_source_name": "nope", "df": {"pipeline_id": [1]}}),
    ("unknown view", "/write-to-online-store", {"feature_view_name": "nope", "df": {"pipeline_id": [1]}}),
    ("missing join key", "/write-to-online-store", {"feature_view_name": "team_stats", "df": {
        "event_timestamp": [TS1], "created": [TS1], "team_size": [1], "budget_utilization": [0.5], "on_call": ["x"]}}),
    ("one of two join keys missing", "/push", {"push_source_name": "runner_pipeline_push", "df": {
        "runner_id": [9009], "event_timestamp": [TS1], "created": [TS1], "queue_seconds": [1.0], "runs": [1],
        "last_result": ["x"]}}),
    ("unparseable timestamp", "/write-to-online-store", {"feature_view_name": "team_stats", "df": {
        "team_id": ["team_z"], "event_timestamp": ["not a time"], "created": [TS1], "team_size": [1],
        "budget_utilization": [0.5], "on_call": ["x"]}}),
    ("wrong column type", "/write-to-online-store", {"feature_view_name": "team_stats", "df": {
        "team_id": ["team_z"], "event_timestamp": [TS1], "created": [TS1], "team_size": ["many"],
        "budget_utilization": [0.5], "on_call": ["x"]}}),
    ("lists of different lengths", "/write-to-online-store", {"feature_view_name": "team_stats", "df": {
        "team_id": ["team_z", "team_y"], "event_timestamp": [TS1], "created": [TS1], "team_size": [1],
        "budget_utilization": [0.5], "on_call": ["x"]}}),
]

# What Feast's SDK reads afterwards: (features, entity rows).
READS: List[Tuple[List[str], Dict[str, List[Any]]]] = [
    ([f"pipeline_stats:{f}" for f in ("avg_execution_time", "success_rate", "error_count", "failure_probability",
                                      "avg_memory_usage", "cpu_utilization", "last_status", "is_active")],
     {"pipeline_id": [9001, 9002, 9003, 4242]}),
    ([f"pipeline_history:{f}" for f in ("recent_execution_times", "recent_error_counts", "recent_statuses",
                                        "last_run_at", "retry_count", "cpu_samples")],
     {"pipeline_id": [9001, 9002]}),
    (["pipeline_team_stats:ownership_score", "pipeline_team_stats:handoffs"],
     {"pipeline_id": [9001, 9002], "team_id": ["team_a", "team_b"]}),
    (["runner_pipeline_stats:queue_seconds", "runner_pipeline_stats:runs", "runner_pipeline_stats:last_result"],
     {"runner_id": [9001, 9002, 9003, 9001, 9002], "pipeline_id": [9002, 9001, 9001, 9003, 9002]}),
    (["team_stats:team_size", "team_stats:budget_utilization", "team_stats:on_call"], {"team_id": ["team_a", "team_z"]}),
    (["pipeline_latency:execution_ms", "pipeline_latency:queue_wait_ms"], {"pipeline_id": [9001, 9003]}),
]


@dataclass
class Side:
    name: str
    repo: Path
    url: str = ""
    proc: Any = None


@dataclass
class WriteStack:
    variant: str
    kind: str
    eksv: int
    sides: Dict[str, Side] = field(default_factory=dict)
    store_cfg: Dict[str, dict] = field(default_factory=dict)


def _start_server(side: Side, ours_mode: str, our_binary: str, env: Dict[str, str], logs: Path, is_ours: bool) -> None:
    port = harness.free_port()
    if is_ours and ours_mode == "binary":
        argv = [our_binary, "-c", str(side.repo), "serve", "-h", "127.0.0.1", "-p", str(port)]
        side.proc = Proc.start("our feature-server", argv, logs / f"{side.name}.log", side.repo, env)
        timeout = 60
    else:
        feast = [str(Path(sys.executable).parent / "feast"), "-c", str(side.repo)]
        side.proc = Proc.start(f"feast serve ({side.name})", feast + ["serve", "-h", "127.0.0.1", "-p", str(port)],
                               logs / f"{side.name}.log", side.repo, env)
        timeout = 180
    side.url = f"http://127.0.0.1:{port}"
    harness.wait_healthy(side.proc, side.url, timeout=timeout)


@pytest.fixture(scope="module", params=list(WRITE_VARIANTS))
def wstack(request, tmp_root: Path, base_env: Dict[str, str], ours_mode: str, our_binary: str) -> WriteStack:
    variant = request.param
    kind, eksv = WRITE_VARIANTS[variant]
    vdir = tmp_root / ("writes-" + variant)
    logs = vdir / "logs"
    env = dict(base_env)
    ws = WriteStack(variant, kind, eksv)
    cleanups = []

    def cleanup():
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                print(f"[{variant}] cleanup: {e}", file=sys.stderr)

    request.addfinalizer(cleanup)

    if kind == "postgres":
        # services.sh opens SERVICES_DIR to the postgres user; its parent
        # (run.sh's private temp dir) must be traversable too.
        os.chmod(tmp_root, 0o711)
        pg_port = harness.free_port()
        cleanups.append(lambda: services_sh(env, logs / "services.log", "postgres-stop", str(pg_port)))
        services_sh(env, logs / "services.log", "postgres-start", str(pg_port))
    for name in ("feast", "ours"):
        repo = vdir / name
        copy_repo(repo)
        if kind == "sqlite":
            cfg = {"type": "sqlite", "path": "data/online.db"}
        elif kind == "redis":
            port = harness.free_port()
            cleanups.append(lambda p=port: services_sh(env, logs / "services.log", "redis-stop", str(p)))
            services_sh(env, logs / "services.log", "redis-start", str(port))
            cfg = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
            if eksv == 3:
                cfg["key_ttl_seconds"] = 86400  # every written hash must then carry a TTL, as Feast's do
        else:
            cfg = {"type": "postgres", "host": "127.0.0.1", "port": pg_port, "database": "feast", "user": "feast",
                   "password": "feast", "sslmode": "disable", "db_schema": f"writes_{name}"}
        rewrite_store_yaml(repo, cfg, eksv)
        ws.store_cfg[name] = cfg
        feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
        harness.run_checked(feast + ["apply"], repo, env, logs / f"feast-apply-{name}.log")
        side = Side(name, repo)
        _start_server(side, ours_mode, our_binary, env, logs, is_ours=(name == "ours"))
        cleanups.append(side.proc.stop)
        ws.sides[name] = side

    # Bad requests first: nothing may be written by them.
    for label, path, body in BAD_WRITES:
        payload = json.dumps(body).encode()
        fa = harness.post(ws.sides["feast"].url, path, payload)
        oa = harness.post(ws.sides["ours"].url, path, payload)
        if fa.status < 400:
            raise HarnessError(f"[{variant}] Feast accepted the bad request {label!r}: {fa.for_report()}")
        diffs = harness.compare_error(fa, oa, policy=ours_mode == "binary")
        assert not diffs, f"[{variant}] {label}: Feast {fa.for_report()}, ours {oa.for_report()}:\n" + "\n".join(diffs)
    for path, body in WRITES:
        payload = json.dumps(body).encode()
        fa = harness.post(ws.sides["feast"].url, path, payload)
        if fa.status != 200:
            raise HarnessError(f"[{variant}] Feast refused {path} {body.get('push_source_name') or body.get('feature_view_name')}: {fa.for_report()}")
        oa = harness.post(ws.sides["ours"].url, path, payload)
        assert (oa.status, oa.text, oa.media_type) == (fa.status, fa.text, fa.media_type), (
            f"[{variant}] {path}: Feast {fa.for_report()}, ours {oa.for_report()}")
    return ws


# --------------------------------------------------------------------------
# Store dumps


def dump_redis(cfg: dict) -> Dict[str, Any]:
    import redis

    host, port = cfg["connection_string"].split(":")
    r = redis.Redis(host=host, port=int(port))
    out = {}
    for key in r.scan_iter(count=1000):
        h = r.hgetall(key)
        out[key.hex()] = {
            "fields": {k.hex(): v.hex() for k, v in sorted(h.items())},
            "ttl": r.ttl(key) > 0,
        }
    return out


def dump_sql(kind: str, repo: Path, cfg: dict) -> Dict[str, List[Tuple]]:
    if kind == "sqlite":
        return harness.sqlite_rows(repo / cfg["path"])
    import psycopg

    out = {}
    with psycopg.connect(host=cfg["host"], port=cfg["port"], dbname=cfg["database"], user=cfg["user"],
                         password=cfg["password"], sslmode="disable") as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (cfg["db_schema"],))]
        for t in tables:
            rows = conn.execute(
                f'SELECT entity_key, feature_name, value, value_text, vector_value, event_ts::text, created_ts::text '
                f'FROM "{cfg["db_schema"]}"."{t}"').fetchall()
            out[t] = sorted((tuple(x.hex() if isinstance(x, (bytes, memoryview)) and not isinstance(x, str)
                                   else x for x in (bytes(c) if isinstance(c, memoryview) else c for c in r))
                             for r in rows), key=repr)
    return out


def dump(ws: WriteStack, side: str) -> Any:
    cfg = ws.store_cfg[side]
    if ws.kind == "redis":
        return dump_redis(cfg)
    return dump_sql(ws.kind, ws.sides[side].repo, cfg)


def test_stores_hold_identical_bytes(wstack: WriteStack):
    feast_dump, our_dump = dump(wstack, "feast"), dump(wstack, "ours")
    assert feast_dump, f"[{wstack.variant}] Feast's store is empty: the writes did not land"
    if wstack.kind == "redis":
        assert our_dump.keys() == feast_dump.keys(), (
            f"[{wstack.variant}] Redis keys differ: only Feast {sorted(feast_dump.keys() - our_dump.keys())}, "
            f"only ours {sorted(our_dump.keys() - feast_dump.keys())}")
        for k in feast_dump:
            assert our_dump[k] == feast_dump[k], f"[{wstack.variant}] hash {k}: Feast {feast_dump[k]}, ours {our_dump[k]}"
        want_ttl = "key_ttl_seconds" in wstack.store_cfg["ours"]
        assert all(h["ttl"] == want_ttl for h in our_dump.values()), f"[{wstack.variant}] TTL expected: {want_ttl}"
        return
    assert our_dump.keys() == feast_dump.keys(), f"[{wstack.variant}] tables differ: {sorted(feast_dump)} vs {sorted(our_dump)}"
    for t in feast_dump:
        e, a = feast_dump[t], our_dump[t]
        assert a == e, f"[{wstack.variant}] table {t}:\nonly Feast: {[r for r in e if r not in a]}\nonly ours: {[r for r in a if r not in e]}"


# --------------------------------------------------------------------------
# Feast's SDK reads


def sdk_reads(repo: Path, env: Dict[str, str]) -> List[Dict[str, List[Any]]]:
    """Every READS entry through Feast's own online store, in one fresh interpreter (TZ=UTC like the servers)."""
    code = (
        "import json, sys, math\n"
        "from feast import FeatureStore\n"
        "fs = FeatureStore(repo_path=sys.argv[1])\n"
        "def enc(x):\n"
        "    if hasattr(x, 'tolist'): x = x.tolist()\n"
        "    if isinstance(x, float) and math.isnan(x): return 'NaN'\n"
        "    if isinstance(x, list): return [enc(e) for e in x]\n"
        "    if hasattr(x, 'isoformat'): return x.isoformat()\n"
        "    return x\n"
        "out = []\n"
        "for feats, ents in json.loads(sys.argv[2]):\n"
        "    rows = [dict(zip(ents.keys(), r)) for r in zip(*ents.values())]\n"
        "    d = fs.get_online_features(features=feats, entity_rows=rows).to_dict()\n"
        "    out.append({k: enc(v) for k, v in d.items()})\n"
        "print(json.dumps(out))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(repo), json.dumps(READS)],
                         cwd=str(repo), env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise HarnessError(f"Feast SDK read failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_feast_sdk_reads_what_we_wrote(wstack: WriteStack, base_env: Dict[str, str]):
    from_feast = sdk_reads(wstack.sides["feast"].repo, base_env)
    from_ours = sdk_reads(wstack.sides["ours"].repo, base_env)
    for (feats, _), f, o in zip(READS, from_feast, from_ours):
        assert o == f, (
            f"[{wstack.variant}] Feast's SDK reads {feats} differently:\nfrom Feast's write: {f}\nfrom ours: {o}")
    # And the values are the ones the requests carried, so "both empty" cannot pass.
    got, hist, _, runner, team, _ = from_ours
    dedup = wstack.kind == "redis"
    assert got["error_count"] == [3 if dedup else 99, None, 7, None]
    assert got["last_status"] == ["success" if dedup else "stale", None, "failed", None]
    assert got["avg_execution_time"] == [12.5 if dedup else 99.5, 3.0, None, None]
    assert hist["recent_execution_times"] == [[1.5, 2.25, 3.0], []]
    assert hist["recent_statuses"] == [["success", "failed"], ["success"]]
    assert hist["retry_count"] == [2, 0]
    assert team["team_size"] == [8, None] and team["on_call"] == ["alice", None]
    # Composite key: (9001, 9002) rewritten by the later write, (9002, 9002) never written.
    assert runner["runs"] == [30, 4, 5, 1, None]
