"""Feature definitions for the pipeline_monitoring demo repo.

A CI/CD pipeline-monitoring service: pipelines (INT64 ids) are owned by teams
(STRING ids); we keep per-pipeline run statistics, run history, per-team and
per-(pipeline, team) and per-(runner, pipeline) statistics, platform-wide (entityless) statistics, and two
on-demand transformations computed at request time.

The set deliberately covers what a drop-in feature server has to get right:
every scalar type, arrays, UnixTimestamp, push sources, composite-key views,
an entityless view, field mapping, projections with an alias and a join-key
map, and python- and pandas-mode on-demand feature views.
"""

from datetime import timedelta

import pandas as pd

from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    PushSource,
    RequestSource,
    ValueType,
)
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import (
    Array,
    Bool,
    Float32,
    Float64,
    Int32,
    Int64,
    String,
    UnixTimestamp,
)

# ---------------------------------------------------------------------------
# Entities

pipeline = Entity(
    name="pipeline",
    join_keys=["pipeline_id"],
    value_type=ValueType.INT64,
    description="A CI/CD pipeline.",
)

team = Entity(
    name="team",
    join_keys=["team_id"],
    value_type=ValueType.STRING,
    description="The team owning pipelines.",
)

runner = Entity(
    name="runner",
    join_keys=["runner_id"],
    value_type=ValueType.INT64,
    description="A CI runner machine that executes pipeline jobs.",
)

# ---------------------------------------------------------------------------
# Sources (paths are relative to this directory, i.e. the repo root)

