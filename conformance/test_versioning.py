"""Online feature-view versioning (`registry.enable_online_feature_view_versioning: true`).

versioning_repo.py writes the repo; for each variant the view `stats` goes through three
definitions with real Feast 0.67.0:
  stage 0  `feast apply`, `feast materialize`                         -> v0 (rows of items 1-3)
  stage 1  schema change: apply (below), `feast materialize`          -> v1, the active version
  stage 2  schema change: `feast apply --no-promote`,
           `feast materialize --views stats --version v2`             -> v2, pinned reads only
Redis (redis_v3): every step with the CLI. SQLite: the CLI cannot do it (Feast 0.67.0 bugs):
  * `feast apply` plans SQLite tables from the definitions before the registry assigns the
    new version number, so the `<project>_stats_v1` table is never created and the next
    `feast materialize` fails with "no such table". Stage 1 is applied with the Python SDK
    (FeatureStore.apply), which creates the table.
  * a `--no-promote` version never gets its table (neither CLI nor SDK), so
    `feast materialize --version v2` fails: stage 2 is not run for SQLite and the cases named
    `v2_*` are skipped there.
Then every request in cases_versioning/ is compared like cases/ (test_online_features.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

import generated_stacks as gen
import harness
import versioning_repo
from conftest import selected_variants
from harness import Answer, Case

CASES_DIR = harness.CONFORMANCE_DIR / "cases_versioning"
CASES = harness.load_cases(CASES_DIR)
ALLOWED_501 = gen.read_allowed_501(CASES_DIR / "allowed_501.txt")
VERSIONING_VARIANTS = ("sqlite", "redis_v3")
GENERATOR = harness.CONFORMANCE_DIR / "versioning_repo.py"

_feast_answers: Dict[Tuple[str, str], Answer] = {}


def test_versioning_corpus_is_well_formed():
    gen.check_corpus(CASES, ALLOWED_501, min_cases=15)


@pytest.fixture(scope="module", params=[v for v in VERSIONING_VARIANTS if v in selected_variants()])
def versioning_stack(request, tmp_root: Path, base_env, ours_mode: str, our_binary: str) -> gen.GenStack:
    def stage(repo: Path, env, logs, n: int) -> None:
        harness.run_checked([sys.executable, str(GENERATOR), str(repo), str(n)], harness.ROOT, env, logs / "generate.log")

    def create(vdir: Path, env, logs) -> Path:
        repo = vdir / "repo"
        stage(repo, env, logs, 0)
        return repo

    def prepare(repo: Path, env, logs, variant) -> None:
        feast = gen.feast_cmd(repo)
        materialize = ["materialize", harness.MATERIALIZE_START, harness.MATERIALIZE_END]
        sqlite = variant == "sqlite"
        harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
        harness.run_checked(feast + materialize, repo, env, logs / "feast-materialize.log")
        stage(repo, env, logs, 1)
        if sqlite:
            harness.run_checked([sys.executable, "-c", versioning_repo.SDK_APPLY, str(repo)], repo, env, logs / "feast-apply.log")
        else:
            harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
        harness.run_checked(feast + materialize, repo, env, logs / "feast-materialize.log")
        if not sqlite:
            stage(repo, env, logs, 2)
            harness.run_checked(feast + ["apply", "--no-promote"], repo, env, logs / "feast-apply.log")
            harness.run_checked(feast + materialize + ["--views", "stats", "--version", "v2"], repo, env, logs / "feast-materialize.log")

    return gen.build(request, "versioning", request.param, tmp_root, base_env, ours_mode, our_binary, create, prepare)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_versioning_same_answer(versioning_stack, case: Case, ours_mode):
    if case.name.startswith("v2_") and versioning_stack.stack.variant.endswith("_sqlite"):
        pytest.skip("Feast 0.67.0 cannot materialize a --no-promote version into SQLite (no table is created for it)")
    gen.check_case(versioning_stack, case, _feast_answers, ALLOWED_501, ours_mode)


# --------------------------------------------------------------------------
# `materialize --version vN`: ours against Feast's, on Redis (Feast cannot do it on SQLite).

from test_materialize import redis_dump, redis_flush, redis_port, registry_record  # noqa: E402,F401


def test_materialize_pinned_version_same_as_feast(tmp_root: Path, base_env, ours_mode: str, our_binary: str, redis_port):
    """Stages 0-2 applied (v2 with --no-promote, nothing materialized), then the same repo twice,
    each with its own Redis db: `feast materialize --views stats --version v2` in one, ours in the
    other. Same Redis hashes (rows under stats_v2 only), same registry record (the interval lands
    on the active view `stats`, whose definition stays v1)."""
    import shutil

    from conftest import rewrite_store_yaml

    root = tmp_root / "versioning-materialize"
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    a, b = root / "feast", root / "ours"
    feast = gen.feast_cmd(a)
    for n in range(3):
        harness.run_checked([sys.executable, str(GENERATOR), str(a), str(n)], harness.ROOT, base_env, logs / "generate.log")
        if n == 0:
            rewrite_store_yaml(a, {"type": "redis", "connection_string": f"127.0.0.1:{redis_port},db=7"}, 3)
        harness.run_checked(feast + ["apply"] + (["--no-promote"] if n == 2 else []), a, base_env, logs / "feast-apply.log")
    shutil.copytree(a, b)
    rewrite_store_yaml(b, {"type": "redis", "connection_string": f"127.0.0.1:{redis_port},db=8"}, 3)
    redis_flush(redis_port, 7)
    redis_flush(redis_port, 8)

    args = ["materialize", harness.MATERIALIZE_START, harness.MATERIALIZE_END, "--views", "stats", "--version", "v2"]
    ours = gen.feast_cmd(b) if ours_mode == "feast" else [our_binary, "-c", str(b)]
    harness.run_checked(feast + args, a, base_env, logs / "feast-materialize.log")
    harness.run_checked(ours + args, b, base_env, logs / "ours-materialize.log")

    da, db = redis_dump(redis_port, 7), redis_dump(redis_port, 8)
    assert da, "Feast wrote nothing"
    assert da.keys() == db.keys(), f"keys differ: {len(da)} vs {len(db)}"
    for k in da:
        assert da[k] == db[k], f"hash {k.hex()} differs:\nfeast {da[k]}\nours  {db[k]}"
    ra, rb = registry_record(a / "data" / "registry.db"), registry_record(b / "data" / "registry.db")
    assert [r[:3] for r in ra] == [r[:3] for r in rb]
    assert [r[3] for r in ra] == [r[3] for r in rb], "a feature view spec changed"
    assert any(name == "stats" and intervals for name, _, intervals, _ in ra), "Feast recorded no interval on stats"

    # Mistakes: Feast exits non-zero, so do we.
    for bad in (["--version", "v9"], ["--version", "x"]):
        cmd = ours + ["materialize", harness.MATERIALIZE_START, harness.MATERIALIZE_END, "--views", "stats"] + bad
        out = subprocess.run(cmd, cwd=str(b), env=base_env, capture_output=True, text=True, timeout=120)
        assert out.returncode != 0, f"{bad} accepted: {out.stdout}{out.stderr}"
