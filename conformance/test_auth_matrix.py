"""OIDC auth against a real identity provider: our server answers every user and every bad
token as Feast 0.67's `feast serve` does.

Keycloak (scripts/keycloak.sh, realms scripts/keycloak/*-realm.json) is the identity
provider: the one scripts/test.sh or go-test.sh started (FEASTGO_TEST_OIDC_DISCOVERY, or
FEASTGO_TEST_KEYCLOAK_DIR to wait for), else one of this module's own. The repo is the
permissions golden repo (conformance/permissions_goldens.py: the Permission objects of
permissions/testdata/repo) with `auth: {type: oidc, client_id: feast-client,
auth_discovery_url: ...}`, applied and materialized by real Feast. Two pairs of servers
run on it, each pair `feast serve` and ours with the same flags: one with that auth block,
one that also sets `audience: feast-client`.

* test_user_matrix: users alice (role reader), bob (group writers), ivy (groups ds,
  writers), carol (role admin), mix (reader + writers), nobody, with real tokens from the
  password grant, x /get-online-features on each view kind and feature service,
  /push (online, offline, online_and_offline), /write-to-online-store, /materialize,
  /materialize-incremental. Feast's statuses must be the decisions Feast's enforce_policy
  recorded in permissions/testdata/decisions.json (a 403 where it denies), and ours must
  equal Feast's: status, and the body of a 401/403.
* test_bad_token: no header, an empty one, `Bearer` alone, garbage, another scheme,
  three words, a real token with its signature flipped, with forged roles, with `alg:
  none`, from another realm (issuer), expired, of another audience (with and without
  `audience:` configured), a 64 KiB header; and the good token as the control.
* test_feast_client: Feast's own SDK, `online_store: type: remote` plus `auth: type: oidc`
  with username and password, reading and pushing through each server as each user:
  allowed and denied alike, with the same status in the error.

DELIBERATE lists where ours may differ from Feast on purpose, each with its reason
(docs/compatibility.md has the same rows).
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import requests
import yaml

import harness
from harness import HarnessError, Proc

sys.path.insert(0, str(harness.CONFORMANCE_DIR))
import permissions_goldens  # noqa: E402

KEYCLOAK_SH = harness.ROOT / "scripts" / "keycloak.sh"
DECISIONS = harness.ROOT / "permissions" / "testdata" / "decisions.json"
CLIENT_ID, CLIENT_SECRET = "feast-client", "feast-secret"
USERS = ["alice", "bob", "ivy", "carol", "mix", "nobody"]
PROJECT = permissions_goldens.PROJECT
# Feast's jwt.decode leeway: a token is accepted up to this long after its exp.
FEAST_LEEWAY = 10

# (case, our status): differences from Feast on purpose, and why.
DELIBERATE: Dict[str, Tuple[int, str]] = {
    # Feast (gunicorn/uvicorn) reads a 64 KiB Authorization header and answers 401; ours
    # bounds a request's line and headers at 64 KiB (server/fast.go maxHeaderBytes) and
    # answers 431 before any token parsing. Under the bound (header-32KiB) both say 401.
    "header-64KiB": (431, "request line and headers over 64 KiB: 431 Request Header Fields Too Large"),
}


def password(user: str) -> str:
    return f"{user}-password"


# --------------------------------------------------------------------------
# The identity provider


def _keycloak_port() -> int:
    """A free port in 8000-9999: under the ephemeral range, as scripts/test.sh picks."""
    for _ in range(200):
        p = random.randint(8000, 9999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        return p
    raise HarnessError("no free port in 8000-9999 for Keycloak")


def _read_env(path: Path) -> Dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


@dataclass
class IdP:
    discovery: str
    other_discovery: str
    issuer: str
    _docs: Dict[str, dict] = field(default_factory=dict)

    def doc(self, url: str) -> dict:
        if url not in self._docs:
            r = requests.get(url, timeout=10)
            r.raise_for_status()
            self._docs[url] = r.json()
        return self._docs[url]

    def token(self, user: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET,
              discovery: Optional[str] = None) -> str:
        url = self.doc(discovery or self.discovery)["token_endpoint"]
        r = requests.post(url, data={
            "grant_type": "password", "client_id": client_id, "client_secret": secret,
            "username": user, "password": password(user),
        }, timeout=10)
        if r.status_code != 200:
            raise HarnessError(f"Keycloak refused a token for {user} ({client_id}): {r.status_code} {r.text}")
        return r.json()["access_token"]


@pytest.fixture(scope="session")
def idp(request, tmp_root: Path, base_env) -> IdP:
    env = dict(os.environ)
    if not env.get("FEASTGO_TEST_OIDC_DISCOVERY") and env.get("FEASTGO_TEST_KEYCLOAK_DIR"):
        p = subprocess.run(["bash", str(KEYCLOAK_SH), "wait", env["FEASTGO_TEST_KEYCLOAK_DIR"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        if p.returncode != 0:
            raise HarnessError(f"the shared Keycloak did not start: {p.stderr}")
        env.update(_read_env(Path(p.stdout.strip())))
    if not env.get("FEASTGO_TEST_OIDC_DISCOVERY"):
        kc_dir = tmp_root / "keycloak"
        log = tmp_root / "logs" / "keycloak-start.log"
        request.addfinalizer(lambda: subprocess.run(["bash", str(KEYCLOAK_SH), "stop", str(kc_dir)],
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        harness.run_checked(["bash", str(KEYCLOAK_SH), "start", str(kc_dir), str(_keycloak_port())],
                            harness.ROOT, base_env, log, timeout=400)
        env.update(_read_env(kc_dir / "env"))
    return IdP(env["FEASTGO_TEST_OIDC_DISCOVERY"], env["FEASTGO_TEST_OIDC_OTHER_DISCOVERY"],
               env["FEASTGO_TEST_OIDC_ISSUER"])


# --------------------------------------------------------------------------
# Bad tokens, made from real ones


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(tok: str) -> dict:
    return json.loads(_b64d(tok.split(".")[1]))


def wrong_signature(tok: str) -> str:
    h, p, s = tok.split(".")
    return f"{h}.{p}.{_b64e(bytes(b ^ 0x5A for b in _b64d(s)))}"


def alg_none(tok: str) -> str:
    h, p, _ = tok.split(".")
    header = json.loads(_b64d(h))
    header["alg"] = "none"  # the kid is kept: the key lookup succeeds, the algorithm must not
    return f"{_b64e(json.dumps(header).encode())}.{p}."


def with_claims(tok: str, **changes) -> str:
    h, p, s = tok.split(".")
    c = json.loads(_b64d(p))
    c.update(changes)
    return f"{h}.{_b64e(json.dumps(c).encode())}.{s}"


# --------------------------------------------------------------------------
# The repo and the servers


@dataclass
class Pair:
    feast: str
    ours: str
    procs: List[Proc]
    ours_proc: Proc

    def check_alive(self) -> None:
        for p in self.procs:
            if not p.alive():
                raise HarnessError(f"a server died during the run.\n{p.describe()}")


@dataclass
class AuthStack:
    repo: Path
    plain: Pair  # auth without audience
    aud: Pair  # audience: feast-client
    services: Dict[str, List[Tuple[str, List[str]]]] = field(default_factory=dict)  # feature services, for column groups


def _serve(name: str, cfg_dir: Path, logs: Path, env, ours_mode: str, our_binary: str,
           cleanups: list) -> Pair:
    feast = [str(Path(sys.executable).parent / "feast"), "-c", str(cfg_dir)]
    fport, oport = harness.free_port(), harness.free_port()
    fproc = Proc.start(f"feast serve ({name})", feast + ["serve", "-h", "127.0.0.1", "-p", str(fport)],
                       logs / f"feast-serve-{name}.log", cfg_dir, env)
    cleanups.append(fproc.stop)
    if ours_mode == "binary":
        argv = [our_binary, "-c", str(cfg_dir), "serve", "-h", "127.0.0.1", "-p", str(oport),
                "--grpc-port", str(harness.free_port())]
        oproc = Proc.start(f"our feature-server ({name})", argv, logs / f"ours-{name}.log", cfg_dir, env)
    else:
        oproc = Proc.start(f"second feast serve ({name})", feast + ["serve", "-h", "127.0.0.1", "-p", str(oport)],
                           logs / f"feast-serve-2-{name}.log", cfg_dir, env)
    cleanups.append(oproc.stop)
    return Pair(f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{oport}", [fproc, oproc], oproc)


@pytest.fixture(scope="module")
def auth_stack(request, idp: IdP, tmp_root: Path, base_env, ours_mode: str, our_binary: str) -> AuthStack:
    vdir = tmp_root / "auth"
    logs = vdir / "logs"
    repo = vdir / "repo"
    env = dict(base_env)
    env.pop("INTRA_COMMUNICATION_BASE64", None)
    cleanups: list = []

    def cleanup():
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                print(f"[auth] cleanup problem: {e}", file=sys.stderr)

    request.addfinalizer(cleanup)

    permissions_goldens.write_repo(repo)
    cfg = yaml.safe_load((repo / "feature_store.yaml").read_text())
    cfg["auth"] = {"type": "oidc", "client_id": CLIENT_ID, "auth_discovery_url": idp.discovery}
    (repo / "feature_store.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    feast = [str(Path(sys.executable).parent / "feast"), "-c", str(repo)]
    harness.run_checked(feast + ["apply"], repo, env, logs / "feast-apply.log")
    harness.run_checked(feast + ["materialize", "2025-12-31T00:00:00", "2026-01-02T00:00:00"], repo, env,
                        logs / "feast-materialize.log")

    # The same registry, online store and data under a config that also checks aud.
    aud_dir = vdir / "aud"
    aud_dir.mkdir(parents=True)
    (aud_dir / "data").symlink_to(repo / "data")
    aud_cfg = dict(cfg, auth=dict(cfg["auth"], audience=CLIENT_ID))
    (aud_dir / "feature_store.yaml").write_text(yaml.safe_dump(aud_cfg, sort_keys=False))

    plain = _serve("plain", repo, logs, env, ours_mode, our_binary, cleanups)
    aud = _serve("aud", aud_dir, logs, env, ours_mode, our_binary, cleanups)
    for pair in (plain, aud):
        harness.wait_healthy(pair.procs[0], pair.feast, timeout=180)
    for pair in (plain, aud):
        harness.wait_healthy(pair.procs[1], pair.ours, timeout=60 if ours_mode == "binary" else 180)
    from conftest import feature_services_of

    return AuthStack(repo, plain, aud, feature_services_of(repo / "data" / "registry.db", PROJECT))


# --------------------------------------------------------------------------
# Requests


def send(base: str, path: str, body: Optional[dict], headers: Dict[str, str]) -> harness.Answer:
    h = {"Content-Type": "application/json", **headers}
    payload = None if body is None else json.dumps(body).encode()
    try:
        return harness.request(base, "POST", path, payload, h, timeout=120)
    except requests.ConnectionError as e:  # a server that resets on a huge header
        return harness.Answer(0, "", f"connection error: {type(e).__name__}", 0.0)


def bearer(tok: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


TS = "2026-01-01T00:00:00+00:00"
ENTITY = {"driver_id": [1]}


def read(features=None, service=None, extra=None) -> dict:
    body = {"entities": dict(ENTITY, **(extra or {}))}
    if service:
        body["feature_service"] = service
    else:
        body["features"] = features
    return body


def push(to: str) -> dict:
    # The columns of driver_stats.parquet (the offline store's file): an offline push must match them.
    return {"push_source_name": "driver_push", "to": to,
            "df": {"driver_id": [7], "rate": [0.75], "trips": [4], "event_timestamp": [TS]}}


FV, FS, ODFV, SFV, BFV = "FEATURE_VIEW", "FEATURE_SERVICE", "ON_DEMAND_FEATURE_VIEW", "STREAM_FEATURE_VIEW", "BATCH_FEATURE_VIEW"
RO, WO, WOFF = ["READ_ONLINE"], ["WRITE_ONLINE"], ["WRITE_OFFLINE"]
BOTH = ["WRITE_OFFLINE", "WRITE_ONLINE"]

# (name, path, body, resources Feast checks [(type, name, actions)]; None: not derived here).
ENDPOINTS = [
    ("read-fv-push-sourced", "/get-online-features", read(["driver_hourly_stats:rate"]), [(FV, "driver_hourly_stats", RO)]),
    ("read-fv-file", "/get-online-features", read(["driver_daily:trips"]), [(FV, "driver_daily", RO)]),
    ("read-fv-customer", "/get-online-features", {"entities": {"customer_id": [1]}, "features": ["customer_profile:age"]},
     [(FV, "customer_profile", RO)]),
    ("read-two-views", "/get-online-features", read(["driver_daily:trips", "driver_hourly_stats:rate"]),
     [(FV, "driver_daily", RO), (FV, "driver_hourly_stats", RO)]),
    ("read-sfv", "/get-online-features", read(["driver_stream:rate"]), [(SFV, "driver_stream", RO)]),
    ("read-bfv", "/get-online-features", read(["driver_batch:trips"]), [(BFV, "driver_batch", RO)]),
    ("read-odfv", "/get-online-features", read(["driver_rate_plus:rate_plus"], extra={"bonus": [1.0]}),
     [(ODFV, "driver_rate_plus", RO), (FV, "driver_hourly_stats", RO)]),
    ("read-fs-driver", "/get-online-features", read(service="driver_service", extra={"bonus": [1.0]}),
     [(FS, "driver_service", RO)]),
    ("read-fs-customer", "/get-online-features", {"entities": {"customer_id": [1]}, "feature_service": "customer_service"},
     [(FS, "customer_service", RO)]),
    ("push-online", "/push", push("online"), [(FV, "driver_hourly_stats", WO)]),
    ("push-offline", "/push", push("offline"), [(FV, "driver_hourly_stats", WOFF)]),
    ("push-online-and-offline", "/push", push("online_and_offline"), [(FV, "driver_hourly_stats", BOTH)]),
    ("write-driver-daily", "/write-to-online-store",
     {"feature_view_name": "driver_daily", "df": {"driver_id": [8], "trips": [5], "event_timestamp": [TS]}},
     [(FV, "driver_daily", WO)]),
    ("write-customer", "/write-to-online-store",
     {"feature_view_name": "customer_profile", "df": {"customer_id": [8], "age": [40], "event_timestamp": [TS]}},
     [(FV, "customer_profile", WO)]),
    ("materialize-driver-daily", "/materialize",
     {"start_ts": "2025-12-31T00:00:00", "end_ts": "2026-01-02T00:00:00", "feature_views": ["driver_daily"]},
     [(FV, "driver_daily", WO)]),
    ("materialize-customer", "/materialize",
     {"start_ts": "2025-12-31T00:00:00", "end_ts": "2026-01-02T00:00:00", "feature_views": ["customer_profile"]},
     [(FV, "customer_profile", WO)]),
    ("materialize-all", "/materialize", {"start_ts": "2025-12-31T00:00:00", "end_ts": "2026-01-02T00:00:00"}, None),
    ("materialize-incremental-driver-daily", "/materialize-incremental",
     {"end_ts": "2026-01-02T00:00:00", "feature_views": ["driver_daily"]}, [(FV, "driver_daily", WO)]),
]


def _decisions() -> Dict[Tuple[str, str, str, Tuple[str, ...]], bool]:
    doc = json.loads(DECISIONS.read_text())
    return {(c["user"], c["resource"]["type"], c["resource"]["name"], tuple(c["actions"])): c["check"].get("result") == "allowed"
            for c in doc["cells"]}


def expected_allowed(decisions, user: str, resources) -> Optional[bool]:
    if resources is None:
        return None
    return all(decisions[(user, t, n, tuple(a))] for t, n, a in resources)


def record(stack: "AuthStack", test: str, case: str, f: harness.Answer, o: harness.Answer) -> None:
    """One line of CONFORMANCE_TMP/auth/matrix.jsonl (KEEP_TMP=1 keeps it): both statuses."""
    with open(stack.repo.parent / "matrix.jsonl", "a") as fh:
        fh.write(json.dumps({"test": test, "case": case, "feast": f.status, "ours": o.status,
                             "feast_body": f.text[:200], "ours_body": o.text[:200]}) + "\n")


def compare(case: str, f: harness.Answer, o: harness.Answer, ours_mode: str,
            read_body: Optional[dict] = None, stack: Optional["AuthStack"] = None) -> List[str]:
    """Differences between Feast's answer and ours: the status; the body of a 401/403; for a
    read (read_body given) that both answer 200, the features, by the suite's rules."""
    if ours_mode == "binary" and case in DELIBERATE:
        want, why = DELIBERATE[case]
        return [] if o.status == want else [f"{case}: ours {o.status}, want {want} ({why}); Feast {f.for_report(300)}"]
    if f.status != o.status:
        return [f"{case}: status Feast {f.status}, ours {o.status}\n    Feast: {f.for_report(400)}\n    ours:  {o.for_report(400)}"]
    if f.status in (401, 403):
        if not harness.same_json(f.parsed()[1], o.parsed()[1]):
            return [f"{case}: {f.status} body\n    Feast: {f.text[:400]}\n    ours:  {o.text[:400]}"]
    if f.status == 200 and read_body is not None and stack is not None:
        ok, got = o.parsed()
        if not ok:
            return [f"{case}: our 200 body is not JSON: {o.for_report(300)}"]
        diffs = harness.compare_success(f.parsed()[1], got, harness.column_groups(read_body, stack.services), False)
        return [f"{case}: {d}" for d in diffs]
    return []


