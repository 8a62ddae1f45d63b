"""Our get-historical-features against Feast 0.67.0's answers, case by case, dtypes included.

Every case of offlinestore/testdata/historical (Feast's own answers; test_historical_goldens.py
checks they are still Feast's) is run through our `feature-server get-historical-features`
on a copy of the golden repo: the entity frame goes in as the parquet pyarrow writes from the
pandas frame Feast was given, our answer is read back with pandas, and must equal Feast's
`duckdb` store's answer (the contract's semantics; the `file` store drops and merges rows,
see the goldens' README) row for row, cell for cell, with the same pandas dtypes, except:

* timestamp units: Feast's duckdb store gives datetime64[us, UTC]; we keep the unit of the
  frame (ns from pandas) and give us for parsed strings. The instants are equal.
* a Bool feature without a null: pandas reads our bool column as `bool`, Feast gives `object`.

Cases Feast refuses must be refused by us too (non-zero exit, no output file). Python-mode
ODFVs run in our Python worker here (the Go golden test skips the cases with NaN inputs that
the native path leaves to the worker), so this closes that gap.

test_ours_on_postgres_equals_feast_postgres runs the same cases over PostgreSQLSource tables
(repo_postgres, data.sql loaded into a PostgreSQL the fixture starts): ours with offline_store
type postgres against Feast's postgres offline store, live, on the same tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import pytest

import harness

GOLDEN = harness.ROOT / "offlinestore" / "testdata" / "historical"
sys.path.insert(0, str(harness.CONFORMANCE_DIR))
import historical_goldens as hg  # noqa: E402

ALL_CASES = sorted((GOLDEN / "cases").glob("*.json"))
# Entity-frame cases; range-mode cases (start_date/end_date, no entity_df) are RANGE_CASES.
CASES = [p for p in ALL_CASES if "entity_df" in json.loads(p.read_text())["request"]]
RANGE_CASES = [p for p in ALL_CASES if p not in CASES]


@pytest.fixture(scope="module")
def repo(tmp_root: Path) -> Path:
    dst = tmp_root / "historical-ours" / "repo"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(GOLDEN / "repo", dst)
    return dst


def _write_frame(df, path: Path) -> None:
    import pandas as pd

    try:
        df.to_parquet(path)
    except Exception:
        # Mixed-offset python datetimes in an object column: pyarrow cannot type them; send
        # them as the ISO strings they are, which our parser reads with their own offsets.
        df = df.copy()
        for c in df.columns:
            if df[c].dtype == object and any(hasattr(v, "isoformat") for v in df[c]):
                df[c] = [None if v is None else pd.Timestamp(v).isoformat() for v in df[c]]
        df.to_parquet(path)


def _same(want: Any, got: Any, dtype: str) -> bool:
    if isinstance(want, dict) and want.get("$") in ("NaN", "NaT", "NA"):
        return got is None or (isinstance(got, dict) and got.get("$") in ("NaN", "NaT", "NA"))
    if isinstance(got, dict) and got.get("$") == "NaN":
        return want is None
    if isinstance(want, float) and isinstance(got, (int, float)):
        if dtype == "float32":
            import numpy as np
            return np.float32(want) == np.float32(got)
        return want == float(got)
    if isinstance(want, str) and dtype.startswith("datetime64") and isinstance(got, str):
        import pandas as pd
        w = pd.Timestamp(want)
        if w.tzinfo is None:  # a naive answer (Feast's postgres store) is the UTC wall clock
            w = w.tz_localize("UTC")
        return w == pd.Timestamp(got)
    return want == got


def _dtype_ok(want: str, got: str) -> bool:
    if want == got:
        return True
    if want.startswith("datetime64") and got.startswith("datetime64"):
        # Feast's postgres store gives naive UTC wall clocks; ours stay UTC-aware.
        return got.endswith(", UTC]") and (want.endswith(", UTC]") or "," not in want)
    return want == "object" and got == "bool"


def _run_ours(repo: Path, case: Dict[str, Any], work: Path, our_binary: str, base_env: Dict[str, str]):
    """Our `get-historical-features` on the case: (process, output path, entity frame)."""
    req = case["request"]
    entity_df = hg.build_entity_df(req["entity_df"])
    work.mkdir(parents=True, exist_ok=True)
    ents, out = work / "entities.parquet", work / "out.parquet"
    out.unlink(missing_ok=True)
    _write_frame(entity_df, ents)
    argv = [our_binary, "-c", str(repo), "get-historical-features", "--entities", str(ents), "--output", str(out)]
    if req.get("feature_service"):
        argv += ["--feature-service", req["feature_service"]]
    else:
        argv += ["--features", ",".join(req["features"])]
    if req.get("full_feature_names"):
        argv.append("--full-feature-names")
    env = dict(base_env)
    env["PATH"] = str(Path(sys.executable).parent) + ":" + env.get("PATH", "")
    proc = subprocess.run(argv, cwd=str(work), env=env, capture_output=True, text=True, timeout=300)
    return proc, out, entity_df


def _check_answer(want: Dict[str, Any], proc, out: Path, entity_df) -> None:
    """Ours equals Feast's answer `want` ({"result": ...} or {"error": ...}) row for row.

    An entity row Feast returns more than once (its postgres store on a full tie) is matched
    when our one row equals any of Feast's."""
    import pandas as pd

    if "error" in want:
        assert proc.returncode != 0, f"Feast raised {want['error']['class']}: {want['error']['message']}; we answered"
        assert not out.exists()
        return
    assert proc.returncode == 0, f"we failed where Feast answered:\n{proc.stderr[-3000:]}"
    ours = hg.attach_entity_rows(pd.read_parquet(out), entity_df)
    res = want["result"]
    assert ours["num_rows"] == len(entity_df), "one row per entity row"
    assert all(len(r) >= 1 for r in ours["entity_rows"])
    assert not ours["missing_entity_rows"], f"entity rows missing from our answer: {ours['missing_entity_rows']}"
    got_cols = {c["name"]: c for c in ours["columns"]}
    assert sorted(got_cols) == sorted(c["name"] for c in res["columns"]), (
        f"columns: ours {[c['name'] for c in ours['columns']]}, Feast {[c['name'] for c in res['columns']]}")
    problems: List[str] = []
    for col in res["columns"]:
        g = got_cols[col["name"]]
        if not _dtype_ok(col["dtype"], g["dtype"]):
            problems.append(f"{col['name']}: dtype ours {g['dtype']}, Feast {col['dtype']}")
    # Feast's candidate rows per entity row; ours must equal one of them in every column.
    candidates: Dict[int, List[int]] = {}
    for j, rows in enumerate(res["entity_rows"]):
        for er in rows:
            candidates.setdefault(er, []).append(j)
    for oj, rows in enumerate(ours["entity_rows"]):
        for er in rows:
            if er not in candidates:
                problems.append(f"entity row {er}: Feast returned no row for it")
                continue
            first: List[str] = []
            for k, j in enumerate(candidates[er]):
                diffs = [f"entity row {er} {col['name']}: ours {got_cols[col['name']]['values'][oj]!r}, Feast {col['values'][j]!r}"
                         for col in res["columns"]
                         if not _same(col["values"][j], got_cols[col["name"]]["values"][oj], col["dtype"])]
                if not diffs:
                    first = []
                    break
                if k == 0:
                    first = diffs
            problems += first
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_ours_equals_feast(case_path: Path, repo: Path, tmp_root: Path, our_binary: str, base_env: Dict[str, str]):
    if not our_binary:
        pytest.skip("CONFORMANCE_OURS=feast: there is no Feast CLI for historical retrieval to compare")
    case = json.loads(case_path.read_text())
    proc, out, entity_df = _run_ours(repo, case, tmp_root / "historical-ours" / case["name"], our_binary, base_env)
    _check_answer(case["answers"]["duckdb"], proc, out, entity_df)


