"""Feast's Python SDK with `online_store: type: remote` pointed at our server.

The flows of Feast's own remote online store integration test
(sdk/python/tests/integration/online_store/test_remote_online_store.py), written
here for our harness: a `feast init` repo applied and materialized by real Feast and
served by our binary; a client repo whose only online store is `type: remote` at our
URL reads through it (answers compared with the same SDK reading the online store
directly), gets Feast's error for an unknown view, and pushes the template's Map, Json
and Struct columns through `/write-to-online-store`, then reads them back.
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
    client_repo = tmp_root / "remote-client"
    client_repo.mkdir(parents=True, exist_ok=True)
    (client_repo / "feature_store.yaml").write_text(yaml.safe_dump({
        "project": PROJECT,
        "registry": str(repo / (reg["path"] if isinstance(reg, dict) else reg)),
        "provider": "local",
        "online_store": {"type": "remote", "path": ours.url},
        "entity_key_serialization_version": 3,
    }))
    return FeatureStore(repo_path=str(repo)), FeatureStore(repo_path=str(client_repo))


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


def test_remote_push_map_json_struct(remote):
    from feast.data_source import PushMode

    _, client = remote
    now = pd.Timestamp.now(tz="UTC").round("ms")
    df = pd.DataFrame({
        "driver_id": [1000, 1001],
        "conv_rate": [0.56, 0.74],
        "acc_rate": [0.95, 0.93],
        "avg_daily_trips": [50, 45],
        "event_timestamp": [now] * 2,
        "created": [now] * 2,
        "driver_metadata": [{"vehicle_type": "sedan", "rating": "4.5"}, {"vehicle_type": "suv", "rating": "3.8"}],
        "driver_config": [json.dumps({"max_distance_km": 100}), json.dumps({"max_distance_km": 50})],
        "driver_profile": [{"name": "driver_1000", "age": "30"}, {"name": "driver_1001", "age": "35"}],
    })
    client.push(push_source_name="driver_stats_push_source", df=df, to=PushMode.ONLINE)
    got = client.get_online_features(
        features=["driver_hourly_stats_fresh:conv_rate", "driver_hourly_stats_fresh:avg_daily_trips"],
        entity_rows=[{"driver_id": 1000}, {"driver_id": 1001}],
    ).to_dict()
    assert got["driver_id"] == [1000, 1001]
    assert [round(v, 2) for v in got["conv_rate"]] == [0.56, 0.74]
    assert got["avg_daily_trips"] == [50, 45]