# --------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("user", USERS)
def test_user_matrix(auth_stack: AuthStack, idp: IdP, user: str, ours_mode: str):
    decisions = _decisions()
    pair = auth_stack.plain
    tok = idp.token(user)
    problems, seen = [], {"allowed": 0, "denied": 0}
    for name, path, body, resources in ENDPOINTS:
        f = send(pair.feast, path, body, bearer(tok))
        o = send(pair.ours, path, body, bearer(tok))
        record(auth_stack, "user_matrix", f"{user} {name}", f, o)
        want = expected_allowed(decisions, user, resources)
        if f.status == 403:
            seen["denied"] += 1
            detail = f.parsed()[1]
            if not (isinstance(detail, dict) and "Permission error" in json.dumps(detail)) and "Permission error" not in f.text:
                problems.append(f"{name}: Feast's 403 is not a FeastPermissionError: {f.for_report(300)}")
        elif 200 <= f.status < 300:
            seen["allowed"] += 1
        else:
            problems.append(f"{name}: Feast answered {f.for_report(400)} (the case is broken: want 2xx or 403)")
        if want is not None and (f.status == 403 or 200 <= f.status < 300) and (f.status == 403) == want:
            problems.append(f"{name}: Feast answered {f.status} but decisions.json says {'allowed' if want else 'denied'}")
        problems += compare(name, f, o, ours_mode, body if path == "/get-online-features" else None, auth_stack)
    pair.check_alive()
    assert not problems, f"user {user}:\n  " + "\n  ".join(problems)
    if user == "carol":
        assert seen["denied"] == 0, seen
    if user == "nobody":
        assert seen["allowed"] == 0, seen


