"""On-demand feature views beyond the demo repo's two, on every evaluation path, against feast serve.

A copy of feature_repo/ gets conformance/odfv_repo/odfv_extra.py: python- and pandas-mode ODFVs
that the Go server runs natively (Starlark, the pandas subset) and ones it must delegate (they
import math or call numpy functions outside the subset), a singleton ODFV, one over list
features, and a feature service mixing views and ODFVs. After `feast apply` and `feast
materialize`, each request below goes to `feast serve` and to three of our servers on the same
repo:

  auto              --odfv-execution auto, transformation service = transformations/worker
  delegate-worker   --odfv-execution delegate: every ODFV through the worker
  delegate-feast    --odfv-execution delegate --odfv-worker off, service = `feast
                    serve_transformations`: pandas-mode ODFVs must match, python-mode ones must
                    answer 501 (Feast's transformation server only runs pandas mode; with the
                    default --odfv-worker auto they would go to the server's own worker)

Answers are compared with the rules of test_online_features.py. test_evaluation_paths checks
from our server's log that each ODFV took the path it was written for, so the run covers
native and delegated evaluation in both modes.

Runs for the sqlite and redis_v3 variants (when selected).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

import harness
from conftest import VARIANTS, copy_repo, feature_services_of, rewrite_store_yaml, selected_variants, services_sh
from harness import Case, HarnessError, Proc

VENV_BIN = Path(sys.executable).parent
FEAST = str(VENV_BIN / "feast")
WORKER = harness.ROOT / "transformations" / "worker" / "feastgo_worker.py"
EXTRA = harness.CONFORMANCE_DIR / "odfv_repo" / "odfv_extra.py"
SERVERS = ("auto", "delegate-worker", "delegate-feast")

# ODFV -> (mode, the path our server must pick in auto mode)
EXPECTED_PATHS = {
    "pipeline_realtime_metrics": ("python", "native-starlark"),
    "pipeline_risk": ("pandas", "native-pandas"),
    "pipeline_py_native": ("python", "native-starlark"),
    "pipeline_py_singleton": ("python", "native-starlark"),
    "pipeline_history_stats": ("python", "native-starlark"),
    "pipeline_py_delegated": ("python", "delegated"),
    "pipeline_pd_native": ("pandas", "native-pandas"),
    "pipeline_pd_delegated": ("pandas", "delegated"),
}

VARIANTS_HERE = [v for v in selected_variants() if v in ("sqlite", "redis_v3")]


def _cases() -> List[Case]:
    run = {"execution_times": [[10.0, 20.0, 5.5], [], [1.0]], "error_counts": [[1, 5], [], [0, 0, 3]]}
    risk = {"queue_depth": [0, 12, 3]}
    ids = [1, 2, 999]  # 999 has no rows anywhere
    cases: List[Case] = []

    def add(name: str, body: dict, description: str) -> None:
        cases.append(Case(name=name, path="/get-online-features", body=body, expect="same", description=description))

    for odfv, (mode, _) in EXPECTED_PATHS.items():
        if odfv == "pipeline_py_singleton":
            continue
        feats = {
            "pipeline_realtime_metrics": ["recent_avg_execution_time", "max_recent_error_count"],
            "pipeline_risk": ["risk_score"],
            "pipeline_py_native": ["status_label", "rounded_avg", "error_bucket", "is_flaky", "times_ms"],
            "pipeline_history_stats": ["history_len", "fail_ratio", "max_cpu"],
            "pipeline_py_delegated": ["log_avg", "p90_time"],
            "pipeline_pd_native": ["load_score", "error_rate", "hot", "queue_x2"],
            "pipeline_pd_delegated": ["log_load", "clipped"],
        }[odfv]
        refs = [f"{odfv}:{f}" for f in feats]
        entities = {"pipeline_id": ids, **run, **risk}
        add(f"{odfv}", {"features": refs, "entities": entities}, f"{mode} ODFV, known and unknown pipelines")
        add(f"{odfv}_full_names", {"features": refs, "entities": entities, "full_feature_names": True},
            f"{mode} ODFV with full feature names")
        add(f"{odfv}_with_plain", {"features": ["pipeline_stats:error_count", refs[-1], "team_stats:team_size"],
                                   "entities": {**entities, "team_id": ["platform", "data", "nope"]}},
            f"{mode} ODFV beside plain features of its own and another view")
        add(f"{odfv}_unknown_only", {"features": refs, "entities": {"pipeline_id": [999], "execution_times": [[2.0]],
                                                                   "error_counts": [[1]], "queue_depth": [4]}},
            f"{mode} ODFV over an entity without rows (all-null sources)")
    singleton = ["pipeline_py_singleton:total_errors", "pipeline_py_singleton:avg_time_s"]
    for pid in (3, 999):
        add(f"pipeline_py_singleton_{pid}", {"features": singleton, "entities": {
            "pipeline_id": [pid], "execution_times": [[4.0, 8.0]], "error_counts": [[2, 3]]}},
            "singleton python ODFV (one row, as Feast transforms only the first)")
    for full in (False, True):
        add(f"service_odfv_mix{'_full_names' if full else ''}",
            {"feature_service": "odfv_mix", "entities": {"pipeline_id": ids, **run, **risk}, "full_feature_names": full},
            "feature service mixing a view projection and two ODFVs")
    add("both_delegated_and_native", {"features": [
        "pipeline_pd_delegated:log_load", "pipeline_py_native:error_bucket", "pipeline_py_delegated:p90_time",
        "pipeline_risk:risk_score"], "entities": {"pipeline_id": ids, **run, **risk}},
        "native and delegated ODFVs in one request")
    return cases


CASES = _cases()


def _is_pandas(case: Case) -> bool:
    body = case.body
    if "feature_service" in body:
        return False
    views = {r.split(":")[0] for r in body["features"]}
    odfvs = [v for v in views if v in EXPECTED_PATHS]
    return all(EXPECTED_PATHS[v][0] == "pandas" for v in odfvs)


def _wait_port(proc: Proc, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise HarnessError(f"{proc.name} exited.\n{proc.describe()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise HarnessError(f"{proc.name} did not listen on {port} in {timeout}s.\n{proc.describe()}")


@dataclass
class OdfvStack:
    variant: str
    repo: Path
    feast_url: str
    ours: Dict[str, str]
    procs: Dict[str, Proc]
    services: dict
    redis_rule: bool
    answers: Dict[str, harness.Answer] = field(default_factory=dict)

    def feast_answer(self, case: Case) -> harness.Answer:
        if case.name not in self.answers:
            self.answers[case.name] = case.send(self.feast_url)
        return self.answers[case.name]

    def check_alive(self) -> None:
        for p in self.procs.values():
            if not p.alive():
                raise HarnessError(f"a server died during the run.\n{p.describe()}")


@pytest.fixture(scope="session", params=VARIANTS_HERE or [pytest.param("none", marks=pytest.mark.skip("no sqlite/redis_v3 variant selected"))])
def odfv_stack(request, tmp_root: Path, base_env: Dict[str, str], ours_mode: str, our_binary: str) -> OdfvStack:
    if ours_mode != "binary":
        pytest.skip("feast-vs-feast mode: the evaluation paths are our server's")
    variant = request.param
    kind, eksv = VARIANTS[variant]
    vdir = tmp_root / f"odfv_repo-{variant}"
    logs, repo = vdir / "logs", vdir / "repo"
    env = dict(base_env)
    procs: Dict[str, Proc] = {}
    cleanups = []

    def cleanup():
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                print(f"[odfv_repo-{variant}] cleanup: {e}", file=sys.stderr)

    request.addfinalizer(cleanup)

    copy_repo(repo)
    shutil.copy(EXTRA, repo / EXTRA.name)
    if kind == "sqlite":
        online = {"type": "sqlite", "path": "data/online.db"}
    else:
        port = harness.free_port()
        cleanups.append(lambda: services_sh(env, logs / "services.log", "redis-stop", str(port)))
        services_sh(env, logs / "services.log", "redis-start", str(port))
        online = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
    rewrite_store_yaml(repo, online, eksv)
    feast = [FEAST, "-c", str(repo)]
    harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
    harness.run_checked(feast + ["materialize", harness.MATERIALIZE_START, harness.MATERIALIZE_END], repo, env,
                        logs / "feast-materialize.log")

    def start(name: str, argv: List[str]) -> Proc:
        p = Proc.start(name, argv, logs / f"{name}.log", repo, env)
        procs[name] = p
        cleanups.append(p.stop)
        return p

    wport = harness.free_port()
    worker = start("worker", [sys.executable, str(WORKER), "--repo", str(repo), "--port", str(wport)])
    # Feast's transformation server needs grpcio-reflection (Feast's grpcio extra).
    if subprocess.run([sys.executable, "-c", "import grpc_reflection"], capture_output=True).returncode != 0:
        harness.run_checked([sys.executable, "-m", "pip", "install", "-q", "grpcio-reflection==1.85.1"], repo, env,
                            logs / "pip.log")
    tport = harness.free_port()
    tsvc = start("feast-transformations", feast + ["serve_transformations", "--port", str(tport)])
    fport = harness.free_port()
    fserve = start("feast-serve", feast + ["serve", "-h", "127.0.0.1", "-p", str(fport)])

    base = yaml.safe_load((repo / "feature_store.yaml").read_text())
    ours: Dict[str, str] = {}
    for name, endpoint, execution in (
        ("auto", wport, "auto"), ("delegate-worker", wport, "delegate"), ("delegate-feast", tport, "delegate"),
    ):
        cfg = dict(base)
        cfg["feature_server"] = {"type": "local", "transformation_service_endpoint": f"127.0.0.1:{endpoint}"}
        yml = repo / f"feature_store.{name}.yaml"
        yml.write_text(yaml.safe_dump(cfg, sort_keys=False))
        port = harness.free_port()
        extra = ["--odfv-worker", "off"] if name == "delegate-feast" else []
        start(f"ours-{name}", [our_binary, "-c", str(repo), "-f", str(yml), "serve", "-h", "127.0.0.1",
                               "-p", str(port), "--odfv-execution", execution] + extra)
        ours[name] = f"http://127.0.0.1:{port}"

    _wait_port(worker, wport, 180)
    _wait_port(tsvc, tport, 180)
    harness.wait_healthy(fserve, f"http://127.0.0.1:{fport}", timeout=180)
    for name, url in ours.items():
        harness.wait_healthy(procs[f"ours-{name}"], url, timeout=60)
    reg = repo / "data" / "registry.db"
    return OdfvStack(variant, repo, f"http://127.0.0.1:{fport}", ours, procs,
                     feature_services_of(reg, base["project"]), redis_rule=kind != "sqlite")


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_answer_as_feast(odfv_stack: OdfvStack, case: Case, server: str):
    feast = odfv_stack.feast_answer(case)
    assert feast.status == 200, f"case {case.name}: Feast answered {feast.for_report()}: fix the case"
    got = case.send(odfv_stack.ours[server])
    odfv_stack.check_alive()
    if server == "delegate-feast" and not _is_pandas(case):
        assert got.status == 501 and "pandas mode only" in got.text, (
            f"case {case.name}: a python-mode ODFV sent to Feast's transformation server must be a 501 "
            f"naming the limitation; got {got.for_report()}")
        return
    diffs: List[str] = []
    if got.status != 200:
        diffs.append(f"status: expected 200, got {got.status}")
    else:
        ok, body = got.parsed()
        if not ok:
            diffs.append("our body is not JSON")
        else:
            groups = harness.column_groups(case.json_body, odfv_stack.services)
            diffs += harness.compare_success(feast.parsed()[1], body, groups, odfv_stack.redis_rule)
    assert not diffs, (
        f"case {case.name} ({server}): {case.description}\nFeast: {feast.for_report()}\n"
        f"ours:  {got.for_report()}\ndifferences:\n  " + "\n  ".join(diffs))


def test_evaluation_paths(odfv_stack: OdfvStack):
    """Each ODFV took the path it was written for (the server logs its decision once)."""
    for case in CASES:  # make sure every ODFV was evaluated at least once
        case.send(odfv_stack.ours["auto"])
    log = odfv_stack.procs["ours-auto"].log.read_text()
    seen = {}
    for m in re.finditer(r'msg="on-demand feature view" name=(\S+) mode=(\S+) evaluation=(\S+)', log):
        seen[m.group(1)] = (m.group(2), m.group(3))
    wrong = {n: (seen.get(n), want) for n, want in EXPECTED_PATHS.items() if seen.get(n) != want}
    assert not wrong, f"ODFV evaluation paths (got, want): {wrong}"
