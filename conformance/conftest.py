"""Fixtures: one "stack" per online-store variant, each with a real `feast serve` and our server.

A stack is: a copy of feature_repo/ in a temp dir whose feature_store.yaml points at the
variant's online store, `feast apply` + `feast materialize` run with the real Feast, then
`feast serve` and our binary started on that same repo dir. Stacks are session-scoped and
parametrised, so pytest runs all tests of one variant, tears it down, then the next.

Environment:
  CONFORMANCE_TMP       root for all temp data (run.sh passes a mktemp dir)
  FEATURE_SERVER_BIN    our binary (run.sh builds it); built into CONFORMANCE_TMP if unset
  CONFORMANCE_OURS      "binary" (default) or "feast": compare Feast with a second Feast
                        (proves the harness itself)
  CONFORMANCE_VARIANTS  comma-separated subset of the variants below
  UPDATE_GOLDEN=1       rewrite server/testdata/golden from Feast's answers
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import yaml

import harness
from harness import HarnessError, Proc

# variant name -> (online store kind, entity_key_serialization_version)
VARIANTS: Dict[str, Tuple[str, int]] = {
    "sqlite": ("sqlite", 3),
    "redis_v3": ("redis", 3),
    "redis_v2": ("redis", 2),
    "redis_cluster_v3": ("redis_cluster", 3),
}


def selected_variants() -> List[str]:
    want = os.environ.get("CONFORMANCE_VARIANTS", "").strip()
    if not want:
        return list(VARIANTS)
    names = [v.strip() for v in want.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise HarnessError(f"CONFORMANCE_VARIANTS: unknown {unknown}; known {list(VARIANTS)}")
    return names


def update_golden() -> bool:
    return os.environ.get("UPDATE_GOLDEN", "") == "1"


# --------------------------------------------------------------------------
# Session-wide settings


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    root = os.environ.get("CONFORMANCE_TMP")
    if root:  # owned (and removed) by run.sh
        p = Path(root)
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    p = Path(tempfile.mkdtemp(prefix="conformance."))
    yield p
    shutil.rmtree(p, ignore_errors=True)


@pytest.fixture(scope="session")
def base_env(tmp_root: Path) -> Dict[str, str]:
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    # SQLite timestamps are stored via naive local time: pin UTC so stored epochs are true UTC.
    env["TZ"] = "UTC"
    # Python set order decides Feast's within-view column order; pin it so goldens are stable.
    env["PYTHONHASHSEED"] = "0"
    env["FEAST_USAGE"] = "False"
    env["SERVICES_DIR"] = str(tmp_root / "services")
    return env


@pytest.fixture(scope="session")
def ours_mode() -> str:
    mode = os.environ.get("CONFORMANCE_OURS", "binary")
    if mode not in ("binary", "feast"):
        raise HarnessError("CONFORMANCE_OURS must be 'binary' or 'feast'")
    return mode


@pytest.fixture(scope="session")
def our_binary(tmp_root: Path, ours_mode: str, base_env: Dict[str, str]) -> str:
    if ours_mode != "binary":
        return ""
    b = os.environ.get("FEATURE_SERVER_BIN")
    if b:
        if not os.access(b, os.X_OK):
            raise HarnessError(f"FEATURE_SERVER_BIN={b} is not an executable")
        return b
    out = tmp_root / "bin" / "feature-server"
    harness.run_checked(
        ["go", "build", "-o", str(out), "./cmd/feature-server"], harness.ROOT, base_env, tmp_root / "logs" / "go-build.log"
    )
    return str(out)


@pytest.fixture(scope="session")
def feast_answers() -> Dict[Tuple[str, str], harness.Answer]:
    """Feast's answer per (variant, case), shared by the conformance and golden tests."""
    return {}


# --------------------------------------------------------------------------
# Stacks


@dataclass
class Stack:
    """A repo copy applied and materialized for one variant, served by real `feast serve`."""

    variant: str
    repo: Path
    feast_url: str
    redis_rule: bool
    services: Dict[str, List[Tuple[str, List[str]]]] = field(default_factory=dict)
    procs: List[Proc] = field(default_factory=list)

    def check_alive(self) -> None:
        for p in self.procs:
            if not p.alive():
                raise HarnessError(f"[{self.variant}] a server died during the run.\n{p.describe()}")


def copy_repo(dst: Path) -> None:
    if not (harness.FEATURE_REPO / "feature_store.yaml").exists():
        raise HarnessError(f"{harness.FEATURE_REPO}/feature_store.yaml does not exist")
    shutil.copytree(
        harness.FEATURE_REPO, dst,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"),
    )
    # Start from an empty registry and online store: feast apply builds both.
    for name in ("registry.db", "online.db"):
        for p in dst.rglob(name):
            p.unlink()


def rewrite_store_yaml(repo: Path, online_store: dict, eksv: int) -> None:
    path = repo / "feature_store.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["online_store"] = online_store
    cfg["entity_key_serialization_version"] = eksv
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def services_sh(env: Dict[str, str], log: Path, *args: str) -> None:
    harness.run_checked(["bash", str(harness.SERVICES_SH), *args], harness.ROOT, env, log, timeout=180)