@pytest.fixture(scope="module")
def short_token(idp: IdP) -> Tuple[str, float]:
    """alice's token from feast-short (1 s), minted when the module starts so the wait for it
    to be past Feast's leeway overlaps the other tests."""
    tok = idp.token("alice", client_id="feast-short", secret="short-secret")
    return tok, float(claims(tok)["exp"])


@pytest.fixture(scope="module")
def bad_tokens(idp: IdP, short_token) -> Dict[str, Tuple[Optional[Dict[str, str]], bool]]:
    """case -> (headers, on the audience pair)."""
    good = idp.token("alice")
    return {
        "good": (bearer(good), False),
        "good-lowercase-scheme": ({"Authorization": f"bearer {good}"}, False),
        "no-header": ({}, False),
        "empty-header": ({"Authorization": ""}, False),
        "bearer-alone": ({"Authorization": "Bearer"}, False),
        "bearer-space": ({"Authorization": "Bearer "}, False),
        "garbage": ({"Authorization": "Bearer garbage"}, False),
        "three-words": ({"Authorization": f"Bearer {good} x"}, False),
        "basic-scheme": ({"Authorization": "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="}, False),
        "token-without-scheme": ({"Authorization": good}, False),
        "wrong-signature": (bearer(wrong_signature(good)), False),
        "forged-roles": (bearer(with_claims(good, resource_access={CLIENT_ID: {"roles": ["admin"]}})), False),
        "alg-none": (bearer(alg_none(good)), False),
        "other-issuer": (bearer(idp.token("alice", discovery=idp.other_discovery)), False),
        "wrong-audience-not-checked": (bearer(idp.token("alice", client_id="feast-other", secret="other-secret")), False),
        "wrong-audience": (bearer(idp.token("alice", client_id="feast-other", secret="other-secret")), True),
        "good-audience": (bearer(good), True),
        "expired": (bearer(short_token[0]), False),
        "header-32KiB": ({"Authorization": "Bearer " + "a" * 32768}, False),
        "header-64KiB": ({"Authorization": "Bearer " + "a" * 65536}, False),
    }


