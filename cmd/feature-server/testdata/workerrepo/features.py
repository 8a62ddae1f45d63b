"""A repo whose python-mode ODFVs need Python: one the native engine cannot run (import math),
one that reads a bytes feature, and one that does not read it (native)."""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bytes, Float64, Int64

pipeline = Entity(name="pipeline", join_keys=["pipeline_id"], value_type=ValueType.INT64)

stats = FeatureView(
    name="stats",
    entities=[pipeline],
    ttl=timedelta(days=3650),
    schema=[Field(name="avg_ms", dtype=Float64), Field(name="blob", dtype=Bytes)],
    source=FileSource(name="stats_source", path="data/stats.parquet", timestamp_field="event_timestamp"),
    online=True,
)

runs = RequestSource(name="runs", schema=[Field(name="scale", dtype=Float64)])


@on_demand_feature_view(sources=[stats, runs], schema=[Field(name="root", dtype=Float64)], mode="python")
def py_math(inputs: dict) -> dict:
    import math

    return {"root": [math.sqrt(a) * s for a, s in zip(inputs["avg_ms"], inputs["scale"])]}


@on_demand_feature_view(sources=[stats], schema=[Field(name="blob_len", dtype=Int64)], mode="python")
def py_blob_len(inputs: dict) -> dict:
    return {"blob_len": [len(b) if b is not None else -1 for b in inputs["blob"]]}


@on_demand_feature_view(sources=[stats, runs], schema=[Field(name="scaled", dtype=Float64)], mode="python")
def py_blob_unread(inputs: dict) -> dict:
    return {"scaled": [a * s for a, s in zip(inputs["avg_ms"], inputs["scale"])]}
