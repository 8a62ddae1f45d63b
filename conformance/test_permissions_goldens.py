"""The committed permission goldens (permissions/testdata) are Feast's current decisions.

Runs conformance/permissions_goldens.py into a temp dir (the real `feast apply`, then Feast's
own enforce_policy over the users x resources x actions matrix) and checks that
decisions.json and the repo files equal the committed ones, so a change to the generator's
repo or matrix, or a Feast upgrade that decides differently, fails here. The Go test
permissions.TestDecisionsEqualFeast checks our decisions against the committed file.
With UPDATE_GOLDEN=1 the generator writes straight into the committed folder instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import harness
from conftest import update_golden

GENERATOR = harness.CONFORMANCE_DIR / "permissions_goldens.py"
GOLDEN = harness.ROOT / "permissions" / "testdata"
HOW_TO_UPDATE = (
    'regenerate with: "$(scripts/feast-venv.sh)/bin/python" conformance/permissions_goldens.py '
    "(or UPDATE_GOLDEN=1 conformance/run.sh -k permissions_goldens) and review the diff"
)


@pytest.fixture(scope="module")
def fresh(tmp_root: Path, base_env) -> Path:
    out = GOLDEN if update_golden() else tmp_root / "permissions-goldens"
    log = tmp_root / "logs" / "permissions-goldens.log"
    harness.run_checked([sys.executable, str(GENERATOR), "--out", str(out)], harness.ROOT, base_env, log, timeout=600)
    return out


def test_permission_decisions_equal_feast(fresh: Path):
    committed = json.loads((GOLDEN / "decisions.json").read_text())
    now = json.loads((fresh / "decisions.json").read_text())
    assert now["cells"], "the generator wrote no cells"
    if committed == now:
        return
    key = lambda c: (c["user"], c["resource"]["type"], c["resource"]["name"], tuple(c["actions"]))  # noqa: E731
    old = {key(c): c for c in committed.get("cells", [])}
    new = {key(c): c for c in now["cells"]}
    diffs = [f"{k}: only in the fresh answer" for k in new if k not in old]
    diffs += [f"{k}: only in the committed golden" for k in old if k not in new]
    diffs += [f"{k}: committed {old[k]}, Feast now {new[k]}" for k in new if k in old and old[k] != new[k]]
    if committed.get("no_permissions") != now.get("no_permissions"):
        diffs.append("no_permissions section differs")
    if not diffs:
        diffs.append("header (format, project, users) differs")
    assert not diffs, "stale permission goldens; " + HOW_TO_UPDATE + "\n  " + "\n  ".join(diffs[:20])


def test_permission_repo_equal_fresh_apply(fresh: Path):
    sys.path.insert(0, str(harness.CONFORMANCE_DIR))
    import permissions_goldens

    diffs = []
    for rel in permissions_goldens.REPO_FILES:
        c, f = GOLDEN / "repo" / rel, fresh / "repo" / rel
        if not c.exists():
            diffs.append(f"repo/{rel}: not committed")
        elif rel == "data/registry.db":
            if not permissions_goldens.same_objects(c, f):
                diffs.append("repo/data/registry.db: objects differ from a fresh feast apply")
        elif c.read_bytes() != f.read_bytes():
            diffs.append(f"repo/{rel}: differs from the generator's")
    assert not diffs, "stale permission golden repo; " + HOW_TO_UPDATE + "\n  " + "\n  ".join(diffs)