# Feast's status for each case: 200 for a good token, 403 for a valid one without roles, 401 else.
BAD_EXPECT = {"good": 200, "good-lowercase-scheme": 200, "good-audience": 200, "wrong-audience-not-checked": 403}


@pytest.mark.parametrize("case", ["good", "good-lowercase-scheme", "no-header", "empty-header", "bearer-alone",
                                  "bearer-space", "garbage", "three-words", "basic-scheme", "token-without-scheme",
                                  "wrong-signature", "forged-roles", "alg-none", "other-issuer",
                                  "wrong-audience-not-checked", "wrong-audience", "good-audience", "expired",
                                  "header-32KiB", "header-64KiB"])
def test_bad_token(auth_stack: AuthStack, bad_tokens, short_token, case: str, ours_mode: str):
    headers, on_aud = bad_tokens[case]
    if case == "expired":
        wait = short_token[1] + FEAST_LEEWAY + 1 - time.time()
        if wait > 0:
            time.sleep(wait)
    pair = auth_stack.aud if on_aud else auth_stack.plain
    body = read(["driver_daily:trips"])
    f = send(pair.feast, "/get-online-features", body, headers)
    o = send(pair.ours, "/get-online-features", body, headers)
    record(auth_stack, "bad_token", case, f, o)
    pair.check_alive()
    if case != "header-64KiB":
        want = BAD_EXPECT.get(case, 401)
        assert f.status == want, f"{case}: Feast answered {f.for_report(400)}, the case expects {want}"
        if want == 401:
            assert f.parsed()[1] in ({"detail": "Invalid or expired access token"}, {"detail": "Missing authentication token"}), f.text
    problems = compare(case, f, o, ours_mode, body, auth_stack)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# Feast's own client


