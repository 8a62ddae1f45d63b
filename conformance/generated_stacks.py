"""Stacks on repos generated at test time (feast init template, types repo, versioning repo).

Same shape as conftest.py's `stack` + `ours` fixtures, but the repo comes from a `prepare`
function instead of a copy of feature_repo/, and both servers are started together (each
variant costs one `feast serve` start-up, the slowest step). The comparison of one case is
the one of test_online_features.py (policy rules (a)-(d) in harness.py), with a per-corpus
list of cases for which our 501 is an expected failure (xfail), never a pass.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import pytest
import yaml

import harness
from conftest import VARIANTS, Ours, Stack, feature_services_of, rewrite_store_yaml, services_sh
from harness import Answer, Case, HarnessError, Proc

FEAST = str(Path(sys.executable).parent / "feast")


def feast_cmd(repo: Path) -> List[str]:
    return [FEAST, "-c", str(repo)]


def read_allowed_501(path: Path) -> Set[str]:
    if not path.exists():
        return set()
    return {
        line.split("#")[0].strip()
        for line in path.read_text().splitlines()
        if line.split("#")[0].strip()
    }


@dataclass
class GenStack:
    """A generated repo applied/materialized for one variant, served by Feast and by us."""

    stack: Stack
    ours: Optional[Ours]
    ours_error: str  # why our server is not up (then every comparison fails with this)

    def check_ours(self) -> Ours:
        if self.ours is None:
            raise HarnessError(self.ours_error)
        return self.ours


def online_store_for(kind: str, env: Dict[str, str], logs: Path, cleanups: List[Callable[[], None]], sqlite_path: str) -> dict:
    if kind == "sqlite":
        return {"type": "sqlite", "path": sqlite_path}
    if kind == "redis":
        port = harness.free_port()
        cleanups.append(lambda: services_sh(env, logs / "services.log", "redis-stop", str(port)))
        services_sh(env, logs / "services.log", "redis-start", str(port))
        return {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
    if kind == "redis_cluster":
        base = harness.free_port(span=3, also_bus=True)
        cleanups.append(lambda: services_sh(env, logs / "services.log", "cluster-stop", str(base)))
        services_sh(env, logs / "services.log", "cluster-start", str(base))
        return {
            "type": "redis",
            "redis_type": "redis_cluster",
            "connection_string": ",".join(f"127.0.0.1:{base + i}" for i in range(3)),
        }
    raise HarnessError(kind)


def build(
    request,
    name: str,
    variant: str,
    tmp_root: Path,
    base_env: Dict[str, str],
    ours_mode: str,
    our_binary: str,
    create_repo: Callable[[Path, Dict[str, str], Path], Path],
    prepare: Callable[[Path, Dict[str, str], Path, str], None],
    sqlite_path: str = "data/online.db",
) -> GenStack:
    """create_repo(workdir, env, logs) -> repo dir; then the store is configured for the
    variant, prepare(repo, env, logs, variant) runs feast apply/materialize, and both
    servers are started on the repo. Everything is stopped by finalizers of `request`."""
    kind, eksv = VARIANTS[variant]
    vdir = tmp_root / f"{name}-{variant}"
    logs = vdir / "logs"
    env = dict(base_env)
    cleanups: List[Callable[[], None]] = []

    def cleanup():
        errors = []
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                errors.append(str(e))
        if errors:
            print(f"[{name}-{variant}] cleanup problems: {errors}", file=sys.stderr)

    request.addfinalizer(cleanup)

    repo = create_repo(vdir, env, logs)
    rewrite_store_yaml(repo, online_store_for(kind, env, logs, cleanups, sqlite_path), eksv)
    prepare(repo, env, logs, variant)

    cfg = yaml.safe_load((repo / "feature_store.yaml").read_text())
    reg = cfg["registry"]
    reg_path = repo / (reg["path"] if isinstance(reg, dict) else reg)
    st = Stack(
        variant=f"{name}_{variant}", repo=repo, feast_url="",
        redis_rule=kind != "sqlite",
        services=feature_services_of(reg_path, cfg["project"]),
    )

    fport = harness.free_port()
    fproc = Proc.start("feast serve", feast_cmd(repo) + ["serve", "-h", "127.0.0.1", "-p", str(fport)], logs / "feast-serve.log", repo, env)
    cleanups.append(fproc.stop)
    st.procs.append(fproc)
    st.feast_url = f"http://127.0.0.1:{fport}"

    port = harness.free_port()
    if ours_mode == "binary":
        argv = [our_binary, "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port), "--grpc-port", str(harness.free_port())]
        oproc = Proc.start("our feature-server", argv, logs / "ours.log", repo, env)
    else:
        oproc = Proc.start("second feast serve", feast_cmd(repo) + ["serve", "-h", "127.0.0.1", "-p", str(port)], logs / "feast-serve-2.log", repo, env)
    cleanups.append(oproc.stop)
    ours_url = f"http://127.0.0.1:{port}"

    harness.wait_healthy(fproc, st.feast_url, timeout=180)
    try:
        harness.wait_healthy(oproc, ours_url, timeout=60 if ours_mode == "binary" else 180)
    except HarnessError as e:
        return GenStack(st, None, f"our server did not start on the {name} repo ({variant}):\n{e}")
    return GenStack(st, Ours(ours_url, 0, oproc), "")


# --------------------------------------------------------------------------
# One case against both servers (the rules of test_online_features.py)


def report(case: Case, feast: Answer, ours: Answer, diffs: Sequence[str]) -> str:
    req = case.body if case.raw else json.dumps(case.body, ensure_ascii=False)
    headers = "" if case.headers is None else f" headers={case.headers}"
    return (
        f"case {case.name}: {case.description}\n"
        f"request: {case.method} {case.path}{headers} {req[:2000]}\n"
        f"Feast:   {feast.for_report()}\n"
        f"ours:    {ours.for_report()}\n"
        "differences:\n  " + "\n  ".join(diffs)
    )


def feast_answer(gs: GenStack, case: Case, cache: Dict[Tuple[str, str], Answer]) -> Answer:
    key = (gs.stack.variant, case.name)
    if key not in cache:
        cache[key] = case.send(gs.stack.feast_url)
    return cache[key]


def check_case(gs: GenStack, case: Case, cache, allowed_501: Set[str], ours_mode: str) -> None:
    st = gs.stack
    feast = feast_answer(gs, case, cache)
    ours = gs.check_ours()
    got = case.send(ours.url)
    st.check_alive()
    ours.check_alive()

    harness.check_feast_expectation(case, feast)

    if got.status == 501 and case.name in allowed_501:
        pytest.xfail(f"our server answers 501 (not implemented yet) for {case.name}: {got.text[:300]}")

    if case.expect == "same":
        diffs: List[str] = []
        if got.status != 200:
            diffs.append(f"status: expected 200, got {got.status}")
        elif got.media_type != feast.media_type:
            diffs.append(f"content-type: expected {feast.content_type!r}, got {got.content_type!r}")
        else:
            ok, body = got.parsed()
            if not ok:
                diffs.append("our body is not JSON")
            else:
                groups = harness.column_groups(case.json_body, st.services)
                diffs += harness.compare_success(feast.parsed()[1], body, groups, st.redis_rule)
    elif case.expect == "refused":
        if ours_mode != "binary":
            pytest.skip("feast-vs-feast mode: a deliberate refusal of ours")
        diffs = harness.compare_refused(case, got)
    else:
        diffs = harness.compare_error(feast, got, policy=ours_mode == "binary")
    assert not diffs, report(case, feast, got, diffs)


def check_corpus(cases: Sequence[Case], allowed_501: Set[str], min_cases: int) -> None:
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    assert len(cases) >= min_cases, f"only {len(cases)} cases"
    unknown = allowed_501 - set(names)
    assert not unknown, f"allowed_501.txt names cases that do not exist: {sorted(unknown)}"
