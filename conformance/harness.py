"""Plumbing for the conformance suite: processes, ports, requests, comparison.

Everything here runs inside the Feast virtualenv (see run.sh), so `feast`,
`yaml`, `requests` and Feast's generated protos are importable.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import requests

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE_DIR = Path(__file__).resolve().parent
CASES_DIR = CONFORMANCE_DIR / "cases"
GOLDEN_DIR = ROOT / "server" / "testdata" / "golden"
FEATURE_REPO = ROOT / "feature_repo"
SERVICES_SH = ROOT / "scripts" / "services.sh"

MATERIALIZE_START = "2025-01-01T00:00:00"
MATERIALIZE_END = "2025-01-08T00:00:00"
EPOCH = "1970-01-01T00:00:00Z"

# Statuses our server may answer where Feast answers a 5xx for a client mistake.
CLIENT_ERROR_STATUSES = {400, 404, 413, 422}


class HarnessError(Exception):
    """A problem with the environment or the harness itself, not a conformance difference."""


# --------------------------------------------------------------------------
# Ports and processes


def free_port(span: int = 1, also_bus: bool = False) -> int:
    """A port P such that P..P+span-1 (and P+10000.. for Redis Cluster buses) look free."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + span + 10000 >= 65535 and also_bus:
            continue
        wanted = list(range(base, base + span))
        if also_bus:
            wanted += [p + 10000 for p in wanted]
        if all(_port_is_free(p) for p in wanted):
            return base
    raise HarnessError("could not find free ports")


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Proc:
    """A long-running child process in its own process group, logging to a file."""

    name: str
    argv: List[str]
    log: Path
    popen: subprocess.Popen

    @classmethod
    def start(cls, name: str, argv: Sequence[str], log: Path, cwd: Path, env: Dict[str, str]) -> "Proc":
        log.parent.mkdir(parents=True, exist_ok=True)
        fh = open(log, "wb")
        try:
            p = subprocess.Popen(
                list(argv), cwd=str(cwd), env=env, stdout=fh, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            fh.close()
        _record_group(p.pid, add=True)
        return cls(name, list(argv), log, p)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process group this process leads (it was started with its own session)."""
        try:
            self._stop(timeout)
        finally:
            if self.popen.poll() is not None:
                _record_group(self.popen.pid, add=False)

    def _stop(self, timeout: float) -> None:
        if self.popen.poll() is not None:
            return
        pgid = self.popen.pid  # start_new_session: the child leads its own group
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(wait)
                # Workers (gunicorn) may outlive the master briefly; one more signal to the group.
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            except subprocess.TimeoutExpired:
                continue

    def describe(self) -> str:
        rc = self.popen.poll()
        state = "running" if rc is None else f"exited with code {rc}"
        return f"{self.name} ({' '.join(self.argv)}) {state}; last log lines of {self.log}:\n{tail(self.log)}"


def _record_group(pgid: int, add: bool) -> None:
    """Keep CONFORMANCE_TMP/process-groups = the groups still running, for run.sh's trap
    (it stops them if pytest dies before its finalizers)."""
    tmp = os.environ.get("CONFORMANCE_TMP")
    if not tmp:
        return
    path = Path(tmp) / "process-groups"
    ids = path.read_text().split() if path.exists() else []
    ids = [i for i in ids if i != str(pgid)] + ([str(pgid)] if add else [])
    path.write_text("".join(i + "\n" for i in ids))


def wait_listening(proc: Proc, port: int, timeout: float = 120) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port (a Flight or gRPC
    server with no HTTP health); fail with the process log on exit or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise HarnessError(proc.describe())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise HarnessError(f"{proc.name} did not listen on {port} in {timeout:.0f}s\n{proc.describe()}")


def wait_healthy(proc: Proc, base_url: str, timeout: float) -> None:
    """Poll GET /health until 200; fail with the process log on exit or timeout."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise HarnessError(f"{proc.name} exited before becoming healthy.\n{proc.describe()}")
        try:
            r = requests.get(base_url + "/health", timeout=2)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except requests.RequestException as e:
            last = f"{type(e).__name__}"
        time.sleep(0.2)
    raise HarnessError(
        f"{proc.name} not healthy at {base_url}/health after {timeout:.0f}s (last: {last}).\n{proc.describe()}"
    )


def run_checked(argv: Sequence[str], cwd: Path, env: Dict[str, str], log: Path, timeout: float = 300) -> None:
    """Run a command to completion; on failure raise with its output."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        fh.write(("\n$ " + " ".join(argv) + "\n").encode())
        fh.flush()
        try:
            rc = subprocess.run(
                list(argv), cwd=str(cwd), env=env, stdout=fh, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            raise HarnessError(f"timed out after {timeout}s: {' '.join(argv)}\n{tail(log)}")
    if rc != 0:
        raise HarnessError(f"command failed with code {rc}: {' '.join(argv)}\n{tail(log)}")


# --------------------------------------------------------------------------
# Cases and HTTP


@dataclass
class Case:
    name: str
    path: str
    body: Any  # a JSON value, a raw string sent verbatim when raw is True, or None: no body
    expect: str
    description: str = ""
    raw: bool = False
    method: str = "POST"
    headers: Optional[Dict[str, str]] = None  # None: Content-Type: application/json
    # expect "refused" only: text our error message must contain (e.g. the missing key).
    error_has: str = ""

    @property
    def payload(self) -> Optional[bytes]:
        if self.body is None:
            return None
        if self.raw:
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")

    @property
    def request_headers(self) -> Dict[str, str]:
        return DEFAULT_HEADERS if self.headers is None else self.headers

    def send(self, base_url: str, timeout: float = 120) -> "Answer":
        return request(base_url, self.method, self.path, self.payload, self.request_headers, timeout)

    @property
    def json_body(self) -> Optional[dict]:
        """The request as a dict when it is one (used to find columns' views)."""
        if self.raw:
            try:
                b = json.loads(self.body)
            except ValueError:
                return None
        else:
            b = self.body
        return b if isinstance(b, dict) else None

    def golden_doc(self, answer: "Answer") -> Dict[str, Any]:
        """{"request", "status", "body"}, plus "method"/"path"/"headers" when not the defaults."""
        _, body = answer.parsed()
        doc: Dict[str, Any] = {"request": self.body}
        if self.method != "POST":
            doc["method"] = self.method
        if self.path != "/get-online-features":
            doc["path"] = self.path
        if self.headers is not None:
            doc["headers"] = self.headers
        if self.expect == "refused":
            doc["expect"] = self.expect
        doc["status"] = answer.status
        doc["body"] = body
        return doc


# "same": Feast answers 200 and ours must equal it. "client_error": Feast answers 4xx/5xx
# (policy (c)). "refused": Feast answers 200, but the request is a client mistake that ours
# refuses with 400 in Feast's error shape (a deliberate difference, docs/compatibility.md).
EXPECTATIONS = ("same", "client_error", "refused")


def load_cases(cases_dir: Path = CASES_DIR) -> List[Case]:
    cases = []
    for p in sorted(cases_dir.glob("*.json")):
        d = json.loads(p.read_text())
        if d.get("name") != p.stem:
            raise HarnessError(f"{p}: name {d.get('name')!r} must equal the file name")
        unknown = set(d) - {"name", "description", "path", "method", "headers", "body", "expect", "error_has"}
        if unknown:
            raise HarnessError(f"{p}: unknown keys {sorted(unknown)}")
        if d.get("expect") not in EXPECTATIONS:
            raise HarnessError(f"{p}: expect must be one of {EXPECTATIONS}")
        if "error_has" in d and d["expect"] != "refused":
            raise HarnessError(f"{p}: error_has is only for expect 'refused'")
        body = d["body"]
        cases.append(Case(
            name=d["name"], path=d.get("path", "/get-online-features"), body=body,
            expect=d["expect"], description=d.get("description", ""), raw=isinstance(body, str),
            method=d.get("method", "POST"), headers=d.get("headers"), error_has=d.get("error_has", ""),
        ))
    return cases


@dataclass
class Answer:
    status: int
    content_type: str
    text: str
    elapsed: float

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def parsed(self) -> Tuple[bool, Any]:
        try:
            return True, json.loads(self.text)
        except ValueError:
            return False, self.text

    def for_report(self, limit: int = 4000) -> str:
        t = self.text if len(self.text) <= limit else self.text[:limit] + f"... ({len(self.text)} chars)"
        return f"HTTP {self.status} [{self.content_type}] {t}"


DEFAULT_HEADERS = {"Content-Type": "application/json"}


def request(base_url: str, method: str, path: str, payload: Optional[bytes], headers: Dict[str, str], timeout: float = 120) -> Answer:
    t0 = time.monotonic()
    # requests adds no Content-Type of its own for bytes data, so {} really sends none.
    r = requests.request(method, base_url + path, data=payload, headers=headers, timeout=timeout)
    return Answer(r.status_code, r.headers.get("content-type", ""), r.text, time.monotonic() - t0)


def post(base_url: str, path: str, payload: bytes, timeout: float = 120) -> Answer:
    return request(base_url, "POST", path, payload, DEFAULT_HEADERS, timeout)


# --------------------------------------------------------------------------
# Column grouping (policy (a): within-view order may differ)


def column_groups(request: Optional[dict], services: Dict[str, List[Tuple[str, List[str]]]]) -> Dict[str, str]:
    """Map each output column name to the view (projection) it belongs to.

    Built from the request: plain refs `view:feature`, or the feature service's
    projections (name-to-use, features) taken from the registry. Columns that are
    not in the map (join keys) keep a fixed position in the comparison.
    """
    if not request:
        return {}
    full = request.get("full_feature_names") is True
    groups: Dict[str, str] = {}
    pairs: List[Tuple[str, str]] = []
    svc = request.get("feature_service")
    if isinstance(svc, str) and svc and svc in services:
        for view, feats in services[svc]:
            pairs += [(view, f) for f in feats]
    else:
        feats = request.get("features")
        if isinstance(feats, list):
            for ref in feats:
                if isinstance(ref, str) and ":" in ref:
                    view, f = ref.split(":", 1)
                    pairs.append((view, f))
    for view, f in pairs:
        groups[f"{view}__{f}" if full else f] = view
    return groups


def segments(names: Sequence[str], groups: Dict[str, str]) -> List[Tuple[str, Any]]:
    """Collapse consecutive columns of one view into a set; other columns stay single."""
    out: List[Tuple[str, Any]] = []
    for n in names:
        g = groups.get(n)
        if g is not None and out and out[-1][0] == "view:" + g:
            out[-1][1].add(n)
        elif g is not None:
            out.append(("view:" + g, {n}))
        else:
            out.append(("column", n))
    return [(k, sorted(v) if isinstance(v, set) else v) for k, v in out]


# --------------------------------------------------------------------------
# Strict JSON equality (policy (d): floats compared as parsed Python floats)


def same_json(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return a == b


def j(v: Any) -> str:
    return json.dumps(v)


# --------------------------------------------------------------------------
# Comparison of two 200 answers


def compare_success(expected: Any, actual: Any, groups: Dict[str, str], redis_missing_rule: bool) -> List[str]:
    """Differences between Feast's and our /get-online-features bodies, after the policy's normalisations."""
    diffs: List[str] = []
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        return [f"body is not a JSON object: expected {type(expected).__name__}, got {type(actual).__name__}"]
    if expected.keys() != actual.keys():
        diffs.append(f"top-level keys: expected {sorted(expected)}, got {sorted(actual)}")
    em, am = expected.get("metadata"), actual.get("metadata")
    if not isinstance(am, dict) or not isinstance(em, dict):
        return diffs + [f"metadata: expected {j(em)}, got {j(am)}"]
    if em.keys() != am.keys():
        diffs.append(f"metadata keys: expected {sorted(em)}, got {sorted(am)}")
    en, an = em.get("feature_names"), am.get("feature_names")
    if not isinstance(an, list) or not all(isinstance(x, str) for x in an):
        return diffs + [f"metadata.feature_names: expected {j(en)}, got {j(an)}"]
    if segments(en, groups) != segments(an, groups):
        diffs.append(
            "metadata.feature_names: expected " + j(en) + ", got " + j(an)
            + " (join keys must come first in the same order, then each view's features as a group in the same group order)"
        )
    er, ar = expected.get("results"), actual.get("results")
    if not isinstance(ar, list) or len(ar) != len(an):
        return diffs + [f"results: expected a list of {len(en)} columns, got {j(ar)[:500]}"]
    if len(set(en)) != len(en) or len(set(an)) != len(an):
        # duplicate column names: only a positional comparison is meaningful
        epairs = list(zip(en, er))
        apairs = list(zip(an, ar))
        if en != an:
            diffs.append("duplicate column names; positional comparison requires the same order")
            return diffs
    else:
        emap = dict(zip(en, er))
        amap = dict(zip(an, ar))
        epairs = [(n, emap[n]) for n in en if n in amap]
        apairs = [(n, amap[n]) for n in en if n in amap]
        missing = [n for n in en if n not in amap]
        extra = [n for n in an if n not in emap]
        if missing or extra:
            diffs.append(f"columns missing from our answer: {missing}; unexpected columns: {extra}")
    for (name, ecol), (_, acol) in zip(epairs, apairs):
        diffs += compare_column(name, ecol, acol, redis_missing_rule)
    return diffs


def compare_column(name: str, e: Any, a: Any, redis_missing_rule: bool) -> List[str]:
    if not isinstance(a, dict):
        return [f"column {name!r}: expected an object, got {j(a)[:300]}"]
    diffs = []
    if e.keys() != a.keys():
        diffs.append(f"column {name!r}: keys expected {sorted(e)}, got {sorted(a)}")
    ev, av = e.get("values", []), a.get("values")
    es, as_ = e.get("statuses", []), a.get("statuses")
    et, at = e.get("event_timestamps", []), a.get("event_timestamps")
    for key, x, y in (("values", ev, av), ("statuses", es, as_), ("event_timestamps", et, at)):
        if key in e and (not isinstance(y, list) or len(y) != len(x)):
            diffs.append(f"column {name!r}: {key} expected {j(x)[:300]}, got {j(y)[:300]}")
    if diffs:
        return diffs
    for row in range(len(ev)):
        cell_e = (ev[row], es[row] if es else None, et[row] if et else None)
        cell_a = (av[row], as_[row] if es else None, at[row] if et else None)
        if all(same_json(x, y) for x, y in zip(cell_e, cell_a)):
            continue
        if (
            redis_missing_rule
            and cell_e == (None, "PRESENT", EPOCH)
            and cell_a[0] is None and cell_a[1] == "NOT_FOUND" and cell_a[2] == EPOCH
        ):
            continue  # policy (b): a missing Redis row is NOT_FOUND for us
        diffs.append(
            f"column {name!r} row {row}: expected value={j(cell_e[0])} status={cell_e[1]} ts={cell_e[2]}, "
            f"got value={j(cell_a[0])} status={cell_a[1]} ts={cell_a[2]}"
        )
    return diffs


# --------------------------------------------------------------------------
# Error bodies


def feast_error_object(body_text: str) -> Tuple[Optional[dict], str]:
    """Parse Feast's error shape: a JSON string whose content is {"module","class","message"}."""
    try:
        outer = json.loads(body_text)
    except ValueError as e:
        return None, f"body is not JSON ({e})"
    if not isinstance(outer, str):
        return None, f"body is JSON {type(outer).__name__}, not a JSON string holding an object"
    try:
        inner = json.loads(outer)
    except ValueError as e:
        return None, f"body is a JSON string but its content is not JSON ({e})"
    if not isinstance(inner, dict):
        return None, "body's inner JSON is not an object"
    missing = [k for k in ("module", "class", "message") if not isinstance(inner.get(k), str)]
    if missing:
        return None, f"body's inner object lacks string keys {missing}"
    return inner, ""


def _normalise_error_object(obj: Any) -> Any:
    """Policy (e): Feast lists missing request-data fields in Python set order, which changes
    with the hash seed; we list them sorted. Compare the list as a set."""
    if not isinstance(obj, dict) or obj.get("class") != "RequestDataNotFoundInEntityRowsException":
        return obj
    import re

    def sort_list(m):
        return "[" + ", ".join(sorted(x.strip() for x in m.group(1).split(","))) + "]"

    out = dict(obj)
    out["message"] = re.sub(r"\[([^\]]*)\]", sort_list, str(obj.get("message", "")), count=1)
    return out


def check_feast_expectation(case: Case, feast: Answer) -> None:
    """A case's expect must describe Feast's own answer, else the case file is wrong."""
    if case.expect in ("same", "refused"):
        assert feast.status == 200, (
            f"case {case.name} expects a 200 from Feast but Feast answered {feast.for_report()}: fix the case file"
        )
    else:
        assert feast.status >= 400, (
            f"case {case.name} expects a client error but Feast answered {feast.for_report()}: fix the case file"
        )


def compare_refused(case: Case, actual: Answer) -> List[str]:
    """expect "refused": ours answers 400 in Feast's error shape, naming what is wrong."""
    diffs = []
    if actual.status != 400:
        diffs.append(f"status: expected 400 (a deliberate refusal), got {actual.status}")
    obj, why = feast_error_object(actual.text)
    if why:
        diffs.append("error body is not Feast's error shape: " + why)
    elif case.error_has not in obj["message"]:
        diffs.append(f"error message does not contain {case.error_has!r}: {obj['message']!r}")
    if actual.media_type != "application/json":
        diffs.append(f"content-type: expected application/json, got {actual.content_type!r}")
    return diffs


def compare_error(expected: Answer, actual: Answer, policy: bool = True) -> List[str]:
    """Policy (c): Feast's 5xx → our 4xx with Feast's error shape; Feast's 4xx → the same status and body.

    With policy=False (Feast compared with Feast) every error must simply be equal.
    """
    diffs = []
    if expected.status >= 500 and policy:
        if actual.status not in CLIENT_ERROR_STATUSES:
            diffs.append(
                f"Feast answers {expected.status} for this client mistake; ours must be one of "
                f"{sorted(CLIENT_ERROR_STATUSES)}, got {actual.status}"
            )
        _, why = feast_error_object(actual.text)
        if why:
            diffs.append("error body is not Feast's error shape: " + why)
        if actual.media_type != "application/json":
            diffs.append(f"content-type: expected application/json, got {actual.content_type!r}")
        return diffs
    if actual.status != expected.status:
        diffs.append(f"status: expected {expected.status}, got {actual.status}")
    if actual.media_type != expected.media_type:
        diffs.append(f"content-type: expected {expected.content_type!r}, got {actual.content_type!r}")
    eobj, ewhy = feast_error_object(expected.text)
    if eobj is not None:
        aobj, awhy = feast_error_object(actual.text)
        if aobj is None:
            diffs.append("error body is not Feast's error shape: " + awhy)
        elif _normalise_error_object(aobj) != _normalise_error_object(eobj):
            diffs.append(f"error object: expected {j(eobj)}, got {j(aobj)}")
        return diffs
    ok_e, pe = expected.parsed()
    ok_a, pa = actual.parsed()
    if not ok_a or not same_json(pe, pa):
        diffs.append(f"error body: expected {expected.text[:1000]}, got {actual.text[:1000]}")
    return diffs


# --------------------------------------------------------------------------
# Registry and online-store snapshots (staleness checks)

REGISTRY_KINDS = (
    "projects", "entities", "data_sources", "feature_views", "stream_feature_views",
    "on_demand_feature_views", "label_views", "feature_services", "saved_datasets",
    "validation_references", "permissions",
)


def _scrub(v: Any, repo_dirs: Sequence[str]) -> Any:
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            # dill pickles of UDFs embed the defining file's path; body_text carries the source.
            if k == "body" and "body_text" in v:
                continue
            # timestamps and materialization state live in (possibly embedded) meta messages
            if k in ("meta", "created_timestamp", "last_updated_timestamp"):
                continue
            out[k] = _scrub(x, repo_dirs)
        return out
    if isinstance(v, list):
        return [_scrub(x, repo_dirs) for x in v]
    if isinstance(v, str):
        for d in repo_dirs:
            if d:
                v = v.replace(d, "<repo>")
        return v
    return v


def registry_objects(path: Path, repo_dirs: Sequence[str] = ()) -> Dict[str, Dict[str, Any]]:
    """kind -> name -> the object's spec as a dict, without timestamps, version ids or meta."""
    from google.protobuf.json_format import MessageToDict
    from feast.protos.feast.core.Registry_pb2 import Registry

    reg = Registry()
    reg.ParseFromString(path.read_bytes())
    out: Dict[str, Dict[str, Any]] = {}
    for kind in REGISTRY_KINDS:
        objs = {}
        for msg in getattr(reg, kind, []):
            d = MessageToDict(msg, preserving_proto_field_name=True)
            d.pop("meta", None)
            d.pop("last_updated_timestamp", None)
            spec = d.get("spec", d)
            name = spec.get("name", "")
            project = spec.get("project", d.get("project", ""))
            objs[f"{project}/{name}"] = _scrub(d, repo_dirs)
        out[kind] = objs
    return out


def diff_registry_objects(expected: Dict[str, Dict[str, Any]], actual: Dict[str, Dict[str, Any]]) -> List[str]:
    import difflib

    diffs = []
    for kind in REGISTRY_KINDS:
        e, a = expected.get(kind, {}), actual.get(kind, {})
        for name in sorted(set(e) | set(a)):
            if name not in a:
                diffs.append(f"{kind} {name}: only in the committed registry")
            elif name not in e:
                diffs.append(f"{kind} {name}: only in the fresh `feast apply` registry")
            elif e[name] != a[name]:
                ud = difflib.unified_diff(
                    json.dumps(e[name], indent=1, sort_keys=True).splitlines(),
                    json.dumps(a[name], indent=1, sort_keys=True).splitlines(),
                    "committed", "fresh apply", lineterm="", n=2,
                )
                diffs.append(f"{kind} {name} differs:\n" + "\n".join(list(ud)[:80]))
    return diffs


def sqlite_rows(path: Path) -> Dict[str, List[Tuple]]:
    """table -> sorted rows (blobs as hex) of a Feast SQLite online store."""
    import sqlite3

    con = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {}
        for t in tables:
            rows = []
            for r in con.execute(f'SELECT * FROM "{t}"'):
                rows.append(tuple(x.hex() if isinstance(x, bytes) else x for x in r))
            out[t] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def key_types_from_registry(path: Path) -> Dict[str, int]:
    """Request column name -> declared ValueType of the join key it feeds.

    Covers join keys, (deprecated) entity names, and join_key_map aliases of feature services.
    """
    from feast.protos.feast.core.Registry_pb2 import Registry

    if not path.exists():
        return {}
    reg = Registry()
    reg.ParseFromString(path.read_bytes())
    out: Dict[str, int] = {}
    for e in reg.entities:
        if e.spec.join_key and e.spec.value_type:
            out[e.spec.join_key] = e.spec.value_type
            out[e.spec.name] = e.spec.value_type
    for fs in reg.feature_services:
        for p in fs.spec.features:
            for key, alias in p.join_key_map.items():
                if key in out:
                    out[alias] = out[key]
    return out