# --------------------------------------------------------------------------
# The same cases over PostgreSQLSource tables, judged live by Feast's postgres offline store.

@pytest.fixture(scope="module")
def pg_repo(tmp_root: Path, base_env: Dict[str, str]):
    """repo_postgres copied, data.sql loaded into a PostgreSQL of its own, and a FeatureStore
    (Feast's postgres offline store) over it."""
    from feast import FeatureStore

    from conftest import services_sh

    # The postgres user must traverse the data dir's parents: a dir of its own, 0755.
    services = Path(tempfile.mkdtemp(prefix="conformance-pg."))
    services.chmod(0o755)
    env = dict(base_env, SERVICES_DIR=str(services))
    port = harness.free_port()
    log = tmp_root / "historical-ours-pg" / "services.log"
    try:
        services_sh(env, log, "postgres-start", str(port))
        dst = tmp_root / "historical-ours-pg" / "repo"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(GOLDEN / "repo_postgres", dst)
        yml = dst / "feature_store.yaml"
        text = yml.read_text()
        assert "  port: 5432\n" in text
        yml.write_text(text.replace("  port: 5432\n", f"  port: {port}\n"))
        hg.load_postgres(port, (dst / "data.sql").read_text())
        os.environ.setdefault("FEAST_USAGE", "False")
        yield dst, FeatureStore(repo_path=str(dst))
    finally:
        services_sh(env, log, "postgres-stop", str(port))
        shutil.rmtree(services, ignore_errors=True)


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_ours_on_postgres_equals_feast_postgres(case_path: Path, pg_repo, tmp_root: Path, our_binary: str,
                                               base_env: Dict[str, str]):
    """Ours with offline_store type postgres against Feast's postgres offline store, both on the
    same tables. Where Feast's postgres store refuses input its duckdb store answers (timestamps
    as strings or mixed-offset datetimes), ours answers as duckdb does (the committed golden);
    Feast's naive entity timestamps are UTC instants, ours stay tz-aware (docs/compatibility.md)."""
    if not our_binary:
        pytest.skip("CONFORMANCE_OURS=feast: there is no Feast CLI for historical retrieval to compare")
    repo, store = pg_repo
    case = json.loads(case_path.read_text())
    spec = {k: case["request"][k] for k in ("features", "feature_service", "full_feature_names") if k in case["request"]}
    spec["entity_df"] = case["request"]["entity_df"]
    want = hg.run_case(store, spec)
    if "error" in want and "result" in case["answers"]["duckdb"]:
        want = case["answers"]["duckdb"]
    proc, out, entity_df = _run_ours(repo, case, tmp_root / "historical-ours-pg" / case["name"], our_binary, base_env)
    _check_answer(want, proc, out, entity_df)


