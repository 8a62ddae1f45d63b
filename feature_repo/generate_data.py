"""Generate the small, deterministic parquet files behind the demo feature views.

Run from this directory:  python generate_data.py

Everything is derived from a fixed seed and fixed timestamps (2025-01-01 ..
2025-01-07 UTC), so re-running produces the same rows. Several rows exist per
entity over time (and a few share an event timestamp and differ only in the
`created` column) so that point-in-time joins and "latest row wins" logic during
materialization actually matter.

Deliberate oddities, so that tests cover them:
  * pipeline 3: latest pipeline_stats row has a NaN avg_execution_time and a
    null last_status.
  * pipeline 5: latest pipeline_stats row has a NaN failure_probability.
  * pipeline 7: two rows share the latest event timestamp; the one with the
    later `created` (is_active=False, last_status="cancelled") must win.
  * pipeline 9: latest pipeline_history row has empty arrays and a null
    retry_count.
  * pipeline 10: has no pipeline_history / latency rows at all.
  * pipelines 1 and 2: latest pipeline_latency rows have sub-second event
    timestamps (.123456 and .250). Feast's SQLite store truncates them to whole
    seconds; stores that keep a protobuf Timestamp (Redis) do not.
  * team "ml": latest team_stats row has a null on_call.
  * runner_pipeline_stats: (runner, pipeline) pairs (1,1) (1,2) (2,1) (2,3) (3,2)
    (3,4) exist, four rows each over the week; (1,2) and (2,1) are both present,
    so swapped key values read another row; pair (2,3): two rows share the
    latest event timestamp, the later `created` (runs + 100, "cancelled") wins;
    pair (3,4): latest last_result is null. (3,2) exists but (2,2) does not.
  * pipeline ids 1..10 exist; 999 never exists (use it for "unknown entity").
"""

import math
import os
import random
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20250101
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
DAYS = 7  # 2025-01-01 .. 2025-01-07
PIPELINE_IDS = list(range(1, 11))
TEAMS = ["platform", "data", "ml", "web"]
PIPELINE_TEAM = {pid: TEAMS[(pid - 1) % len(TEAMS)] for pid in PIPELINE_IDS}
STATUSES = ["success", "failed", "running", "cancelled"]


