"""Our gRPC ServingService answers like Feast's HTTP API (the policy: same semantics).

Feast's `feast serve` has no gRPC ServingService, so each case is sent to Feast over HTTP
and to our server over gRPC, and the proto answer is rendered with Feast's JSON rules
before comparing. Only cases whose request maps onto the proto without a JSON-level
coercion are used: entity values must already have their join key's declared type
(ints for INT64, strings for STRING; other columns are typed by JSON kind), and the body
must be a well-formed request object. Entity columns come from a proto map, so join-key
columns are compared as a set rather than in request order.

Errors: where Feast answers 404 ours must answer NOT_FOUND; any other Feast error (client
mistakes) must be INVALID_ARGUMENT or NOT_FOUND, never INTERNAL/UNKNOWN.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Dict, Optional

import pytest

import harness
from test_online_features import ALLOWED_501, CASES, feast_answer

import grpc  # installed into the venv by conformance/run.sh
from feast.protos.feast.serving import ServingService_pb2 as sv  # noqa: E402
from feast.protos.feast.serving import ServingService_pb2_grpc as svg  # noqa: E402
from feast.protos.feast.types import Value_pb2 as vpb  # noqa: E402

INT64, STRING = 4, 2  # feast.types.ValueType.Enum


def _typed_value(x: Any) -> Optional[vpb.Value]:
    """A JSON scalar or list as a proto Value by JSON kind; None when not representable."""
    v = vpb.Value()
    if isinstance(x, bool):
        v.bool_val = x
    elif isinstance(x, int):
        if not -(2**63) <= x < 2**63:
            return None
        v.int64_val = x
    elif isinstance(x, float):
        v.double_val = x
    elif isinstance(x, str):
        v.string_val = x
    elif isinstance(x, list):
        if all(isinstance(e, bool) for e in x) and x:
            v.bool_list_val.val.extend(x)
        elif all(isinstance(e, int) and not isinstance(e, bool) for e in x) and x:
            v.int64_list_val.val.extend(x)
        elif all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in x):
            v.double_list_val.val.extend(float(e) for e in x)
        elif all(isinstance(e, str) for e in x):
            v.string_list_val.val.extend(x)
        else:
            return None
    else:
        return None
    return v


def to_proto_request(body: Any, key_types: Dict[str, int]) -> Optional[sv.GetOnlineFeaturesRequest]:
    if not isinstance(body, dict):
        return None
    if set(body) - {"features", "feature_service", "entities", "full_feature_names", "include_feature_view_version_metadata"}:
        return None
    req = sv.GetOnlineFeaturesRequest()
    svc, feats = body.get("feature_service"), body.get("features")
    if svc is not None:
        if not isinstance(svc, str):
            return None
        if svc:
            req.feature_service = svc
    if not req.feature_service and feats is not None:
        if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
            return None
        req.features.val.extend(feats)
    for flag in ("full_feature_names", "include_feature_view_version_metadata"):
        if flag in body:
            if not isinstance(body[flag], bool):
                return None
            setattr(req, flag, body[flag])
    ents = body.get("entities")
    if not isinstance(ents, dict):
        return None
    for name, values in ents.items():
        if not isinstance(values, list):
            return None
        declared = key_types.get(name)
        for x in values:
            if declared == INT64 and (not isinstance(x, int) or isinstance(x, bool)):
                return None
            if declared == STRING and not isinstance(x, str):
                return None
            v = _typed_value(x)
            if v is None:
                return None
            req.entities[name].val.append(v)
        if not values:
            req.entities[name].SetInParent()
    return req


def value_to_json(v: vpb.Value) -> Any:
    """Feast's JSON rendering of a Value (contract section 6.4) for the kinds our repo uses."""
    kind = v.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    x = getattr(v, kind)
    if kind == "bytes_val":
        return base64.b64encode(x).decode()
    if kind.endswith("_list_val") or kind.endswith("_set_val"):
        if kind.startswith("bytes"):
            return [base64.b64encode(e).decode() for e in x.val]
        return list(x.val)
    return x


