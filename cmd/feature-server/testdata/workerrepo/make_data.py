"""Writes data/stats.parquet."""

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

if __name__ == "__main__":  # feast apply imports every file of the repo
    Path("data").mkdir(exist_ok=True)
    ts = datetime(2025, 1, 1, tzinfo=timezone.utc)
    pd.DataFrame(
        {
            "pipeline_id": [1, 2, 3],
            "avg_ms": [2.0, 10.5, 0.25],
            "blob": [b"\x00\x01\x02", b"", b"feast"],
            "event_timestamp": [ts, ts, ts],
        }
    ).to_parquet("data/stats.parquet")