def ts(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


def write(name: str, rows: list, schema: pa.Schema) -> None:
    table = pa.Table.from_pylist(rows, schema=schema)
    path = os.path.join(DATA_DIR, name)
    pq.write_table(table, path, compression="snappy")
    print(f"wrote {len(rows):4d} rows to data/{name}")


TS = pa.timestamp("us", tz="UTC")


def pipeline_stats(rng: random.Random) -> None:
    rows = []
    for pid in PIPELINE_IDS:
        for day in range(DAYS):
            event = ts(day, hour=pid % 12, minute=5 * pid)
            errors = rng.randint(0, 20)
            rows.append(
                {
                    "pipeline_id": pid,
                    "avg_execution_time": round(rng.uniform(30.0, 900.0), 3),
                    "success_rate": round(rng.uniform(0.5, 1.0), 4),
                    "error_count": errors,
                    "failure_probability": round(rng.uniform(0.0, 0.5), 4),
                    "avg_memory_usage": round(rng.uniform(128.0, 8192.0), 2),
                    "cpu_utilization": round(rng.uniform(0.05, 0.99), 3),
                    "last_status": rng.choice(STATUSES[:3]),
                    "is_active": rng.random() < 0.8,
                    "event_timestamp": event,
                    "created": event + timedelta(minutes=1),
                }
            )
    last = {r["pipeline_id"]: r for r in rows}  # the latest row per pipeline
    last[3]["avg_execution_time"] = math.nan
    last[3]["last_status"] = None
    last[5]["failure_probability"] = math.nan
    # Same event timestamp, created later: this row must win for pipeline 7.
    dup = dict(last[7])
    dup.update(
        is_active=False,
        last_status="cancelled",
        error_count=last[7]["error_count"] + 1,
        created=last[7]["created"] + timedelta(hours=1),
    )
    rows.append(dup)
    schema = pa.schema(
        [
            ("pipeline_id", pa.int64()),
            ("avg_execution_time", pa.float64()),
            ("success_rate", pa.float32()),
            ("error_count", pa.int64()),
            ("failure_probability", pa.float32()),
            ("avg_memory_usage", pa.float64()),
            ("cpu_utilization", pa.float32()),
            ("last_status", pa.string()),
            ("is_active", pa.bool_()),
            ("event_timestamp", TS),
            ("created", TS),
        ]
    )
    write("pipeline_stats.parquet", rows, schema)


def pipeline_history(rng: random.Random) -> None:
    rows = []
    for pid in PIPELINE_IDS:
        if pid == 10:
            continue
        for day in (0, 3, 6):
            n = rng.randint(2, 5)
            event = ts(day, hour=6, minute=pid)
            rows.append(
                {
                    "pipeline_id": pid,
                    "recent_execution_times": [round(rng.uniform(10.0, 600.0), 2) for _ in range(n)],
                    "recent_error_counts": [rng.randint(0, 5) for _ in range(n)],
                    "recent_statuses": [rng.choice(STATUSES) for _ in range(n)],
                    "last_run_at": event - timedelta(minutes=rng.randint(1, 300), seconds=rng.randint(0, 59)),
                    "retry_count": rng.randint(0, 3),
                    "cpu_samples": [round(rng.uniform(0.0, 1.0), 3) for _ in range(n)],
                    "event_timestamp": event,
                    "created": event,
                }
            )
    last = {r["pipeline_id"]: r for r in rows}
    last[9].update(
        recent_execution_times=[],
        recent_error_counts=[],
        recent_statuses=[],
        cpu_samples=[],
        retry_count=None,
    )
    schema = pa.schema(
        [
            ("pipeline_id", pa.int64()),
            ("recent_execution_times", pa.list_(pa.float64())),
            ("recent_error_counts", pa.list_(pa.int64())),
            ("recent_statuses", pa.list_(pa.string())),
            ("last_run_at", TS),
            ("retry_count", pa.int32()),
            ("cpu_samples", pa.list_(pa.float32())),
            ("event_timestamp", TS),
            ("created", TS),
        ]
    )
    write("pipeline_history.parquet", rows, schema)


def team_stats(rng: random.Random) -> None:
    people = ["alice", "bob", "carol", "dave", "erin", "frank"]
    rows = []
    for i, team in enumerate(TEAMS):
        for day in (0, 2, 4, 6):
            event = ts(day, hour=9 + i)
            rows.append(
                {
                    "team_id": team,
                    "team_size": rng.randint(3, 15),
                    "budget_utilization": round(rng.uniform(0.1, 1.2), 4),
                    "on_call": rng.choice(people),
                    "event_timestamp": event,
                    "created": event,
                }
            )
    last = {r["team_id"]: r for r in rows}
    last["ml"]["on_call"] = None
    schema = pa.schema(
        [
            ("team_id", pa.string()),
            ("team_size", pa.int64()),
            ("budget_utilization", pa.float64()),
            ("on_call", pa.string()),
            ("event_timestamp", TS),
            ("created", TS),
        ]
    )
    write("team_stats.parquet", rows, schema)


def pipeline_team_stats(rng: random.Random) -> None:
    rows = []
    for pid in PIPELINE_IDS:
        # Each pipeline has its owning team plus, for even ids, a second team.
        teams = [PIPELINE_TEAM[pid]]
        if pid % 2 == 0:
            teams.append(TEAMS[pid % len(TEAMS)])
        for team in teams:
            for day in (1, 5):
                event = ts(day, hour=12, minute=pid)
                rows.append(
                    {
                        "pipeline_id": pid,
                        "team_id": team,
                        "ownership_score": round(rng.uniform(0.0, 1.0), 3),
                        "handoffs": rng.randint(0, 8),
                        "event_timestamp": event,
                        "created": event,
                    }
                )
    schema = pa.schema(
        [
            ("pipeline_id", pa.int64()),
            ("team_id", pa.string()),
            ("ownership_score", pa.float32()),
            ("handoffs", pa.int64()),
            ("event_timestamp", TS),
            ("created", TS),
        ]
    )
    write("pipeline_team_stats.parquet", rows, schema)


# (runner_id, pipeline_id) pairs of runner_pipeline_stats: both orders of (1, 2)
# and of (2, 3), so a key with its two values swapped is another row.
RUNNER_PIPELINES = [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 4)]
RESULTS = ["passed", "failed", "flaky"]