def timestamp_to_json(ts) -> str:
    s = dt.datetime.fromtimestamp(ts.seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    n = ts.nanos
    if n == 0:
        frac = ""
    elif n % 1_000_000 == 0:
        frac = f".{n // 1_000_000:03d}"
    elif n % 1_000 == 0:
        frac = f".{n // 1_000:06d}"
    else:
        frac = f".{n:09d}"
    return s + frac + "Z"


def response_to_json(resp: sv.GetOnlineFeaturesResponse, want_metadata: bool) -> dict:
    results = []
    for fv in resp.results:
        col = {
            "values": [value_to_json(v) for v in fv.values],
            "statuses": [sv.FieldStatus.Name(s) for s in fv.statuses],
        }
        if len(fv.event_timestamps):
            col["event_timestamps"] = [timestamp_to_json(t) for t in fv.event_timestamps]
        results.append(col)
    meta: Dict[str, Any] = {"feature_names": list(resp.metadata.feature_names.val)}
    if want_metadata and len(resp.metadata.feature_view_metadata):
        meta["feature_view_metadata"] = [
            {"name": m.name, **({"version": m.version} if m.version else {})} for m in resp.metadata.feature_view_metadata
        ]
    return {"results": results, "metadata": meta}


KEY_TYPES = harness.key_types_from_registry(harness.FEATURE_REPO / "data" / "registry.db")
GRPC_CASES = [
    c for c in CASES
    if c.method == "POST" and c.path == "/get-online-features" and c.headers is None
    and not c.raw and to_proto_request(c.body, KEY_TYPES) is not None
]


@pytest.fixture(scope="session")
def grpc_stub(ours, ours_mode):
    if ours_mode != "binary":
        pytest.skip("feast-vs-feast mode: Feast's feature server has no gRPC ServingService")
    channel = grpc.insecure_channel(f"127.0.0.1:{ours.grpc_port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
    except grpc.FutureTimeoutError:
        raise harness.HarnessError(f"gRPC port {ours.grpc_port} not ready after 30s.\n{ours.proc.describe()}")
    yield svg.ServingServiceStub(channel)
    channel.close()


@pytest.mark.parametrize("case", GRPC_CASES, ids=lambda c: c.name)
def test_grpc_same_answer_as_feast_http(stack, ours, grpc_stub, case, feast_answers):
    req = to_proto_request(case.body, KEY_TYPES)
    feast = feast_answer(stack, case, feast_answers)
    try:
        resp = grpc_stub.GetOnlineFeatures(req, timeout=30)
        err = None
    except grpc.RpcError as e:
        resp, err = None, e
    ours.check_alive()
    got = f"gRPC {err.code().name}: {err.details()}" if err else "gRPC OK"

    if err is not None and err.code() == grpc.StatusCode.UNIMPLEMENTED and case.name in ALLOWED_501:
        pytest.xfail(f"our server answers UNIMPLEMENTED for {case.name}: {err.details()[:300]}")

    where = f"case {case.name}: {case.description}\nrequest (proto): {req}\nFeast (HTTP): {feast.for_report()}\nours: {got}"
    if case.expect == "refused":
        assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT, where + "\nexpected INVALID_ARGUMENT"
        assert case.error_has in err.details(), where + f"\nthe error does not name {case.error_has!r}"
    elif feast.status == 200:
        assert err is None, where
        ok, expected = feast.parsed()
        groups = harness.column_groups(case.json_body, stack.services)
        for name in (case.body.get("entities") or {}):
            groups.setdefault(name, "<entity columns>")
        for name in KEY_TYPES:  # entity names are echoed as their join key
            groups.setdefault(name, "<entity columns>")
        actual = response_to_json(resp, want_metadata="feature_view_metadata" in expected.get("metadata", {}))
        diffs = harness.compare_success(expected, actual, groups, stack.redis_rule)
        assert not diffs, where + "\n  " + "\n  ".join(diffs)
    else:
        assert err is not None, where + "\nexpected a gRPC error"
        allowed = {grpc.StatusCode.NOT_FOUND} if feast.status == 404 else {
            grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
        }
        assert err.code() in allowed, where + f"\nexpected one of {sorted(c.name for c in allowed)}"