# --------------------------------------------------------------------------
# Range mode: get_historical_features(entity_df=None, start_date=, end_date=), our CLI's
# --start-date/--end-date. Each engine answers as the Feast store it stands in for: parquet as
# the `file` store (the committed golden), PostgreSQL as the `postgres` store (live), the same
# columns in the same order, the same dtypes, the same rows (sorted: row order is the store's).

def _run_ours_range(repo: Path, case: Dict[str, Any], work: Path, our_binary: str, base_env: Dict[str, str]):
    req = case["request"]
    work.mkdir(parents=True, exist_ok=True)
    out = work / "out.parquet"
    out.unlink(missing_ok=True)
    argv = [our_binary, "-c", str(repo), "get-historical-features", "--output", str(out)]
    if req.get("start_date") is not None:
        argv += ["--start-date", req["start_date"]]
    argv += ["--end-date", req["end_date"]]
    if req.get("feature_service"):
        argv += ["--feature-service", req["feature_service"]]
    else:
        argv += ["--features", ",".join(req["features"])]
    if req.get("full_feature_names"):
        argv.append("--full-feature-names")
    env = dict(base_env)
    env["PATH"] = str(Path(sys.executable).parent) + ":" + env.get("PATH", "")
    return subprocess.run(argv, cwd=str(work), env=env, capture_output=True, text=True, timeout=300), out


def _check_range_answer(want: Dict[str, Any], proc, out: Path) -> None:
    import pandas as pd

    if "error" in want:
        assert proc.returncode != 0, f"Feast raised {want['error']['class']}: {want['error']['message']}; we answered"
        assert not out.exists()
        return
    assert proc.returncode == 0, f"we failed where Feast answered:\n{proc.stderr[-3000:]}"
    ours, res = hg.sorted_result(pd.read_parquet(out)), want["result"]
    assert [c["name"] for c in ours["columns"]] == [c["name"] for c in res["columns"]]
    assert [c["dtype"] for c in ours["columns"]] == [c["dtype"] for c in res["columns"]]
    assert ours == res


@pytest.mark.parametrize("case_path", RANGE_CASES, ids=[p.stem for p in RANGE_CASES])
def test_range_ours_equals_feast_file(case_path: Path, repo: Path, tmp_root: Path, our_binary: str, base_env: Dict[str, str]):
    if not our_binary:
        pytest.skip("CONFORMANCE_OURS=feast: there is no Feast CLI for historical retrieval to compare")
    case = json.loads(case_path.read_text())
    proc, out = _run_ours_range(repo, case, tmp_root / "historical-ours-range" / case["name"], our_binary, base_env)
    _check_range_answer(case["answers"]["file"], proc, out)


@pytest.mark.parametrize("case_path", RANGE_CASES, ids=[p.stem for p in RANGE_CASES])
def test_range_ours_on_postgres_equals_feast_postgres(case_path: Path, pg_repo, tmp_root: Path, our_binary: str,
                                                      base_env: Dict[str, str]):
    if not our_binary:
        pytest.skip("CONFORMANCE_OURS=feast: there is no Feast CLI for historical retrieval to compare")
    repo, store = pg_repo
    case = json.loads(case_path.read_text())
    want = hg.run_case(store, dict(case["request"]))
    proc, out = _run_ours_range(repo, case, tmp_root / "historical-ours-range-pg" / case["name"], our_binary, base_env)
    _check_range_answer(want, proc, out)
