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
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import harness

GOLDEN = harness.ROOT / "offlinestore" / "testdata" / "historical"
sys.path.insert(0, str(harness.CONFORMANCE_DIR))
import historical_goldens as hg  # noqa: E402

CASES = sorted((GOLDEN / "cases").glob("*.json"))


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
        return pd.Timestamp(want) == pd.Timestamp(got)
    return want == got


def _dtype_ok(want: str, got: str) -> bool:
    if want == got:
        return True
    if want.startswith("datetime64") and got.startswith("datetime64"):
        return want.endswith(", UTC]") and got.endswith(", UTC]")
    return want == "object" and got == "bool"


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_ours_equals_feast(case_path: Path, repo: Path, tmp_root: Path, our_binary: str, base_env: Dict[str, str]):
    import pandas as pd

    if not our_binary:
        pytest.skip("CONFORMANCE_OURS=feast: there is no Feast CLI for historical retrieval to compare")
    case = json.loads(case_path.read_text())
    req = case["request"]
    entity_df = hg.build_entity_df(req["entity_df"])
    work = tmp_root / "historical-ours" / case["name"]
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
    want = case["answers"]["duckdb"]
    if "error" in want:
        assert proc.returncode != 0, f"Feast raised {want['error']['class']}: {want['error']['message']}; we answered"
        assert not out.exists()
        return
    assert proc.returncode == 0, f"we failed where Feast answered:\n{proc.stderr[-3000:]}"
    ours = hg.attach_entity_rows(pd.read_parquet(out), entity_df)
    res = want["result"]
    assert ours["num_rows"] == len(entity_df), "one row per entity row"
    assert all(len(r) >= 1 for r in ours["entity_rows"])
    got_cols = {c["name"]: c for c in ours["columns"]}
    assert sorted(got_cols) == sorted(c["name"] for c in res["columns"]), (
        f"columns: ours {[c['name'] for c in ours['columns']]}, Feast {[c['name'] for c in res['columns']]}")
    # Our rows are in entity-frame order; Feast's answer is sorted by entity row the same way.
    by_entity = {tuple(r): j for j, r in enumerate(ours["entity_rows"])}
    problems: List[str] = []
    for col in res["columns"]:
        g = got_cols[col["name"]]
        if not _dtype_ok(col["dtype"], g["dtype"]):
            problems.append(f"{col['name']}: dtype ours {g['dtype']}, Feast {col['dtype']}")
        for j, v in enumerate(col["values"]):
            rows = res["entity_rows"][j]
            oj = by_entity.get(tuple(rows))
            if oj is None:
                # Our answer keeps duplicate entity rows apart only when they differ; find the first.
                oj = next(k for k, r in enumerate(ours["entity_rows"]) if rows[0] in r)
            if not _same(v, g["values"][oj], col["dtype"]):
                problems.append(f"entity rows {rows} {col['name']}: ours {g['values'][oj]!r}, Feast {v!r}")
    assert not problems, "\n".join(problems[:40])
