"""Kubernetes auth against a real API server: our server derives each caller's roles, groups
and namespaces from the cluster's RBAC as Feast 0.67's KubernetesTokenParser does, and so
answers every endpoint for every caller as `feast serve` does.

The cluster is scripts/kube-apiserver.sh's: a real kube-apiserver and etcd on loopback with
the objects of scripts/kube-apiserver/objects.json, started by this module. Both servers run
as service account feast/feature-server in namespace feast: Feast through kube_feast.py (its
in-cluster files read from the test directory), ours with FEATURE_SERVER_SERVICEACCOUNT_DIR.
The repo is the permissions golden repo (conformance/permissions_goldens.py) with
`auth: {type: kubernetes}`, applied and materialized by real Feast.

Callers, with real tokens from the API server (TokenRequest) or its static token file:
feast/reader (Role "reader" in feast: Permission reader), feast/writer and ml/trainer (roles
no permission names), feast/nobody, team-c/daily (namespace team-c: Permission
daily_exact), ingest/pusher (group writers, bound in its namespace: Permission
driver_writer), user jane (ClusterRole admin in ml: Permission admin) and user joe
(nothing). Each calls every endpoint of test_auth_matrix.ENDPOINTS on both servers; the
statuses must be equal, and the bodies of a 401/403 and the features of a read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict

import pytest
import requests
import yaml

import harness
from harness import Proc

sys.path.insert(0, str(harness.CONFORMANCE_DIR))
import permissions_goldens  # noqa: E402
from test_auth_matrix import ENDPOINTS, PROJECT, bearer, compare, send  # noqa: E402

KUBE_SH = harness.ROOT / "scripts" / "kube-apiserver.sh"
LAUNCHER = harness.CONFORMANCE_DIR / "kube_feast.py"

SERVICE_ACCOUNTS = ["feast/reader", "feast/writer", "feast/nobody", "ml/trainer", "team-c/daily", "ingest/pusher"]
USERS = ["jane", "joe"]

# What the cluster's RBAC gives each caller, through the golden repo's permissions
# (a sanity check that the cluster and the repo say what this module claims).
MUST_ALLOW = {
    "feast/reader": ["read-fv-file", "read-two-views", "read-fs-driver"],
    "team-c/daily": ["read-fv-file"],
    "ingest/pusher": ["push-online", "write-driver-daily"],
    "jane": [name for name, _, _, _ in ENDPOINTS],
}
NEVER_ALLOWED = {"feast/nobody", "joe", "ml/trainer", "feast/writer"}


class Cluster:
    def __init__(self, env_file: Path):
        self.env: Dict[str, str] = {}
        for line in env_file.read_text().splitlines():
            k, _, v = line.partition("=")
            self.env[k] = v
        self.url = f"https://{self.env['FEASTGO_TEST_KUBE_HOST']}:{self.env['FEASTGO_TEST_KUBE_PORT']}"
        self.admin = Path(self.env["FEASTGO_TEST_KUBE_ADMIN_TOKEN_FILE"]).read_text().strip()

    def token(self, caller: str) -> str:
        if "/" not in caller:
            return f"{caller}-token-{self.admin}"  # a static user token
        ns, name = caller.split("/")
        r = requests.post(f"{self.url}/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
                          json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": 3600}},
                          headers={"Authorization": f"Bearer {self.admin}"},
                          verify=self.env["FEASTGO_TEST_KUBE_CA"], timeout=30)
        r.raise_for_status()
        return r.json()["status"]["token"]


@pytest.fixture(scope="module")
def cluster(request, tmp_root: Path, base_env) -> Cluster:
    d = tmp_root / "kube" / "cluster"
    d.parent.mkdir(parents=True, exist_ok=True)
    port = harness.free_port(span=3)
    log = tmp_root / "kube" / "kube-apiserver-start.log"
    request.addfinalizer(lambda: harness.run_checked(["bash", str(KUBE_SH), "stop", str(d)], tmp_root, base_env,
                                                     tmp_root / "kube" / "stop.log"))
    # The first run builds kube-apiserver and etcd into the cache (minutes).
    harness.run_checked(["bash", str(KUBE_SH), "start", str(d), str(port)], tmp_root, base_env, log, timeout=3600)
    return Cluster(d / "env")


class Pair:
    def __init__(self, feast: str, ours: str, procs):
        self.feast, self.ours, self.procs = feast, ours, procs


@pytest.fixture(scope="module")
def kube_stack(request, cluster: Cluster, tmp_root: Path, base_env, ours_mode: str, our_binary: str):
    vdir = tmp_root / "kube"
    logs, repo = vdir / "logs", vdir / "repo"
    env = dict(base_env)
    env.pop("INTRA_COMMUNICATION_BASE64", None)
    cleanups: list = []
    request.addfinalizer(lambda: [fn() for fn in reversed(cleanups)])

    permissions_goldens.write_repo(repo)
    cfg = yaml.safe_load((repo / "feature_store.yaml").read_text())
    cfg["auth"] = {"type": "kubernetes"}
    (repo / "feature_store.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
    harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
    harness.run_checked(feast + ["materialize", "2025-12-31T00:00:00", "2026-01-02T00:00:00"], repo, env,
                        logs / "feast-materialize.log")

    pod = dict(env, KUBERNETES_SERVICE_HOST=cluster.env["FEASTGO_TEST_KUBE_HOST"],
               KUBERNETES_SERVICE_PORT=cluster.env["FEASTGO_TEST_KUBE_PORT"],
               FEASTGO_TEST_KUBE_SA_DIR=cluster.env["FEASTGO_TEST_KUBE_SA_DIR"],
               FEATURE_SERVER_SERVICEACCOUNT_DIR=cluster.env["FEASTGO_TEST_KUBE_SA_DIR"])
    launcher = [sys.executable, str(LAUNCHER), "-c", str(repo)]
    fport, oport = harness.free_port(), harness.free_port()
    fproc = Proc.start("feast serve (kubernetes auth)", launcher + ["serve", "-h", "127.0.0.1", "-p", str(fport)],
                       logs / "feast-serve.log", repo, pod)
    cleanups.append(fproc.stop)
    if ours_mode == "binary":
        oproc = Proc.start("our feature-server (kubernetes auth)",
                           [our_binary, "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(oport)],
                           logs / "ours.log", repo, pod)
    else:
        oproc = Proc.start("second feast serve (kubernetes auth)",
                           launcher + ["serve", "-h", "127.0.0.1", "-p", str(oport)], logs / "feast-serve-2.log", repo, pod)
    cleanups.append(oproc.stop)
    harness.wait_healthy(fproc, f"http://127.0.0.1:{fport}", timeout=180)
    harness.wait_healthy(oproc, f"http://127.0.0.1:{oport}", timeout=60 if ours_mode == "binary" else 180)
    from conftest import feature_services_of

    stack = Pair(f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{oport}", [fproc, oproc])
    stack.repo = repo
    stack.services = feature_services_of(repo / "data" / "registry.db", PROJECT)
    return stack


@pytest.mark.parametrize("caller", SERVICE_ACCOUNTS + USERS)
def test_kubernetes_callers(kube_stack, cluster: Cluster, caller: str, ours_mode: str):
    tok = cluster.token(caller)
    problems, allowed = [], set()
    for name, path, body, _ in ENDPOINTS:
        f = send(kube_stack.feast, path, body, bearer(tok))
        o = send(kube_stack.ours, path, body, bearer(tok))
        if 200 <= f.status < 300:
            allowed.add(name)
        elif f.status != 403:
            problems.append(f"{name}: Feast answered {f.for_report(400)} (want 2xx or 403)")
        problems += compare(name, f, o, ours_mode, body if path == "/get-online-features" else None, kube_stack)
    for p in kube_stack.procs:
        assert p.alive(), p.describe()
    assert not problems, f"{caller}:\n  " + "\n  ".join(problems)
    for name in MUST_ALLOW.get(caller, []):
        assert name in allowed, f"{caller}: Feast denied {name}; the cluster's RBAC should allow it ({sorted(allowed)})"
    if caller in NEVER_ALLOWED:
        assert not allowed, f"{caller}: Feast allowed {sorted(allowed)}"


@pytest.mark.parametrize("case", ["none", "garbage", "forged-service-account"])
def test_kubernetes_bad_tokens(kube_stack, cluster: Cluster, case: str, ours_mode: str):
    """No token and a garbage one: both servers refuse alike. A JWT naming a service account
    that the API server did not sign: Feast decodes it unverified and answers as that
    account; ours refuses it (401; docs/compatibility.md)."""
    import base64

    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    headers = {
        "none": {},
        "garbage": bearer("not-a-token"),
        "forged-service-account": bearer(b64({"alg": "RS256", "typ": "JWT"}) + "." +
                                         b64({"sub": "system:serviceaccount:feast:reader"}) + ".c2lnbmF0dXJl"),
    }[case]
    name, path, body, _ = ENDPOINTS[1]  # read-fv-file
    f = send(kube_stack.feast, path, body, headers)
    o = send(kube_stack.ours, path, body, headers)
    if case == "forged-service-account":
        assert f.status == 200, f"Feast no longer accepts an unverified service-account JWT: {f.for_report(300)}"
        assert o.status == (401 if ours_mode == "binary" else 200), o.for_report(300)
        return
    assert f.status == o.status and f.status in (401, 403), f"Feast {f.for_report(300)}\nours {o.for_report(300)}"
    assert not compare(name, f, o, ours_mode)
