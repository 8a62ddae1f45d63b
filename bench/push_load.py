"""Push load: POST /push frames of ROWS rows to a feature server for SECONDS.

    python bench/push_load.py URL ROWS SECONDS [THREADS]

Run with the Feast venv's Python (it has requests and pandas), against our
server or `feast serve` on the same repo (feature_repo's push source
pipeline_stats_push, to=online). Every row is a pipeline id not written
before, so the store's event-time dedup skips nothing. Prints one line: requests, rows, seconds,
rows/s, p50 and p99 request latency, and the number of non-200 answers.
"""

import json
import sys
import threading
import time
from datetime import datetime, timezone

import requests

URL, ROWS, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
THREADS = int(sys.argv[4]) if len(sys.argv) > 4 else 1
BASE = datetime(2025, 3, 1, tzinfo=timezone.utc)


TS = BASE.isoformat()
# Every column but the ids is the same in every frame: encode it once.
REST = json.dumps({
    "avg_execution_time": [100.0 + i % 50 for i in range(ROWS)],
    "success_rate": [0.9] * ROWS,
    "error_count": [i % 7 for i in range(ROWS)],
    "failure_probability": [0.05] * ROWS,
    "avg_memory_usage": [512.5] * ROWS,
    "cpu_utilization": [0.4] * ROWS,
    "last_status": ["ok"] * ROWS,
    "is_active": [True] * ROWS,
    "event_timestamp": [TS] * ROWS,
    "created": [TS] * ROWS,
})[1:-1]


def frame(seq: int, worker: int) -> bytes:
    """A frame of ROWS entities never written before (so the store's
    event-time dedup skips nothing): ids worker*1e9 + seq*ROWS + i."""
    first = worker * 1_000_000_000 + seq * ROWS
    ids = ",".join(map(str, range(first, first + ROWS)))
    return ('{"push_source_name":"pipeline_stats_push","to":"online","df":{"pipeline_id":[' + ids + "]," + REST + "}}").encode()


lat, bad, lock = [], [0], threading.Lock()


def worker(w: int, deadline: float) -> None:
    s = requests.Session()
    seq = 0
    # Each body is built before its request's clock starts: the latencies
    # measure the server, not the client's JSON encoding.
    while time.perf_counter() < deadline:
        seq += 1
        body = frame(seq, w)
        t0 = time.perf_counter()
        r = s.post(URL, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        dt = time.perf_counter() - t0
        with lock:
            lat.append(dt)
            if r.status_code != 200:
                bad[0] += 1
                if bad[0] == 1:
                    print(f"first error: {r.status_code} {r.text[:300]}", file=sys.stderr)


start = time.perf_counter()
ts = [threading.Thread(target=worker, args=(w, start + SECONDS)) for w in range(THREADS)]
for t in ts:
    t.start()
for t in ts:
    t.join()
elapsed = time.perf_counter() - start
lat.sort()
n = len(lat)
rows = (n - bad[0]) * ROWS
p = lambda q: lat[min(n - 1, int(q * n))] * 1000 if n else float("nan")
print(f"requests={n} rows={rows} seconds={elapsed:.1f} rows_per_s={rows / elapsed:.0f} "
      f"server_rows_per_s={rows / sum(lat) * THREADS:.0f} p50_ms={p(0.5):.1f} p99_ms={p(0.99):.1f} errors={bad[0]}")