def _sdk_store(d: Path, idp: IdP, user: str, registry, **stores):
    """Feast's FeatureStore in a client repo d, logging in as user (the password grant of
    Feast's OidcAuthClientManager), with the given registry and stores."""
    from feast import FeatureStore

    d.mkdir(parents=True, exist_ok=True)
    (d / "feature_store.yaml").write_text(yaml.safe_dump({
        "project": PROJECT,
        "registry": registry,
        "provider": "local",
        **stores,
        "auth": {"type": "oidc", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                 "auth_discovery_url": idp.discovery, "username": user, "password": password(user)},
        "entity_key_serialization_version": 3,
    }))
    return FeatureStore(repo_path=str(d))


def _client_store(tmp: Path, name: str, url: str, idp: IdP, user: str, registry: Path):
    return _sdk_store(tmp / "auth-clients" / name / user, idp, user, str(registry),
                      online_store={"type": "remote", "path": url})


def _outcome(fn) -> str:
    """'ok', or the HTTP status (and the server's text) in the SDK's error."""
    import re

    try:
        fn()
        return "ok"
    except Exception as e:  # the SDK raises RuntimeError with the status and body
        msg = str(e)
        m = re.search(r"Error_code=(\d+)|features: (\d+)", msg)
        code = next((g for g in m.groups() if g), "?") if m else "?"
        body = msg.split("error_message=", 1)[-1] if "error_message=" in msg else msg.split(code, 1)[-1]
        return f"{code} {body.strip()[:300]}"


