"""The comparison itself: it must allow exactly the policy's differences and catch the rest."""

from __future__ import annotations

import json

import harness
from harness import Answer, EPOCH

TS = "2025-01-07T01:05:00Z"


def col(values, statuses=None, ts=None):
    n = len(values)
    return {"values": values, "statuses": statuses or ["PRESENT"] * n, "event_timestamps": ts or [TS] * n}


def body(names, cols):
    return {"results": cols, "metadata": {"feature_names": names}}


REQ = {"features": ["a:x", "a:y", "b:z"], "entities": {"k": [1]}}
GROUPS = harness.column_groups(REQ, {})
KEY = col([1], ts=[EPOCH])
FEAST = body(["k", "x", "y", "z"], [KEY, col([1.5]), col(["s"]), col([True])])


def test_identical_and_within_view_reorder_pass():
    assert harness.compare_success(FEAST, json.loads(json.dumps(FEAST)), GROUPS, False) == []
    swapped = body(["k", "y", "x", "z"], [KEY, col(["s"]), col([1.5]), col([True])])
    assert harness.compare_success(FEAST, swapped, GROUPS, False) == []


def test_cross_view_reorder_and_key_position_fail():
    z_first = body(["k", "z", "x", "y"], [KEY, col([True]), col([1.5]), col(["s"])])
    assert harness.compare_success(FEAST, z_first, GROUPS, False)
    key_last = body(["x", "y", "z", "k"], [col([1.5]), col(["s"]), col([True]), KEY])
    assert harness.compare_success(FEAST, key_last, GROUPS, False)


def test_types_are_strict():
    as_int = body(["k", "x", "y", "z"], [KEY, col([1.5]), col(["s"]), col([1])])  # true vs 1
    assert harness.compare_success(FEAST, as_int, GROUPS, False)
    one = body(["k", "x"], [KEY, col([1.0])])
    assert harness.compare_success(one, body(["k", "x"], [KEY, col([1])]), {"x": "a"}, False)
    assert harness.compare_success(one, body(["k", "x"], [KEY, col([1.00])]), {"x": "a"}, False) == []


def test_redis_missing_rule_only_for_epoch_cells_and_redis():
    feast = body(["k", "x"], [KEY, col([None], ["PRESENT"], [EPOCH])])
    ours = body(["k", "x"], [KEY, col([None], ["NOT_FOUND"], [EPOCH])])
    assert harness.compare_success(feast, ours, {"x": "a"}, True) == []
    assert harness.compare_success(feast, ours, {"x": "a"}, False)
    stored_null = body(["k", "x"], [KEY, col([None], ["PRESENT"], [TS])])
    ours_nf = body(["k", "x"], [KEY, col([None], ["NOT_FOUND"], [TS])])
    assert harness.compare_success(stored_null, ours_nf, {"x": "a"}, True)


def test_extra_keys_and_columns_fail():
    extra = json.loads(json.dumps(FEAST))
    extra["status"] = True
    assert harness.compare_success(FEAST, extra, GROUPS, False)
    fewer = body(["k", "x", "y"], [KEY, col([1.5]), col(["s"])])
    assert harness.compare_success(FEAST, fewer, GROUPS, False)


def ans(status, text):
    return Answer(status, "application/json", text, 0.0)


FEAST_SHAPE = json.dumps(json.dumps({"module": "feast.errors", "class": "X", "message": "m"}))


def test_error_rules():
    feast500 = ans(500, json.dumps("invalid literal for int() with base 10: 'abc'"))
    assert harness.compare_error(feast500, ans(400, FEAST_SHAPE)) == []
    assert harness.compare_error(feast500, ans(500, FEAST_SHAPE))
    assert harness.compare_error(feast500, ans(400, json.dumps({"error": "x"})))
    feast404 = ans(404, FEAST_SHAPE)
    assert harness.compare_error(feast404, ans(404, FEAST_SHAPE)) == []
    assert harness.compare_error(feast404, ans(400, FEAST_SHAPE))
    other = json.dumps(json.dumps({"module": "feast.errors", "class": "Y", "message": "m"}))
    assert harness.compare_error(feast404, ans(404, other))
    detail = json.dumps({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]})
    assert harness.compare_error(ans(422, detail), ans(422, detail)) == []
    assert harness.compare_error(ans(422, detail), ans(400, detail))
