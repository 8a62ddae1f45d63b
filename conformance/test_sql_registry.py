"""Our server on Feast's SQL registry (`registry_type: sql`, PostgreSQL), against real Feast 0.67.0.

Repo A keeps its registry in PostgreSQL, written by real `feast apply`; repo B is the same repo on
a registry file. Both are materialized over the same window, and then:

- our server on A answers every conformance case exactly as our server on B does (status and
  body), so the SQL registry gives the same compiled snapshot as the file;
- `feast materialize-incremental` on A continues from the interval our `materialize` recorded in
  the SQL registry, and ours continues from Feast's; the online rows equal B's byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

import harness
from conftest import copy_repo, postgres_server, rewrite_store_yaml
from harness import Proc

START, END = harness.MATERIALIZE_START, harness.MATERIALIZE_END
MIDDLE = "2025-01-04T00:00:00"
INCREMENTAL_END = "2025-01-09T00:00:00"


def feast_cmd(repo: Path) -> List[str]:
    return [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]


@pytest.fixture(scope="module")
def registry_pg(tmp_root: Path, base_env: Dict[str, str]):
    with postgres_server(base_env, tmp_root / "sql_registry" / "services.log", "conformance-sqlreg.") as port:
        yield port


def sql_intervals(port: int) -> Dict[str, List[tuple]]:
    """feature view -> its materialization intervals, read from the SQL registry's rows."""
    import psycopg
    from feast.protos.feast.core.FeatureView_pb2 import FeatureView

    out = {}
    with psycopg.connect(f"postgresql://feast:feast@127.0.0.1:{port}/feast") as con:
        for name, blob in con.execute("SELECT feature_view_name, feature_view_proto FROM feature_views"):
            fv = FeatureView.FromString(blob)
            out[name] = [(i.start_time.ToJsonString(), i.end_time.ToJsonString()) for i in fv.meta.materialization_intervals]
    return out


def serve(name: str, repo: Path, binary: str, env: Dict[str, str], logs: Path, request) -> str:
    port = harness.free_port()
    proc = Proc.start(name, [binary, "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port)], logs / f"{name}.log", repo, env)
    request.addfinalizer(proc.stop)
    url = f"http://127.0.0.1:{port}"
    harness.wait_healthy(proc, url, timeout=60)
    return url


def test_sql_registry_same_as_file(request, tmp_root, base_env, ours_mode, our_binary, registry_pg):
    if ours_mode != "binary":
        pytest.skip("compares our binary on two registries")
    root = tmp_root / "sql_registry"
    logs = root / "logs"
    a, b = root / "sql", root / "file"
    for d in (a, b):
        copy_repo(d)
        rewrite_store_yaml(d, {"type": "sqlite", "path": "data/online.db"}, 3)
    cfg = yaml.safe_load((a / "feature_store.yaml").read_text())
    cfg["registry"] = {
        "registry_type": "sql",
        "path": f"postgresql+psycopg://feast:feast@127.0.0.1:{registry_pg}/feast",
        "cache_ttl_seconds": 60,
    }
    (a / "feature_store.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    for d in (a, b):
        harness.run_checked(feast_cmd(d) + ["apply"], d, base_env, logs / f"feast-apply-{d.name}.log")
    assert not (a / "data" / "registry.db").exists(), "repo A must not have a registry file"

    # A: ours records [START, MIDDLE] in the SQL registry, Feast continues to END, ours to
    # INCREMENTAL_END. B: Feast alone over the same windows on its registry file.
    harness.run_checked([our_binary, "-c", str(a), "materialize", START, MIDDLE], a, base_env, logs / "ours-materialize.log")
    harness.run_checked(feast_cmd(a) + ["materialize-incremental", END], a, base_env, logs / "feast-incremental.log")
    harness.run_checked([our_binary, "-c", str(a), "materialize-incremental", INCREMENTAL_END], a, base_env, logs / "ours-incremental.log")
    harness.run_checked(feast_cmd(b) + ["materialize", START, MIDDLE], b, base_env, logs / "feast-materialize-b.log")
    harness.run_checked(feast_cmd(b) + ["materialize-incremental", END], b, base_env, logs / "feast-incremental-b1.log")
    harness.run_checked(feast_cmd(b) + ["materialize-incremental", INCREMENTAL_END], b, base_env, logs / "feast-incremental-b2.log")

    intervals = sql_intervals(registry_pg)
    assert intervals, "no feature views in the SQL registry"
    want = [
        ("2025-01-01T00:00:00Z", "2025-01-04T00:00:00Z"),
        ("2025-01-04T00:00:00Z", "2025-01-08T00:00:00Z"),
        ("2025-01-08T00:00:00Z", "2025-01-09T00:00:00Z"),
    ]
    online_views = {name for name, iv in intervals.items() if iv}
    assert online_views, intervals
    for name in online_views:
        assert intervals[name] == want, f"{name}: {intervals[name]}"

    rows_a, rows_b = harness.sqlite_rows(a / "data" / "online.db"), harness.sqlite_rows(b / "data" / "online.db")
    assert set(rows_a) == set(rows_b)
    for table in rows_a:
        assert rows_a[table] == rows_b[table], f"{table}: online rows differ between the SQL and the file registry runs"

    url_a = serve("ours-sql", a, our_binary, base_env, logs, request)
    url_b = serve("ours-file", b, our_binary, base_env, logs, request)
    cases = harness.load_cases()
    assert len(cases) > 50
    diffs = []
    for case in cases:
        ra, rb = case.send(url_a), case.send(url_b)
        if (ra.status, ra.parsed()[1]) != (rb.status, rb.parsed()[1]):
            diffs.append(f"{case.name}: SQL registry {ra.status} {ra.text[:300]!r}\n  file registry {rb.status} {rb.text[:300]!r}")
    assert not diffs, "\n".join(diffs)