@contextmanager
def postgres_server(base_env: Dict[str, str], log: Path, prefix: str) -> Iterator[int]:
    """A PostgreSQL of its own on a free port, stopped and removed on exit.

    The postgres user must traverse the data dir's parents; the run's temp root
    is private (mktemp -d), so the cluster lives in a world-readable dir of its own.
    """
    services = Path(tempfile.mkdtemp(prefix=prefix))
    services.chmod(0o755)
    env = dict(base_env, SERVICES_DIR=str(services))
    port = harness.free_port()
    try:
        services_sh(env, log, "postgres-start", str(port))
        yield port
    finally:
        services_sh(env, log, "postgres-stop", str(port))
        shutil.rmtree(services, ignore_errors=True)


def feature_services_of(registry_path: Path, project: str) -> Dict[str, List[Tuple[str, List[str]]]]:
    """Feature service name -> [(projection name-to-use, [feature names])], from the registry proto."""
    from feast.protos.feast.core.Registry_pb2 import Registry

    reg = Registry()
    reg.ParseFromString(registry_path.read_bytes())
    out = {}
    for fs in reg.feature_services:
        if fs.spec.project != project:
            continue
        projs = []
        for p in fs.spec.features:
            name = p.feature_view_name_alias or p.feature_view_name
            projs.append((name, [c.name for c in p.feature_columns]))
        out[fs.spec.name] = projs
    return out


@pytest.fixture(scope="session", params=selected_variants())
def stack(request, tmp_root: Path, base_env: Dict[str, str], ours_mode: str, our_binary: str) -> Stack:
    variant = request.param
    kind, eksv = VARIANTS[variant]
    vdir = tmp_root / variant
    logs = vdir / "logs"
    repo = vdir / "repo"
    env = dict(base_env)
    cleanups = []

    def cleanup():
        errors = []
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                errors.append(str(e))
        if errors:
            print(f"[{variant}] cleanup problems: {errors}", file=sys.stderr)

    request.addfinalizer(cleanup)

    copy_repo(repo)
    if kind == "sqlite":
        online = {"type": "sqlite", "path": "data/online.db"}
    elif kind == "redis":
        port = harness.free_port()
        cleanups.append(lambda: services_sh(env, logs / "services.log", "redis-stop", str(port)))
        services_sh(env, logs / "services.log", "redis-start", str(port))
        online = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
    elif kind == "redis_cluster":
        base = harness.free_port(span=3, also_bus=True)
        cleanups.append(lambda: services_sh(env, logs / "services.log", "cluster-stop", str(base)))
        services_sh(env, logs / "services.log", "cluster-start", str(base))
        online = {
            "type": "redis",
            "redis_type": "redis_cluster",
            "connection_string": ",".join(f"127.0.0.1:{base + i}" for i in range(3)),
        }
    else:
        raise HarnessError(kind)
    rewrite_store_yaml(repo, online, eksv)

    feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
    harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
    harness.run_checked(
        feast + ["materialize", harness.MATERIALIZE_START, harness.MATERIALIZE_END], repo, env,
        logs / "feast-materialize.log",
    )

    project = yaml.safe_load((repo / "feature_store.yaml").read_text())["project"]
    st = Stack(
        variant=variant, repo=repo, feast_url="",
        redis_rule=kind != "sqlite",
        services=feature_services_of(repo / "data" / "registry.db", project),
    )

    fport = harness.free_port()
    fproc = Proc.start("feast serve", feast + ["serve", "-h", "127.0.0.1", "-p", str(fport)], logs / "feast-serve.log", repo, env)
    cleanups.append(fproc.stop)
    st.procs.append(fproc)
    st.feast_url = f"http://127.0.0.1:{fport}"

    harness.wait_healthy(fproc, st.feast_url, timeout=180)
    return st


# --------------------------------------------------------------------------
# Hooks


def pytest_configure(config):
    config.addinivalue_line("markers", "only_variant(name): run this stack test only for that variant")


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        m = item.get_closest_marker("only_variant")
        cs = getattr(item, "callspec", None)
        if m and cs is not None and cs.params.get("stack") not in m.args:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class Ours:
    """The server under test, on the same repo dir as the stack's `feast serve`."""

    url: str
    grpc_port: int
    proc: Proc

    def check_alive(self) -> None:
        if not self.proc.alive():
            raise HarnessError(f"{self.proc.name} died during the run.\n{self.proc.describe()}")


@pytest.fixture(scope="session")
def ours(request, stack: Stack, tmp_root: Path, base_env: Dict[str, str], ours_mode: str, our_binary: str) -> Ours:
    """Our server for the current stack (a separate fixture: goldens need only Feast)."""
    logs = tmp_root / stack.variant / "logs"
    port = harness.free_port()
    grpc_port = 0
    if ours_mode == "binary":
        grpc_port = harness.free_port()
        argv = [our_binary, "-c", str(stack.repo), "serve", "-h", "127.0.0.1", "-p", str(port), "--grpc-port", str(grpc_port)]
        proc = Proc.start("our feature-server", argv, logs / "ours.log", stack.repo, base_env)
    else:
        feast = [str(Path(sys.executable).parent / "feast"), "-c", str(stack.repo)]
        proc = Proc.start("second feast serve", feast + ["serve", "-h", "127.0.0.1", "-p", str(port)], logs / "feast-serve-2.log", stack.repo, base_env)
    request.addfinalizer(proc.stop)
    url = f"http://127.0.0.1:{port}"
    harness.wait_healthy(proc, url, timeout=60 if ours_mode == "binary" else 180)
    return Ours(url, grpc_port, proc)
