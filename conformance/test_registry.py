"""The committed feature_repo/data/registry.db is what `feast apply` produces from features.py.

Our server's unit tests and demos read the committed registry; if features.py changes
without regenerating it, they silently test something else. Objects are compared by kind
and name, spec by spec, ignoring timestamps, version ids, materialization intervals, infra
(absolute paths) and the dill pickle of UDFs (it embeds the file path; body_text is kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

import harness
from conftest import copy_repo


def test_committed_registry_is_fresh(tmp_root: Path, base_env):
    committed = harness.FEATURE_REPO / "data" / "registry.db"
    assert committed.exists(), f"{committed} is not committed"
    repo = tmp_root / "registry-check" / "repo"
    copy_repo(repo)
    feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
    harness.run_checked(feast + ["apply"], repo, base_env, tmp_root / "registry-check" / "feast-apply.log")
    diffs = harness.diff_registry_objects(
        harness.registry_objects(committed, [str(harness.FEATURE_REPO)]),
        harness.registry_objects(repo / "data" / "registry.db", [str(repo)]),
    )
    assert not diffs, (
        "feature_repo/data/registry.db is stale: regenerate it with `feast apply` in feature_repo/\n"
        + "\n".join(diffs)
    )