@pytest.mark.parametrize("user", ["alice", "bob", "ivy", "nobody"])
def test_feast_client(auth_stack: AuthStack, idp: IdP, tmp_root: Path, user: str):
    import pandas as pd

    from feast.data_source import PushMode

    registry = auth_stack.repo / "data" / "registry.db"
    pair = auth_stack.plain
    stores = {side: _client_store(tmp_root, side, url, idp, user, registry)
              for side, url in (("feast", pair.feast), ("ours", pair.ours))}
    df = pd.DataFrame({"driver_id": [9], "rate": [0.25], "trips": [2],
                       "event_timestamp": [pd.Timestamp(TS, tz="UTC")]})
    flows = {
        "get_online_features driver_daily": lambda fs: fs.get_online_features(
            features=["driver_daily:trips"], entity_rows=[{"driver_id": 1}]).to_dict(),
        "get_online_features driver_service": lambda fs: fs.get_online_features(
            features=fs.get_feature_service("driver_service"), entity_rows=[{"driver_id": 1, "bonus": 1.0}]).to_dict(),
        "push online": lambda fs: fs.push("driver_push", df, to=PushMode.ONLINE),
    }
    decisions = _decisions()
    want = {
        "get_online_features driver_daily": decisions[(user, FV, "driver_daily", ("READ_ONLINE",))],
        "get_online_features driver_service": decisions[(user, FS, "driver_service", ("READ_ONLINE",))],
        "push online": decisions[(user, FV, "driver_hourly_stats", ("WRITE_ONLINE",))],
    }
    problems = []
    for name, fn in flows.items():
        got = {side: _outcome(lambda: fn(fs)) for side, fs in stores.items()}
        if (got["feast"] == "ok") != want[name]:
            problems.append(f"{name}: Feast's client got {got['feast']!r}, decisions.json says "
                            f"{'allowed' if want[name] else 'denied'}")
        if got["feast"].split(" ")[0] != got["ours"].split(" ")[0]:
            problems.append(f"{name}: Feast's server {got['feast']!r}, ours {got['ours']!r}")
    pair.check_alive()
    assert not problems, f"user {user}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------
# Feast's client over Arrow Flight: `offline_store: type: remote` against `feast serve_offline`
# and ours on the same repo, with the same auth block.


