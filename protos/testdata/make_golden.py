"""Write the golden files that protos_test.go checks our protos against.

Both come from real Feast (the version installed in the running interpreter),
never from our own code:

  feast-descriptors.pb  a FileDescriptorSet of Feast's own compiled .proto
                        files that protos/ mirrors, taken from the feast wheel;
  registry.db           a registry written by FeatureStore.apply for a small
                        repository that uses most object kinds.

Run it through the Makefile target `proto-golden`, which creates the pinned
Feast virtualenv first.
"""

import datetime
import importlib
import os
import pathlib
import sys
import tempfile

import feast
from google.protobuf import descriptor_pb2

OUT = pathlib.Path(__file__).resolve().parent

# Files whose schema protos/ must match; their imports come along.
MIRRORED = [
    "feast.protos.feast.core.Registry_pb2",
    "feast.protos.feast.core.PrecomputedFeatureVector_pb2",
    "feast.protos.feast.types.EntityKey_pb2",
    "feast.protos.feast.types.Field_pb2",
    "feast.protos.feast.serving.ServingService_pb2",
    "feast.protos.feast.serving.TransformationService_pb2",
    "feast.protos.feast.serving.GrpcServer_pb2",
    "feast.protos.feast.registry.RegistryServer_pb2",
]


def write_descriptors():
    out = descriptor_pb2.FileDescriptorSet()
    seen = set()

    def add(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            add(dep)
        if fd.name.startswith("google/protobuf/"):
            return
        fdp = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(fdp)
        out.file.append(fdp)

    for name in MIRRORED:
        add(importlib.import_module(name).DESCRIPTOR)
    (OUT / "feast-descriptors.pb").write_bytes(out.SerializeToString(deterministic=True))
    print(f"feast-descriptors.pb: {len(out.file)} files", file=sys.stderr)


def write_registry():
    import pandas as pd
    from feast import (
        Entity,
        FeatureService,
        FeatureStore,
        FeatureView,
        Field,
        FileSource,
        PushSource,
        RequestSource,
    )
    from feast.on_demand_feature_view import on_demand_feature_view
    from feast.permissions.action import AuthzedAction
    from feast.permissions.permission import Permission
    from feast.permissions.policy import RoleBasedPolicy
    from feast.types import Array, Float32, Float64, Int64, String
    from feast.value_type import ValueType

    with tempfile.TemporaryDirectory() as tmp:
        repo = pathlib.Path(tmp)
        (repo / "data").mkdir()
        (repo / "feature_store.yaml").write_text(
            "project: golden\n"
            "provider: local\n"
            "registry: data/registry.db\n"
            "online_store:\n"
            "  type: sqlite\n"
            "  path: data/online.db\n"
            "entity_key_serialization_version: 3\n"
        )
        ts = datetime.datetime(2022, 1, 1, tzinfo=datetime.timezone.utc)
        stats = repo / "data" / "driver_stats.parquet"
        pd.DataFrame(
            {
                "driver_id": [1001],
                "conv_rate": [0.5],
                "avg_daily_trips": [308],
                "tags": [["a", "b"]],
                "event_timestamp": [ts],
                "created": [ts],
            }
        ).to_parquet(stats)

        driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64,
                        description="a driver", tags={"team": "rides"})
        source = FileSource(name="driver_stats_source", path=str(stats),
                            timestamp_field="event_timestamp", created_timestamp_column="created")
        push = PushSource(name="driver_stats_push", batch_source=source)
        driver_stats = FeatureView(
            name="driver_hourly_stats",
            entities=[driver],
            ttl=datetime.timedelta(days=1),
            schema=[
                Field(name="driver_id", dtype=Int64),
                Field(name="conv_rate", dtype=Float32),
                Field(name="avg_daily_trips", dtype=Int64),
                Field(name="tags", dtype=Array(String)),
            ],
            online=True,
            source=push,
            tags={"owner": "golden"},
        )
        global_stats = FeatureView(
            name="global_stats",
            entities=[],
            schema=[Field(name="avg_daily_trips", dtype=Int64)],
            source=source,
        )
        request = RequestSource(name="vals_to_add", schema=[Field(name="val_to_add", dtype=Int64)])

        @on_demand_feature_view(
            sources=[driver_stats, request],
            schema=[Field(name="conv_rate_plus_val", dtype=Float64)],
            mode="python",
        )
        def transformed_conv_rate(inputs):
            return {
                "conv_rate_plus_val": [
                    c + v for c, v in zip(inputs["conv_rate"], inputs["val_to_add"])
                ]
            }

        service = FeatureService(
            name="driver_activity",
            features=[driver_stats[["conv_rate"]], transformed_conv_rate],
            description="golden service",
        )
        permission = Permission(
            name="readers",
            types=[FeatureView],
            policy=RoleBasedPolicy(roles=["reader"]),
            actions=[AuthzedAction.READ_ONLINE],
        )

        store = FeatureStore(repo_path=str(repo))
        store.apply([driver, source, push, request, driver_stats, global_stats,
                     transformed_conv_rate, service, permission])
        blob = (repo / "data" / "registry.db").read_bytes()

    (OUT / "registry.db").write_bytes(blob)
    print(f"registry.db: {len(blob)} bytes, feast {feast.__version__}", file=sys.stderr)


if __name__ == "__main__":
    write_descriptors()
    write_registry()