pipeline_stats_source = FileSource(
    name="pipeline_stats_source",
    path="data/pipeline_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

pipeline_stats_push = PushSource(
    name="pipeline_stats_push",
    batch_source=pipeline_stats_source,
)

pipeline_history_source = FileSource(
    name="pipeline_history_source",
    path="data/pipeline_history.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

team_stats_source = FileSource(
    name="team_stats_source",
    path="data/team_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

pipeline_team_stats_source = FileSource(
    name="pipeline_team_stats_source",
    path="data/pipeline_team_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

runner_pipeline_stats_source = FileSource(
    name="runner_pipeline_stats_source",
    path="data/runner_pipeline_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

runner_pipeline_push = PushSource(
    name="runner_pipeline_push",
    batch_source=runner_pipeline_stats_source,
)

platform_stats_source = FileSource(
    name="platform_stats_source",
    path="data/platform_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

# Source columns are named differently from the features: field_mapping maps
# source column -> feature name.
pipeline_latency_source = FileSource(
    name="pipeline_latency_source",
    path="data/pipeline_latency.parquet",
    timestamp_field="ts",
    created_timestamp_column="created",
    field_mapping={"exec_ms": "execution_ms", "q_wait_ms": "queue_wait_ms"},
)

# ---------------------------------------------------------------------------
# Feature views

pipeline_stats = FeatureView(
    name="pipeline_stats",
    entities=[pipeline],
    ttl=timedelta(days=30),
    schema=[
        Field(name="avg_execution_time", dtype=Float64),
        Field(name="success_rate", dtype=Float32),
        Field(name="error_count", dtype=Int64),
        Field(name="failure_probability", dtype=Float32),
        Field(name="avg_memory_usage", dtype=Float64),
        Field(name="cpu_utilization", dtype=Float32),
        Field(name="last_status", dtype=String),
        Field(name="is_active", dtype=Bool),
    ],
    online=True,
    source=pipeline_stats_push,
    tags={"domain": "ci"},
)

pipeline_history = FeatureView(
    name="pipeline_history",
    entities=[pipeline],
    ttl=timedelta(days=30),
    schema=[
        Field(name="recent_execution_times", dtype=Array(Float64)),
        Field(name="recent_error_counts", dtype=Array(Int64)),
        Field(name="recent_statuses", dtype=Array(String)),
        Field(name="last_run_at", dtype=UnixTimestamp),
        Field(name="retry_count", dtype=Int32),
        Field(name="cpu_samples", dtype=Array(Float32)),
    ],
    online=True,
    source=pipeline_history_source,
)

# Short TTL on purpose: the data is from January 2025, so any read "now" is
# outside max age. Python Feast still serves it on the normal online path.
team_stats = FeatureView(
    name="team_stats",
    entities=[team],
    ttl=timedelta(days=2),
    schema=[
        Field(name="team_size", dtype=Int64),
        Field(name="budget_utilization", dtype=Float64),
        Field(name="on_call", dtype=String),
    ],
    online=True,
    source=team_stats_source,
)

pipeline_team_stats = FeatureView(
    name="pipeline_team_stats",
    entities=[pipeline, team],
    ttl=timedelta(days=30),
    schema=[
        Field(name="ownership_score", dtype=Float32),
        Field(name="handoffs", dtype=Int64),
    ],
    online=True,
    source=pipeline_team_stats_source,
)

# Composite key of two INT64 join keys, declared in the opposite order of their
# names (Feast serializes a key's parts sorted by join-key name): swapping the
# two values is a different, existing row, e.g. (runner 1, pipeline 2) and
# (runner 2, pipeline 1). Several rows per pair, spread over the week.
runner_pipeline_stats = FeatureView(
    name="runner_pipeline_stats",
    entities=[runner, pipeline],
    ttl=timedelta(days=30),
    schema=[
        Field(name="queue_seconds", dtype=Float64),
        Field(name="runs", dtype=Int64),
        Field(name="last_result", dtype=String),
    ],
    online=True,
    source=runner_pipeline_push,
)

# No entities: one row for the whole platform (Feast keys it by "__dummy").
platform_stats = FeatureView(
    name="platform_stats",
    entities=[],
    ttl=timedelta(days=30),
    schema=[
        Field(name="total_pipelines", dtype=Int64),
        Field(name="platform_load", dtype=Float64),
    ],
    online=True,
    source=platform_stats_source,
)

pipeline_latency = FeatureView(
    name="pipeline_latency",
    entities=[pipeline],
    ttl=timedelta(days=30),
    schema=[
        Field(name="execution_ms", dtype=Int64),
        Field(name="queue_wait_ms", dtype=Int64),
    ],
    online=True,
    source=pipeline_latency_source,
)

# ---------------------------------------------------------------------------
# On-demand feature views

run_request = RequestSource(
    name="run_request",
    schema=[
        Field(name="execution_times", dtype=Array(Float64)),
        Field(name="error_counts", dtype=Array(Int64)),
    ],
)


# Python mode, batch (singleton=False): every input is a list with one element
# per requested entity row. Only plain Python is used (zip, sum, len, max,
# comprehensions) so the body can run in an embedded interpreter.
#
# The passthroughs are declared Float64 although their inputs are Float32:
# `feast apply` infers python-mode output types from the UDF's result on sample
# inputs, and a plain Python float always infers as Float64 (Float32 would need
# numpy.float32 values), so declaring Float32 fails with
# SpecifiedFeaturesNotPresentError. At serving time the Float32 value is widened
# to a double (e.g. 0.8944f -> 0.8944000005722046).
@on_demand_feature_view(
    sources=[run_request, pipeline_stats],
    schema=[
        Field(name="recent_avg_execution_time", dtype=Float64),
        Field(name="max_recent_error_count", dtype=Int64),
        Field(name="success_rate_pt", dtype=Float64),
        Field(name="failure_probability_pt", dtype=Float64),
    ],
    mode="python",
    singleton=False,
)
def pipeline_realtime_metrics(inputs: dict) -> dict:
    return {
        "recent_avg_execution_time": [
            sum(times) / len(times) if times else avg
            for times, avg in zip(inputs["execution_times"], inputs["avg_execution_time"])
        ],
        "max_recent_error_count": [
            max(errors) if errors else 0 for errors in inputs["error_counts"]
        ],
        "success_rate_pt": [v for v in inputs["success_rate"]],
        "failure_probability_pt": [v for v in inputs["failure_probability"]],
    }


risk_request = RequestSource(
    name="risk_request",
    schema=[Field(name="queue_depth", dtype=Int64)],
)


@on_demand_feature_view(
    sources=[pipeline_stats, risk_request],
    schema=[Field(name="risk_score", dtype=Float64)],
    mode="pandas",
)
def pipeline_risk(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    errors = inputs["error_count"].astype("float64")
    df["risk_score"] = (
        inputs["failure_probability"].astype("float64") * 0.7
        + (errors / (errors + 10)) * 0.3
        + inputs["queue_depth"].astype("float64") * 0.01
    )
    return df


# ---------------------------------------------------------------------------
# Feature services

pipeline_overview = FeatureService(
    name="pipeline_overview",
    features=[
        pipeline_stats[["avg_execution_time", "success_rate", "error_count"]],
        pipeline_history,
    ],
)

# Projections: pipeline_stats under the alias "ps" (subset of features), and
# team_stats joined on the request column "owner_team" instead of "team_id".
pipeline_aliased = FeatureService(
    name="pipeline_aliased",
    features=[
        pipeline_stats.with_name("ps")[["avg_execution_time", "last_status", "is_active"]],
        team_stats.with_join_key_map({"team_id": "owner_team"}),
    ],
)

# A composite key with one join key renamed: the request names the upstream
# pipeline "upstream_pipeline_id".
runner_upstream = FeatureService(
    name="runner_upstream",
    features=[
        runner_pipeline_stats.with_join_key_map({"pipeline_id": "upstream_pipeline_id"})[["runs", "last_result"]],
    ],
)

pipeline_full = FeatureService(
    name="pipeline_full",
    features=[
        pipeline_stats,
        pipeline_history,
        team_stats,
        pipeline_team_stats,
        platform_stats,
        pipeline_latency,
    ],
)
