"""The repo `feast init` generates (template "local"), served by Feast and by us.

`feast init feast_init_repo` runs once per session in the temp dir (never committed); each
variant gets a copy of its feature_repo/ with the online store rewritten, then real
`feast apply` and `feast materialize-incremental <now, UTC>` (the template generates 15 days
of hourly rows ending at the current hour; the views' TTL is one day, so the incremental
window is the last day). Every request in cases_feast_init/ is sent to both servers and
compared like cases/ (rules (a)-(d) of test_online_features.py); cases listed in
cases_feast_init/allowed_501.txt (on-demand feature views) are xfail when we answer 501.

Goldens (server/testdata/golden/feast_init_<variant>/<case>.json, same format as
test_goldens.py): the template's data is random and relative to "now", so only answers
that cannot depend on it are kept: error answers, and 200 answers whose feature cells are
all null with the epoch timestamp (unknown drivers, the never-written label view).
Other cases are reported as skipped by the golden test.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Dict, Tuple

import pytest

import generated_stacks as gen
import harness
from conftest import selected_variants, update_golden
from harness import Answer, Case

CASES_DIR = harness.CONFORMANCE_DIR / "cases_feast_init"
CASES = harness.load_cases(CASES_DIR)
ALLOWED_501 = gen.read_allowed_501(CASES_DIR / "allowed_501.txt")
PROJECT = "feast_init_repo"
# redis_v2 is left out: entity-key serialization v2 is covered by cases/, and each variant
# costs three Feast processes (apply, materialize, serve).
INIT_VARIANTS = ("sqlite", "redis_v3")
HOW_TO_UPDATE = "regenerate with: UPDATE_GOLDEN=1 conformance/run.sh -k feast_init (and review the diff)"

_feast_answers: Dict[Tuple[str, str], Answer] = {}


def test_feast_init_corpus_is_well_formed():
    gen.check_corpus(CASES, ALLOWED_501, min_cases=15)


@pytest.fixture(scope="module")
def init_template(tmp_root: Path, base_env) -> Path:
    """`feast init` once: the generated feature_repo/ (data relative to now)."""
    work = tmp_root / "feast-init"
    work.mkdir(parents=True, exist_ok=True)
    harness.run_checked([gen.FEAST, "init", PROJECT], work, base_env, work / "feast-init.log")
    repo = work / PROJECT / "feature_repo"
    if not (repo / "feature_store.yaml").exists():
        raise harness.HarnessError(f"feast init did not create {repo}/feature_store.yaml")
    return repo


@pytest.fixture(scope="module", params=[v for v in INIT_VARIANTS if v in selected_variants()])
def init_stack(request, init_template: Path, tmp_root: Path, base_env, ours_mode: str, our_binary: str) -> gen.GenStack:
    def create(vdir: Path, env, logs) -> Path:
        repo = vdir / "repo"
        shutil.copytree(init_template, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return repo

    def prepare(repo: Path, env, logs, variant) -> None:
        feast = gen.feast_cmd(repo)
        harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        harness.run_checked(feast + ["materialize-incremental", now], repo, env, logs / "feast-materialize.log")

    return gen.build(
        request, "feast_init", request.param, tmp_root, base_env, ours_mode, our_binary,
        create, prepare, sqlite_path="data/online_store.db",
    )


def base_variant(gs: gen.GenStack) -> str:
    return gs.stack.variant[len("feast_init_"):]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_feast_init_same_answer(init_stack, case: Case, ours_mode):
    gen.check_case(init_stack, case, _feast_answers, ALLOWED_501, ours_mode)


# --------------------------------------------------------------------------
# Goldens of the answers that do not depend on the generated data


def data_independent(case: Case, answer: Answer) -> bool:
    """True when Feast's answer cannot depend on the random, now-relative template data."""
    if answer.status != 200:
        return True
    ok, body = answer.parsed()
    if not ok or not isinstance(body, dict):
        return False
    keys = set((case.json_body or {}).get("entities", {}) or {})
    names = body.get("metadata", {}).get("feature_names", [])
    for name, col in zip(names, body.get("results", [])):
        if name in keys:
            continue  # echoed from the request
        if any(v is not None for v in col.get("values", [])):
            return False
        if any(t != harness.EPOCH for t in col.get("event_timestamps", [])):
            return False
    return True