@pytest.fixture(scope="module")
def offline_servers(request, auth_stack: AuthStack, base_env, ours_mode: str, our_binary: str) -> Dict[str, int]:
    """side -> port of serve_offline on the auth repo: Feast's and ours."""
    if ours_mode != "binary":
        pytest.skip("compares our serve_offline with feast serve_offline")
    env = dict(base_env)
    env.pop("INTRA_COMMUNICATION_BASE64", None)
    logs = auth_stack.repo.parent / "logs"
    ports = {}
    for side, argv0 in (("feast", [str(Path(sys.executable).parent / "feast")]), ("ours", [our_binary])):
        port = harness.free_port()
        p = Proc.start(f"{side} serve_offline (auth)", argv0 + ["-c", str(auth_stack.repo), "serve_offline", "-h", "127.0.0.1",
                                                               "-p", str(port)], logs / f"{side}-serve-offline.log", auth_stack.repo, env)
        request.addfinalizer(p.stop)
        harness.wait_listening(p, port)
        ports[side] = port
    return ports


def _offline_client(tmp: Path, side: str, port: int, idp: IdP, user: str, registry: Path):
    d = tmp / "auth-offline-clients" / side / user
    return _sdk_store(d, idp, user, str(registry), online_store={"type": "sqlite", "path": str(d / "online.db")},
                      offline_store={"type": "remote", "host": "127.0.0.1", "port": port})


def _flight_outcome(fn) -> str:
    """'ok', or the class and message of the error Feast's client raises (it rebuilds a
    FeastError from the server's JSON, whatever the Flight status carrying it)."""
    try:
        fn()
        return "ok"
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:600]}"


@pytest.mark.parametrize("user", ["alice", "bob", "ivy", "carol", "nobody"])
def test_feast_offline_client(auth_stack: AuthStack, offline_servers: Dict[str, int], idp: IdP, tmp_root: Path, user: str):
    """Each user's training sets and offline writes through Feast's remote offline store: the
    same outcome from feast serve_offline and ours, and what decisions.json says Feast's
    offline server decides (READ_OFFLINE on every view of a retrieval; for a write,
    READ_OFFLINE on the view's source and WRITE_OFFLINE on the view)."""
    import pandas as pd

    registry = auth_stack.repo / "data" / "registry.db"
    stores = {side: _offline_client(tmp_root, side, port, idp, user, registry) for side, port in offline_servers.items()}
    edf = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [pd.Timestamp(TS, tz="UTC")] * 2})
    rows = pd.DataFrame({"driver_id": [9], "rate": [0.25], "trips": [2], "event_timestamp": [pd.Timestamp(TS, tz="UTC")]})
    flows = {
        "historical driver_daily": (lambda fs: fs.get_historical_features(entity_df=edf, features=["driver_daily:trips"]).to_df(),
                                    [(FV, "driver_daily", ["READ_OFFLINE"])]),
        "historical two views": (lambda fs: fs.get_historical_features(
            entity_df=edf, features=["driver_daily:trips", "driver_hourly_stats:rate"]).to_df(),
            [(FV, "driver_daily", ["READ_OFFLINE"]), (FV, "driver_hourly_stats", ["READ_OFFLINE"])]),
        # The client first asks for the source's columns (get_table_column_names_and_types:
        # READ_OFFLINE on the data source), then writes (WRITE_OFFLINE on the view).
        "write_to_offline_store driver_daily": (lambda fs: fs.write_to_offline_store("driver_daily", rows),
                                                [("DATA_SOURCE", "driver_stats_source", ["READ_OFFLINE"]),
                                                 (FV, "driver_daily", ["WRITE_OFFLINE"])]),
    }
    decisions = _decisions()
    problems = []
    for name, (fn, resources) in flows.items():
        got = {side: _flight_outcome(lambda: fn(fs)) for side, fs in stores.items()}
        with open(auth_stack.repo.parent / "matrix.jsonl", "a") as fh:
            fh.write(json.dumps({"test": "feast_offline_client", "case": f"{user} {name}", **got}) + "\n")
        want = expected_allowed(decisions, user, resources)
        if (got["feast"] == "ok") != want:
            problems.append(f"{name}: Feast's server gave {got['feast']!r}, decisions.json says {'allowed' if want else 'denied'}")
        if got["feast"] != got["ours"]:
            problems.append(f"{name}:\n    Feast's server: {got['feast']!r}\n    ours:           {got['ours']!r}")
    assert not problems, f"user {user}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------
# Feast's client over the registry server: `registry_type: remote` against `feast
# serve_registry` and ours, each on its own copy of the auth repo (applies write to it).


