"""Writes data/stats.parquet for the benchmark repo (100 pipelines, one row each)."""

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

Path("data").mkdir(exist_ok=True)
n = 100
pd.DataFrame(
    {
        "pipeline_id": list(range(1, n + 1)),
        "avg_ms": [100.0 + i * 1.25 for i in range(n)],
        "errors": [i % 7 for i in range(n)],
        "event_timestamp": [datetime(2025, 1, 1, tzinfo=timezone.utc)] * n,
    }
).to_parquet("data/stats.parquet")