def golden_path(variant: str, case_name: str) -> Path:
    return harness.GOLDEN_DIR / f"feast_init_{variant}" / f"{case_name}.json"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_feast_init_golden(init_stack, case: Case):
    feast = gen.feast_answer(init_stack, case, _feast_answers)
    path = golden_path(base_variant(init_stack), case.name)
    rel = path.relative_to(harness.ROOT)
    if not data_independent(case, feast):
        if update_golden():
            path.unlink(missing_ok=True)
        elif path.exists():
            pytest.fail(f"stale golden {rel}: Feast's answer now depends on the generated data; {HOW_TO_UPDATE}")
        pytest.skip("Feast's answer depends on the data feast init generated (random, relative to now): no golden")
    doc = case.golden_doc(feast)
    if update_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    assert path.exists(), f"missing golden {rel}; {HOW_TO_UPDATE}"
    golden = json.loads(path.read_text())
    diffs = []
    if not harness.same_json(golden.get("request"), doc.get("request")):
        diffs.append("the case's request changed since the golden was written")
    if golden.get("status") != doc["status"]:
        diffs.append(f"status: golden {golden.get('status')}, Feast now {doc['status']}")
    elif doc["status"] == 200:
        groups = harness.column_groups(case.json_body, init_stack.stack.services)
        diffs += harness.compare_success(golden.get("body"), doc["body"], groups, redis_missing_rule=False)
    elif not harness.same_json(golden.get("body"), doc["body"]):
        diffs.append(f"body: golden {json.dumps(golden.get('body'))[:1000]}, Feast now {json.dumps(doc['body'])[:1000]}")
    assert not diffs, f"stale golden {rel}: Feast's current answer differs; {HOW_TO_UPDATE}\n  " + "\n  ".join(diffs)


def test_feast_init_no_orphan_goldens():
    """Golden files for cases that no longer exist are removed (update) or reported."""
    names = {c.name for c in CASES}
    orphans = []
    for variant in INIT_VARIANTS:
        for p in sorted((harness.GOLDEN_DIR / f"feast_init_{variant}").glob("*.json")):
            if p.stem not in names:
                if update_golden() and variant in selected_variants():
                    p.unlink()
                else:
                    orphans.append(str(p.relative_to(harness.ROOT)))
    assert not orphans, f"golden files without a case: {orphans}; {HOW_TO_UPDATE}"


# --------------------------------------------------------------------------
# Writes of Map, Json and Struct features (driver_hourly_stats_fresh)
#
# Both servers share the repo and its store, so each writes the same features for its own
# driver; the stored value bytes (SQLite) and Feast's own answers when reading the two
# drivers back must then be the same. The bodies are what Feast's remote online store sends
# (Map and Struct as json.dumps text, Json as its text, allow_registry_cache false).

FRESH_VIEW = "driver_hourly_stats_fresh"
FRESH_FEATURES = ("conv_rate", "acc_rate", "avg_daily_trips", "driver_metadata", "driver_config", "driver_profile")
WRITE_DRIVERS = {"feast": 9101, "ours": 9102}  # push: 9201 / 9202


def fresh_df(driver: int) -> Dict[str, list]:
    return {
        "driver_id": [driver, driver + 1000],
        "event_timestamp": ["2025-01-05T10:00:00", "2025-01-05T11:00:00"],
        "created": ["2025-01-05T10:00:01", "2025-01-05T11:00:01"],
        "conv_rate": [0.5, 0.25],
        "acc_rate": [0.75, None],
        "avg_daily_trips": [12, 3],
        "driver_metadata": [json.dumps({"rating": 4.5, "trips": 12, "zones": ["a", "b"], "home": {"lat": 1.5}}), None],
        "driver_config": [json.dumps({"max_trips": 5, "night": True}), "[1, 2]"],
        "driver_profile": [json.dumps({"name": "Ann", "age": "41"}), json.dumps({"name": "Bo", "age": None})],
    }


