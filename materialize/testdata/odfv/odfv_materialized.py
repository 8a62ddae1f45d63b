"""Test-only: ODFVs written to the online store by materialization (conformance/test_odfv_materialize.py)."""

import pandas as pd
from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String

from features import pipeline, pipeline_latency, pipeline_stats

mat_request = RequestSource(name="mat_request", schema=[Field(name="mat_depth", dtype=Int64)])


@on_demand_feature_view(
    sources=[pipeline_stats],
    schema=[
        Field(name="risk_x2", dtype=Float64),
        Field(name="status_upper", dtype=String),
        Field(name="errors_plus_one", dtype=Int64),
    ],
    entities=[pipeline],
    mode="python",
    write_to_online_store=True,
)
def mat_py(inputs: dict) -> dict:
    return {
        "risk_x2": [v * 2 for v in inputs["failure_probability"]],
        "status_upper": [s.upper() if s else "NONE" for s in inputs["last_status"]],
        "errors_plus_one": [e + 1 for e in inputs["error_count"]],
    }


@on_demand_feature_view(
    sources=[pipeline_stats],
    schema=[Field(name="log_errors", dtype=Float64)],
    entities=[pipeline],
    mode="python",
    write_to_online_store=True,
)
def mat_py_module(inputs: dict) -> dict:
    import math

    return {"log_errors": [math.log1p(e) for e in inputs["error_count"]]}


@on_demand_feature_view(
    sources=[pipeline_stats],
    schema=[
        Field(name="load", dtype=Float64),
        Field(name="errors_x3", dtype=Int64),
    ],
    entities=[pipeline],
    mode="pandas",
    write_to_online_store=True,
)
def mat_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["load"] = inputs["avg_execution_time"] * inputs["cpu_utilization"].astype("float64")
    df["errors_x3"] = inputs["error_count"] * 3
    return df


@on_demand_feature_view(
    sources=[pipeline_stats, mat_request],
    schema=[Field(name="errors_deep", dtype=Int64)],
    entities=[pipeline],
    mode="python",
    write_to_online_store=True,
)
def mat_py_request(inputs: dict) -> dict:
    depth = inputs.get("mat_depth") or [0] * len(inputs["error_count"])
    return {"errors_deep": [e + d for e, d in zip(inputs["error_count"], depth)]}


@on_demand_feature_view(
    sources=[pipeline_stats, pipeline_latency],
    schema=[Field(name="mixed", dtype=Float64)],
    entities=[pipeline],
    mode="pandas",
    write_to_online_store=True,
)
def mat_two_timestamps(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["mixed"] = inputs["avg_execution_time"] + inputs["execution_ms"].astype("float64")
    return df
