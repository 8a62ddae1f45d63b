"""Extra on-demand feature views for the ODFV conformance run (conformance/test_odfv_repo.py).

Both modes, on the native and on the delegated path; generated into a copy of feature_repo/ at
test time, never applied to the demo repo itself.
"""

import numpy as np
import pandas as pd

from feast import FeatureService, Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Bool, Float64, Int64, String

from features import pipeline_history, pipeline_stats, risk_request, run_request


@on_demand_feature_view(
    sources=[pipeline_stats, run_request],
    schema=[
        Field(name="status_label", dtype=String),
        Field(name="rounded_avg", dtype=Float64),
        Field(name="error_bucket", dtype=Int64),
        Field(name="is_flaky", dtype=Bool),
        Field(name="times_ms", dtype=Array(Float64)),
    ],
    mode="python",
)
def pipeline_py_native(inputs: dict) -> dict:
    out = {"status_label": [], "rounded_avg": [], "error_bucket": [], "is_flaky": [], "times_ms": []}
    rows = zip(
        inputs["last_status"], inputs["avg_execution_time"], inputs["error_count"],
        inputs["success_rate"], inputs["execution_times"],
    )
    for status, avg, errors, rate, times in rows:
        if status is not None:
            out["status_label"].append(status.upper() + ":" + str(round(avg, 1)))
        else:
            out["status_label"].append("unknown")
        out["rounded_avg"].append(round(avg / 3, 2) if avg is not None else 0.0)
        out["error_bucket"].append(errors // 3 if errors is not None else -1)
        out["is_flaky"].append(rate is not None and rate < 0.6)
        out["times_ms"].append([t * 1000 for t in sorted(times)])
    return out


@on_demand_feature_view(
    sources=[pipeline_stats, run_request],
    schema=[Field(name="total_errors", dtype=Int64), Field(name="avg_time_s", dtype=Float64)],
    mode="python",
    singleton=True,
)
def pipeline_py_singleton(inputs: dict) -> dict:
    base = inputs["error_count"] if inputs["error_count"] is not None else 0
    avg = inputs["avg_execution_time"] if inputs["avg_execution_time"] is not None else 0.0
    return {"total_errors": sum(inputs["error_counts"]) + base, "avg_time_s": avg / 1000}


@on_demand_feature_view(
    sources=[pipeline_stats, run_request],
    schema=[Field(name="log_avg", dtype=Float64), Field(name="p90_time", dtype=Float64)],
    mode="python",
)
def pipeline_py_delegated(inputs: dict) -> dict:
    import math

    return {
        "log_avg": [math.log1p(a) if a is not None else None for a in inputs["avg_execution_time"]],
        "p90_time": [sorted(t)[int(0.9 * (len(t) - 1))] if t else 0.0 for t in inputs["execution_times"]],
    }


@on_demand_feature_view(
    sources=[pipeline_history],
    schema=[
        Field(name="history_len", dtype=Int64),
        Field(name="fail_ratio", dtype=Float64),
        Field(name="max_cpu", dtype=Float64),
    ],
    mode="python",
)
def pipeline_history_stats(inputs: dict) -> dict:
    return {
        "history_len": [len(t) if t is not None else 0 for t in inputs["recent_execution_times"]],
        "fail_ratio": [
            sum([1 for s in st if s == "failed"]) / len(st) if st else 0.0 for st in inputs["recent_statuses"]
        ],
        "max_cpu": [max(c) if c else 0.0 for c in inputs["cpu_samples"]],
    }


@on_demand_feature_view(
    sources=[pipeline_stats, risk_request],
    schema=[
        Field(name="load_score", dtype=Float64),
        Field(name="error_rate", dtype=Float64),
        Field(name="hot", dtype=Bool),
        Field(name="queue_x2", dtype=Int64),
    ],
    mode="pandas",
)
def pipeline_pd_native(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    cpu = inputs["cpu_utilization"].astype("float64")
    df["load_score"] = np.where(cpu > 0.5, cpu * 100, cpu.fillna(0) * 10) + inputs["queue_depth"] ** 2
    df["error_rate"] = inputs["error_count"] / (inputs["queue_depth"] + 1)
    df["hot"] = (cpu > 0.7) | (inputs["queue_depth"] >= 10)
    df["queue_x2"] = inputs["queue_depth"] * 2
    return df


@on_demand_feature_view(
    sources=[pipeline_stats, risk_request],
    schema=[Field(name="log_load", dtype=Float64), Field(name="clipped", dtype=Float64)],
    mode="pandas",
)
def pipeline_pd_delegated(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["log_load"] = np.log1p(inputs["avg_memory_usage"].astype("float64"))
    df["clipped"] = inputs["avg_execution_time"].astype("float64").clip(lower=100.0, upper=500.0).round(2)
    return df


odfv_mix = FeatureService(
    name="odfv_mix",
    features=[
        pipeline_stats[["error_count", "success_rate"]],
        pipeline_pd_native,
        pipeline_py_native[["status_label", "error_bucket"]],
    ],
)
