"""The committed point-in-time goldens (offlinestore/testdata/historical) are Feast's current answers.

Runs conformance/historical_goldens.py into a temp dir (the real `feast apply`, then
`get_historical_features` on every case with Feast's file, duckdb and postgres offline
stores; the generator starts its own PostgreSQL) and
checks that every case file and every repo file equals the committed one, so a change to
historical_repo.py or to the case list that was not followed by a regeneration fails here.
With UPDATE_GOLDEN=1 the generator writes straight into the committed folder instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from conftest import update_golden

GENERATOR = harness.CONFORMANCE_DIR / "historical_goldens.py"
GOLDEN = harness.ROOT / "offlinestore" / "testdata" / "historical"
HOW_TO_UPDATE = (
    'regenerate with: "$(scripts/feast-venv.sh)/bin/python" conformance/historical_goldens.py '
    "(or UPDATE_GOLDEN=1 conformance/run.sh -k historical_goldens) and review the diff"
)
MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def fresh(tmp_root: Path, base_env) -> Path:
    out = GOLDEN if update_golden() else tmp_root / "historical-goldens"
    log = tmp_root / "logs" / "historical-goldens.log"
    harness.run_checked([sys.executable, str(GENERATOR), "--out", str(out)], harness.ROOT, base_env, log, timeout=600)
    return out


def _first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: committed {json.dumps(a)[:300]}, Feast now {json.dumps(b)[:300]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'the fresh answer' if k not in a else 'the committed golden'}"
            d = _first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: committed {len(a)} items, Feast now {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: committed {json.dumps(a)[:300]}, Feast now {json.dumps(b)[:300]}"


def test_historical_cases_equal_feast(fresh: Path):
    committed = {p.name: p for p in sorted((GOLDEN / "cases").glob("*.json"))}
    now = {p.name: p for p in sorted((fresh / "cases").glob("*.json"))}
    diffs = []
    for name in sorted(set(committed) | set(now)):
        if name not in now:
            diffs.append(f"{name}: committed, but the generator has no such case")
        elif name not in committed:
            diffs.append(f"{name}: missing from {GOLDEN.relative_to(harness.ROOT)}/cases")
        else:
            d = _first_difference(json.loads(committed[name].read_text()), json.loads(now[name].read_text()))
            if d:
                diffs.append(f"{name}: {d}")
    assert now, "the generator wrote no cases"
    assert not diffs, "stale historical goldens; " + HOW_TO_UPDATE + "\n  " + "\n  ".join(diffs)


def test_historical_repo_equal_fresh_apply(fresh: Path):
    sys.path.insert(0, str(harness.CONFORMANCE_DIR))
    import historical_goldens

    diffs = []
    files = [("repo", rel) for rel in historical_goldens.REPO_FILES]
    files += [("repo_postgres", rel) for rel in historical_goldens.PG_REPO_FILES]
    for sub, rel in files:
        c, f = GOLDEN / sub / rel, fresh / sub / rel
        if not c.exists():
            diffs.append(f"{sub}/{rel}: not committed")
        elif rel == "data/registry.db":
            if not historical_goldens.registry_same(c, f, fresh / sub):
                diffs.append(f"{sub}/data/registry.db: objects differ from a fresh feast apply")
        elif c.read_bytes() != f.read_bytes():
            diffs.append(f"{sub}/{rel}: differs from the generator's")
    size = sum(p.stat().st_size for p in GOLDEN.rglob("*") if p.is_file())
    if size > MAX_BYTES:
        diffs.append(f"{GOLDEN.relative_to(harness.ROOT)} holds {size} bytes, over {MAX_BYTES}")
    assert not diffs, "stale historical golden repo; " + HOW_TO_UPDATE + "\n  " + "\n  ".join(diffs)