def _stored(repo: Path, project: str, drivers: List[int]) -> List[List[Tuple[str, bytes]]]:
    """(feature, value bytes) of each driver's rows in the SQLite store, in driver order."""
    import sqlite3

    con = sqlite3.connect(str(repo / "data" / "online_store.db"))
    try:
        rows = con.execute(f"SELECT entity_key, feature_name, value, event_ts FROM {project}_{FRESH_VIEW}").fetchall()
    finally:
        con.close()
    by_key: Dict[bytes, List[Tuple[str, bytes, Any]]] = {}
    for key, name, value, ts in rows:
        by_key.setdefault(bytes(key), []).append((name, bytes(value), ts))
    out = []
    for d in drivers:
        # Entity key v3 ends with the INT64 value, little-endian.
        match = [v for k, v in by_key.items() if k.endswith(d.to_bytes(8, "little", signed=True))]
        assert len(match) == 1, f"driver {d}: {len(match)} stored keys"
        out.append(sorted(match[0]))
    return out


def _feast_reads(gs: gen.GenStack, drivers: List[int]) -> List[Any]:
    """Feast's own /get-online-features answer for each driver's fresh features."""
    out = []
    for d in drivers:
        body = {"features": [f"{FRESH_VIEW}:{f}" for f in FRESH_FEATURES], "entities": {"driver_id": [d]}}
        a = harness.post(gs.stack.feast_url, "/get-online-features", json.dumps(body).encode())
        assert a.status == 200, a.for_report()
        out.append([(r.get("values"), r.get("statuses")) for r in a.parsed()[1]["results"][1:]])
    return out


@pytest.mark.parametrize("path", ["/write-to-online-store", "/push"])
def test_feast_init_writes_map_json_struct_like_feast(init_stack, path: str):
    ours = init_stack.check_ours()
    base = 9100 if path == "/write-to-online-store" else 9200
    drivers = {"feast": base + 1, "ours": base + 2}
    for side, url in (("feast", init_stack.stack.feast_url), ("ours", ours.url)):
        body: Dict[str, Any] = {"df": fresh_df(drivers[side]), "allow_registry_cache": False}
        if path == "/push":
            body["push_source_name"] = "driver_stats_push_source"
        else:
            body["feature_view_name"] = FRESH_VIEW
        a = harness.post(url, path, json.dumps(body).encode())
        assert a.status == 200, f"{side}: {a.for_report()}"
    pairs = [(drivers["feast"], drivers["ours"]), (drivers["feast"] + 1000, drivers["ours"] + 1000)]
    for f_driver, o_driver in pairs:
        fr, orr = _feast_reads(init_stack, [f_driver, o_driver])
        assert fr == orr, f"Feast reads different values for its write ({f_driver}) and ours ({o_driver}):\n{fr}\n{orr}"
        if base_variant(init_stack) == "sqlite":
            fs, os_ = _stored(init_stack.stack.repo, PROJECT, [f_driver, o_driver])
            # Map entries: Feast writes them in Python's hash order, which changes per process;
            # compare the decoded protos there, the bytes everywhere else.
            from feast.protos.feast.types.Value_pb2 import Value

            for (fn, fb, fts), (on, ob, ots) in zip(fs, os_):
                assert (fn, fts) == (on, ots)
                if fn in ("driver_metadata", "driver_profile"):
                    assert Value.FromString(fb) == Value.FromString(ob) and len(fb) == len(ob), fn
                else:
                    assert fb == ob, f"{fn}: Feast stored {fb.hex()}, we {ob.hex()}"


def test_feast_init_write_refuses_bad_map_like_feast(init_stack):
    """Map text that is not a JSON object: Feast fails (500); we answer 400 naming the column."""
    ours = init_stack.check_ours()
    df = fresh_df(9301)
    df["driver_metadata"] = ["[1, 2]", None]
    body = json.dumps({"feature_view_name": FRESH_VIEW, "df": df}).encode()
    f = harness.post(init_stack.stack.feast_url, "/write-to-online-store", body)
    o = harness.post(ours.url, "/write-to-online-store", body)
    assert f.status >= 400, f.for_report()
    assert o.status == 400 and "driver_metadata" in o.text, o.for_report()