@pytest.fixture(scope="module")
def registry_servers(request, auth_stack: AuthStack, base_env, ours_mode: str, our_binary: str) -> Dict[str, int]:
    """side -> port of serve_registry: Feast's and ours, same auth block, same objects."""
    if ours_mode != "binary":
        pytest.skip("compares our serve_registry with feast serve_registry")
    env = dict(base_env)
    env.pop("INTRA_COMMUNICATION_BASE64", None)
    logs = auth_stack.repo.parent / "logs"
    ports = {}
    for side, argv0 in (("feast", [str(Path(sys.executable).parent / "feast")]), ("ours", [our_binary])):
        repo = auth_stack.repo.parent / f"registry-{side}"
        if repo.exists():
            shutil.rmtree(repo)
        shutil.copytree(auth_stack.repo, repo)
        port = harness.free_port()
        p = Proc.start(f"{side} serve_registry (auth)", argv0 + ["-c", str(repo), "serve_registry", "-p", str(port)],
                       logs / f"{side}-serve-registry.log", repo, env)
        request.addfinalizer(p.stop)
        harness.wait_listening(p, port)
        ports[side] = port
    return ports


def _registry_client(tmp: Path, side: str, port: int, idp: IdP, user: str):
    d = tmp / "auth-registry-clients" / side / user
    return _sdk_store(d, idp, user, {"registry_type": "remote", "path": f"127.0.0.1:{port}"},
                      online_store={"type": "sqlite", "path": str(d / "online.db")})


@pytest.mark.parametrize("user", ["alice", "bob", "ivy", "carol", "nobody"])
def test_feast_registry_client(auth_stack: AuthStack, registry_servers: Dict[str, int], idp: IdP, tmp_root: Path, user: str):
    """Each user's lists, gets and an apply through Feast's remote registry client: the same
    outcome (objects, or the error's class and message) from feast serve_registry and ours;
    a get is allowed exactly when decisions.json lets the user DESCRIBE the object."""
    from feast import Entity

    stores = {side: _registry_client(tmp_root, side, port, idp, user) for side, port in registry_servers.items()}
    decisions = _decisions()

    def names(objs) -> str:
        return "ok " + ",".join(sorted(o.name for o in objs))

    flows = {
        "list_feature_views": lambda fs: names(fs.list_feature_views()),
        "list_entities": lambda fs: names(fs.list_entities()),
        "list_feature_services": lambda fs: names(fs.list_feature_services()),
        "list_on_demand_feature_views": lambda fs: names(fs.list_on_demand_feature_views()),
        "list_data_sources": lambda fs: names(fs.list_data_sources()),
        "get_feature_view driver_daily": lambda fs: names([fs.get_feature_view("driver_daily")]),
        "get_feature_service customer_service": lambda fs: names([fs.get_feature_service("customer_service")]),
        "get_entity customer": lambda fs: names([fs.get_entity("customer")]),
        # A new entity: CREATE on it (every user's own name, so each apply is new).
        "apply_entity": lambda fs: fs._registry.apply_entity(Entity(name=f"probe_{user}", join_keys=["probe_id"]), PROJECT) or "ok",
    }

    # Lists are not derived from decisions.json: Feast's client-side listing raises on the first
    # object a user may not DESCRIBE rather than leaving it out (both servers answer alike).
    want = {
        "get_feature_view driver_daily": "ok driver_daily" if decisions[(user, FV, "driver_daily", ("DESCRIBE",))] else None,
        "get_feature_service customer_service": "ok customer_service" if decisions[(user, FS, "customer_service", ("DESCRIBE",))] else None,
        "get_entity customer": "ok customer" if decisions[(user, "ENTITY", "customer", ("DESCRIBE",))] else None,
    }

    def outcome(fn) -> str:
        try:
            return fn()
        except Exception as e:
            return f"{type(e).__name__}: {str(e)[:600]}"

    problems, seen = [], {}
    for name, fn in flows.items():
        got = {side: outcome(lambda: fn(fs)) for side, fs in stores.items()}
        seen[name] = got["feast"]
        with open(auth_stack.repo.parent / "matrix.jsonl", "a") as fh:
            fh.write(json.dumps({"test": "feast_registry_client", "case": f"{user} {name}", **got}) + "\n")
        if name in want:
            w = want[name]
            if (w is None and got["feast"].startswith("ok")) or (w is not None and got["feast"] != w):
                problems.append(f"{name}: Feast's server gave {got['feast']!r}, decisions.json says {w or 'denied'!r}")
        if got["feast"] != got["ours"]:
            problems.append(f"{name}:\n    Feast's server: {got['feast']!r}\n    ours:           {got['ours']!r}")
    if user == "carol":  # admin: every view, service and entity (its permission names no data sources)
        problems += [f"carol {n}: {o}" for n, o in seen.items() if n != "list_data_sources" and not o.startswith("ok")]
    assert not problems, f"user {user}:\n  " + "\n  ".join(problems)
