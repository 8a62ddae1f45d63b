"""A minimal repo for the ODFV latency benchmark: one entity, two source features, two
request fields, and the same computation as a python-mode and as a pandas-mode ODFV."""

from datetime import timedelta

import pandas as pd

from feast import Entity, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Float64, Int64

pipeline = Entity(name="pipeline", join_keys=["pipeline_id"], value_type=ValueType.INT64)

stats_source = FileSource(name="stats_source", path="data/stats.parquet", timestamp_field="event_timestamp")

stats = FeatureView(
    name="stats",
    entities=[pipeline],
    ttl=timedelta(days=3650),
    schema=[Field(name="avg_ms", dtype=Float64), Field(name="errors", dtype=Int64)],
    source=stats_source,
    online=True,
)

runs = RequestSource(
    name="runs",
    schema=[Field(name="times", dtype=Array(Float64)), Field(name="errs", dtype=Array(Int64))],
)


@on_demand_feature_view(
    sources=[stats, runs],
    schema=[Field(name="recent_avg", dtype=Float64), Field(name="max_err", dtype=Int64)],
    mode="python",
)
def bench_python(inputs: dict) -> dict:
    return {
        "recent_avg": [sum(t) / len(t) if t else a for t, a in zip(inputs["times"], inputs["avg_ms"])],
        "max_err": [max(max(e), n) if e else n for e, n in zip(inputs["errs"], inputs["errors"])],
    }


@on_demand_feature_view(
    sources=[stats, runs],
    schema=[Field(name="score", dtype=Float64)],
    mode="pandas",
)
def bench_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["score"] = inputs["avg_ms"] * 0.5 + inputs["errors"].astype("float64") * 2
    return df
