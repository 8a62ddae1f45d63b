"""Golden files of Feast's answers, for Go unit tests that replay them without Python.

Layout (server/testdata/golden/):
  <variant>/<case>.json   {"request": <body as in the case>, "status": N, "body": <parsed JSON or raw text>}
                          ("expect": "refused" when ours deliberately answers 400 to Feast's 200)
  sqlite/repo/            feature_store.yaml, data/registry.db, data/online.db as Feast produced them

With UPDATE_GOLDEN=1 the files are (re)written from Feast's answers. Without it, every
golden must equal Feast's current answer (modulo within-view column order), else the
test fails as "stale golden".
"""

from __future__ import annotations

import json
import shutil

import pytest

import harness
from conftest import VARIANTS, selected_variants, update_golden
from test_online_features import CASES, feast_answer

HOW_TO_UPDATE = "regenerate with: UPDATE_GOLDEN=1 conformance/run.sh (and review the diff)"


def golden_path(variant: str, case_name: str):
    return harness.GOLDEN_DIR / variant / f"{case_name}.json"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden(stack, case, feast_answers):
    feast = feast_answer(stack, case, feast_answers)
    path = golden_path(stack.variant, case.name)
    doc = case.golden_doc(feast)
    if update_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    assert path.exists(), f"missing golden {path.relative_to(harness.ROOT)}; {HOW_TO_UPDATE}"
    golden = json.loads(path.read_text())
    diffs = []
    for k in ("request", "method", "path", "headers", "expect"):
        if not harness.same_json(golden.get(k), doc.get(k)):
            diffs.append(f"the case's {k} changed since the golden was written")
    if golden.get("status") != doc["status"]:
        diffs.append(f"status: golden {golden.get('status')}, Feast now {doc['status']}")
    elif doc["status"] == 200 and case.path == "/get-online-features":
        groups = harness.column_groups(case.json_body, stack.services)
        diffs += harness.compare_success(golden.get("body"), doc["body"], groups, redis_missing_rule=False)
    elif not harness.same_json(golden.get("body"), doc["body"]):
        diffs.append(f"body: golden {json.dumps(golden.get('body'))[:1000]}, Feast now {json.dumps(doc['body'])[:1000]}")
    assert not diffs, (
        f"stale golden {path.relative_to(harness.ROOT)}: Feast's current answer differs; {HOW_TO_UPDATE}\n  "
        + "\n  ".join(diffs)
    )


def test_no_orphan_goldens():
    """Golden files for cases that no longer exist are removed (update) or reported."""
    names = {c.name for c in CASES}
    orphans = []
    for variant in VARIANTS:
        d = harness.GOLDEN_DIR / variant
        for p in sorted(d.glob("*.json")):
            if p.stem not in names:
                if update_golden() and variant in selected_variants():
                    p.unlink()
                else:
                    orphans.append(str(p.relative_to(harness.ROOT)))
    assert not orphans, f"golden files without a case: {orphans}; {HOW_TO_UPDATE}"


REPO_FILES = ("feature_store.yaml", "data/registry.db", "data/online.db")


def repo_state_diffs(golden_repo, fresh_repo):
    missing = [rel for rel in REPO_FILES if not (golden_repo / rel).exists()]
    if missing:
        return [f"missing {missing} under {golden_repo.relative_to(harness.ROOT)}"]
    diffs = []
    if (golden_repo / "feature_store.yaml").read_text() != (fresh_repo / "feature_store.yaml").read_text():
        diffs.append("feature_store.yaml differs")
    diffs += harness.diff_registry_objects(
        harness.registry_objects(golden_repo / "data" / "registry.db", [str(golden_repo)]),
        harness.registry_objects(fresh_repo / "data" / "registry.db", [str(fresh_repo)]),
    )
    if harness.sqlite_rows(golden_repo / "data" / "online.db") != harness.sqlite_rows(fresh_repo / "data" / "online.db"):
        diffs.append("data/online.db rows differ from a fresh feast apply + materialize")
    return diffs


@pytest.mark.only_variant("sqlite")
def test_golden_sqlite_repo_state(stack):
    """The sqlite repo copy under golden/sqlite/repo matches what Feast produces now.

    Updating rewrites it only when it differs (registry.db gets new ids and timestamps on
    every apply, which would otherwise churn the committed file).
    """
    dst = harness.GOLDEN_DIR / "sqlite" / "repo"
    diffs = repo_state_diffs(dst, stack.repo)
    if update_golden():
        if diffs:
            if dst.exists():
                shutil.rmtree(dst)
            for rel in REPO_FILES:
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(stack.repo / rel, dst / rel)
        return
    assert not diffs, "stale golden repo state; " + HOW_TO_UPDATE + "\n  " + "\n  ".join(diffs)