def runner_pipeline_stats(rng: random.Random) -> None:
    rows = []
    for runner, pid in RUNNER_PIPELINES:
        # Four rows per pair over the week, at pair-specific times (for
        # point-in-time joins later).
        for day in (0, 2, 4, 6):
            event = ts(day, hour=3 * runner, minute=7 * pid)
            rows.append(
                {
                    "runner_id": runner,
                    "pipeline_id": pid,
                    "queue_seconds": round(rng.uniform(0.5, 300.0), 2),
                    "runs": rng.randint(1, 40),
                    "last_result": rng.choice(RESULTS),
                    "event_timestamp": event,
                    "created": event,
                }
            )
    last = {(r["runner_id"], r["pipeline_id"]): r for r in rows}
    last[(3, 4)]["last_result"] = None
    # Same event timestamp, created later: this row must win for (2, 3).
    dup = dict(last[(2, 3)])
    dup.update(runs=last[(2, 3)]["runs"] + 100, last_result="cancelled", created=dup["created"] + timedelta(minutes=30))
    rows.append(dup)
    schema = pa.schema(
        [
            ("runner_id", pa.int64()),
            ("pipeline_id", pa.int64()),
            ("queue_seconds", pa.float64()),
            ("runs", pa.int64()),
            ("last_result", pa.string()),
            ("event_timestamp", TS),
            ("created", TS),
        ]
    )
    write("runner_pipeline_stats.parquet", rows, schema)


def platform_stats(rng: random.Random) -> None:
    rows = []
    for day in range(DAYS):
        event = ts(day, hour=23, minute=59)
        rows.append(
            {
                "total_pipelines": 8 + day // 2,
                "platform_load": round(rng.uniform(0.2, 0.95), 4),
                "event_timestamp": event,
                "created": event,
            }
        )
    schema = pa.schema(
        [
            ("total_pipelines", pa.int64()),
            ("platform_load", pa.float64()),
            ("event_timestamp", TS),
            ("created", TS),
        ]
    )
    write("platform_stats.parquet", rows, schema)


def pipeline_latency(rng: random.Random) -> None:
    # Column names differ from the feature names on purpose: the FileSource's
    # field_mapping renames exec_ms -> execution_ms, q_wait_ms -> queue_wait_ms,
    # and the timestamp column is called "ts".
    rows = []
    for pid in PIPELINE_IDS:
        if pid == 10:
            continue
        for day in (2, 5):
            event = ts(day, hour=18, minute=pid)
            rows.append(
                {
                    "pipeline_id": pid,
                    "exec_ms": rng.randint(1_000, 600_000),
                    "q_wait_ms": rng.randint(0, 60_000),
                    "ts": event,
                    "created": event,
                }
            )
    # Sub-second event timestamps on two latest rows, to exercise fractional
    # seconds in event_timestamps (micro- and millisecond precision).
    last = {r["pipeline_id"]: r for r in rows}
    last[1]["ts"] = last[1]["ts"] + timedelta(microseconds=123456)
    last[2]["ts"] = last[2]["ts"] + timedelta(milliseconds=250)
    schema = pa.schema(
        [
            ("pipeline_id", pa.int64()),
            ("exec_ms", pa.int64()),
            ("q_wait_ms", pa.int64()),
            ("ts", TS),
            ("created", TS),
        ]
    )
    write("pipeline_latency.parquet", rows, schema)


def main() -> None:
    os.makedirs(DATA_DIR, exist_ok=True)
    # One generator per file, so changing one table does not reshuffle the others.
    for i, gen in enumerate(
        [pipeline_stats, pipeline_history, team_stats, pipeline_team_stats, platform_stats, pipeline_latency,
         runner_pipeline_stats]
    ):
        gen(random.Random(SEED + i))


if __name__ == "__main__":
    main()
