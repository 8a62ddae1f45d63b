"""Feast's Python SDK with `online_store: type: remote` pointed at our server.

The flows of Feast's own remote online store integration test
(sdk/python/tests/integration/online_store/test_remote_online_store.py), written
here for our harness: a `feast init` repo applied and materialized by real Feast and
served by our binary; a client repo whose only online store is `type: remote` at our
URL reads through it (answers compared with the same SDK reading the online store
directly), gets Feast's error for an unknown view, and pushes the template's Map, Json
and Struct columns through `/write-to-online-store`, then reads them back and compares
them with the same push through Feast's own server of the stack. A raw HTTP client's
Map/Json/Struct values as JSON objects are stored as Feast's server stores them, and
refused (400 naming the column) where Feast fails.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import generated_stacks as gen
import harness
from conftest import selected_variants
from test_feast_init import PROJECT, init_template  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif("sqlite" not in selected_variants(), reason="runs on the sqlite variant")

READ = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"]


class RemoteStores(tuple):
    """(server-side FeatureStore, client FeatureStore at our server); .feast_client is a
    client FeatureStore at Feast's server of the same stack."""

    feast_client = None
    gs = None  # the generated stack: both servers' URLs, the repo


@pytest.fixture(scope="module")
def remote(request, init_template: Path, tmp_root: Path, base_env, ours_mode: str, our_binary: str):  # noqa: F811
    """(server-side FeatureStore, client FeatureStore with the remote online store)."""
    from feast import FeatureStore

    def create(vdir: Path, env, logs) -> Path:
        repo = vdir / "repo"
        shutil.copytree(init_template, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return repo

    def prepare(repo: Path, env, logs, variant) -> None:
        harness.run_checked(gen.feast_cmd(repo) + ["apply"], repo, env, logs / "feast-apply.log")
        end = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
        harness.run_checked(gen.feast_cmd(repo) + ["materialize-incremental", end], repo, env, logs / "feast-materialize.log")

    gs = gen.build(request, "remote", "sqlite", tmp_root, base_env, ours_mode, our_binary, create, prepare,
                   sqlite_path="data/online_store.db")
    ours = gs.check_ours()
    repo = gs.stack.repo
    cfg = yaml.safe_load((repo / "feature_store.yaml").read_text())
    reg = cfg["registry"]

    def client(name: str, url: str) -> FeatureStore:
        client_repo = tmp_root / name
        client_repo.mkdir(parents=True, exist_ok=True)
        (client_repo / "feature_store.yaml").write_text(yaml.safe_dump({
            "project": PROJECT,
            "registry": str(repo / (reg["path"] if isinstance(reg, dict) else reg)),
            "provider": "local",
            "online_store": {"type": "remote", "path": url},
            "entity_key_serialization_version": 3,
        }))
        return FeatureStore(repo_path=str(client_repo))

    stores = RemoteStores((FeatureStore(repo_path=str(repo)), client("remote-client", ours.url)))
    # The same SDK at Feast's own server of the stack (same repo, same store): what our
    # answers and writes are compared with.
    stores.feast_client = client("remote-client-feast", gs.stack.feast_url)
    stores.gs = gs
    return stores


@pytest.mark.parametrize("rows", [[{"driver_id": 1001}, {"driver_id": 1002}], [{"driver_id": 1234}]], ids=["existing", "unknown-entity"])
def test_remote_read_matches_local(remote, rows):
    server, client = remote
    got = client.get_online_features(features=READ, entity_rows=rows).to_dict()
    want = server.get_online_features(features=READ, entity_rows=rows).to_dict()
    assert got == want


def test_remote_read_unknown_view(remote):
    _, client = remote
    with pytest.raises(Exception, match="Feature view driver_hourly_stats1 does not exist"):
        client.get_online_features(features=["driver_hourly_stats1:conv_rate"], entity_rows=[{"driver_id": 1001}]).to_dict()


FRESH = ["driver_hourly_stats_fresh:" + f for f in ("conv_rate", "avg_daily_trips", "driver_metadata", "driver_config", "driver_profile")]


def fresh_push_df(drivers):
    """What Feast's remote online store integration test pushes: Map and Struct features as
    dicts, Json as its text (the remote store sends them all as JSON text)."""
    now = pd.Timestamp.now(tz="UTC").round("ms")
    return pd.DataFrame({
        "driver_id": drivers,
        "conv_rate": [0.56, 0.74],
        "acc_rate": [0.95, 0.93],
        "avg_daily_trips": [50, 45],
        "event_timestamp": [now] * 2,
        "created": [now] * 2,
        "driver_metadata": [{"vehicle_type": "sedan", "rating": "4.5"}, {"vehicle_type": "suv", "rating": "3.8"}],
        "driver_config": [json.dumps({"max_distance_km": 100}), json.dumps({"max_distance_km": 50})],
        "driver_profile": [{"name": "driver_1000", "age": "30"}, {"name": "driver_1001", "age": "35"}],
    })


def _features_only(d):
    """to_dict() without the join key (the two pushes use different drivers)."""
    return {k: v for k, v in d.items() if k != "driver_id"}


def test_remote_push_map_json_struct(remote):
    """Feast's push of Map, Json and Struct features through a remote online store at us
    stores what the same push through Feast's own server stores: read back locally (the
    SDK on the shared store) and through both servers, every feature is the same."""
    from feast.data_source import PushMode

    server, client = remote
    feast_client = remote.feast_client
    ours_drivers, feast_drivers = [1000, 1001], [3000, 3001]
    client.push(push_source_name="driver_stats_push_source", df=fresh_push_df(ours_drivers), to=PushMode.ONLINE)
    feast_client.push(push_source_name="driver_stats_push_source", df=fresh_push_df(feast_drivers), to=PushMode.ONLINE)

    def read(fs, drivers):
        return fs.get_online_features(features=FRESH, entity_rows=[{"driver_id": d} for d in drivers]).to_dict()

    got = read(client, ours_drivers)
    assert got["driver_id"] == ours_drivers
    assert [round(v, 2) for v in got["conv_rate"]] == [0.56, 0.74]
    assert got["avg_daily_trips"] == [50, 45]
    assert got["driver_metadata"] == [{"vehicle_type": "sedan", "rating": "4.5"}, {"vehicle_type": "suv", "rating": "3.8"}]
    want_stored = _features_only(read(server, feast_drivers))
    assert _features_only(read(server, ours_drivers)) == want_stored, "the stored rows differ from Feast's"
    assert _features_only(got) == _features_only(read(feast_client, feast_drivers)), "our answer differs from Feast's"


# A raw HTTP client posting the Map, Json and Struct features as JSON objects (pandas keeps
# the dicts, Arrow types them: every key of every row, a missing one null).
OBJECT_COLUMNS = {
    "driver_metadata": [{"vehicle_type": "sedan", "seats": 4, "rating": 4.5, "home": {"lat": 1.5}, "tags": [1, 2]},
                        {"vehicle_type": "suv", "ev": True}],
    "driver_config": [{"max_trips": 5, "night": True, "zones": None}, {"max_trips": 2.5, "name": "\u00e4 \u2603"}],
    "driver_profile": [{"name": "Ann", "age": "41"}, {"name": "Bo"}],
}


def _object_df(drivers):
    return {
        "driver_id": drivers,
        "event_timestamp": ["2025-01-05T10:00:00", "2025-01-05T11:00:00"],
        "created": ["2025-01-05T10:00:01", "2025-01-05T11:00:01"],
        "conv_rate": [0.5, 0.25],
        "acc_rate": [0.75, None],
        "avg_daily_trips": [12, 3],
        **OBJECT_COLUMNS,
    }


def _stored_values(repo: Path, drivers):
    """{feature: Value} of each driver's row of driver_hourly_stats_fresh in the SQLite store."""
    import sqlite3

    from feast.protos.feast.types.Value_pb2 import Value

    con = sqlite3.connect(str(repo / "data" / "online_store.db"))
    try:
        rows = con.execute(f"SELECT entity_key, feature_name, value FROM {PROJECT}_driver_hourly_stats_fresh").fetchall()
    finally:
        con.close()
    out = []
    for d in drivers:
        # Entity key v3 ends with the INT64 value, little-endian.
        row = {n: (len(v), Value.FromString(bytes(v))) for k, n, v in rows if bytes(k).endswith(d.to_bytes(8, "little", signed=True))}
        assert row, f"driver {d} not stored"
        out.append(row)
    return out


@pytest.mark.parametrize("path", ["/write-to-online-store", "/push"])
def test_raw_http_object_values_stored_like_feast(remote, path):
    """The same body to Feast's server and to ours stores the same values (Map entries in
    Python's hash order for Feast: the decoded protos and the lengths are compared)."""
    server, _ = remote
    base = 5100 if path == "/write-to-online-store" else 5200
    sides = {"feast": (remote.gs.stack.feast_url, [base + 1, base + 11]), "ours": (remote.gs.check_ours().url, [base + 2, base + 12])}
    for side, (url, drivers) in sides.items():
        body = {"df": _object_df(drivers)}
        if path == "/push":
            body["push_source_name"] = "driver_stats_push_source"
        else:
            body["feature_view_name"] = "driver_hourly_stats_fresh"
        a = harness.post(url, path, json.dumps(body).encode())
        assert a.status == 200, f"{side}: {a.for_report()}"
    repo = remote.gs.stack.repo
    assert _stored_values(repo, sides["ours"][1]) == _stored_values(repo, sides["feast"][1])
    got = server.get_online_features(features=FRESH, entity_rows=[{"driver_id": d} for d in sides["ours"][1]]).to_dict()
    want = server.get_online_features(features=FRESH, entity_rows=[{"driver_id": d} for d in sides["feast"][1]]).to_dict()
    assert _features_only(got) == _features_only(want)


@pytest.mark.parametrize("column,values", [
    ("driver_metadata", [{"zones": ["a", "b"]}, None]),  # Feast: truth value of an array is ambiguous
    ("driver_metadata", [{"a": 1}, "x"]),  # Arrow: cannot mix struct and non-struct
    ("driver_metadata", [{"a": 1}, {"a": True}]),  # Arrow: expected integer, got bool
    ("driver_config", [{"a": [1]}, None]),  # json.dumps: ndarray is not JSON serializable
    ("driver_profile", [{"age": 41}, {"age": "41"}]),  # Arrow: could not convert '41' to int64
], ids=["map-string-list", "map-mixed-row", "map-int-bool", "json-list-inside", "struct-int-str"])
def test_raw_http_object_values_refused_like_feast(remote, column, values):
    """Objects Feast cannot write: Feast fails (500), we answer 400 naming the column."""
    df = _object_df([5301, 5302])
    df[column] = values
    body = json.dumps({"feature_view_name": "driver_hourly_stats_fresh", "df": df}).encode()
    f = harness.post(remote.gs.stack.feast_url, "/write-to-online-store", body)
    o = harness.post(remote.gs.check_ours().url, "/write-to-online-store", body)
    assert f.status >= 400, f.for_report()
    assert o.status == 400 and f"df.{column}" in o.text, o.for_report()
