"""Every request in cases/*.json, sent to real `feast serve` and to our server, per store variant.

The policy (see docs/compatibility.md) allows only these
differences, and the comparison normalises nothing else:
  (a) within-view column order (Python set order);
  (b) Redis: a cell Feast reports PRESENT + null + epoch may be NOT_FOUND + null + epoch;
  (c) where Feast answers 5xx for a client mistake, ours is 400/404/413/422 with Feast's
      error shape; where Feast answers 4xx, ours answers the same status and body;
  (d) floats are equal when they parse to the same Python float.
Cases with expect "refused" are client mistakes Feast answers 200 for and ours refuses with
400 (deliberate differences listed in docs/compatibility.md).
"""

from __future__ import annotations

import json
import time

import pytest

import harness
from harness import Answer, Case

CASES = harness.load_cases()

# Cases for which our server may answer 501 Not Implemented for now (ODFVs). Such a run is
# reported as xfail with the reason; any other answer is compared normally.
ALLOWED_501 = {
    line.split("#")[0].strip()
    for line in (harness.CONFORMANCE_DIR / "allowed_501.txt").read_text().splitlines()
    if line.split("#")[0].strip()
}


def test_corpus_is_well_formed():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 45, f"only {len(CASES)} cases"
    unknown = ALLOWED_501 - set(names)
    assert not unknown, f"allowed_501.txt names cases that do not exist: {sorted(unknown)}"


def feast_answer(stack, case: Case, cache) -> Answer:
    key = (stack.variant, case.name)
    if key not in cache:
        cache[key] = case.send(stack.feast_url)
    return cache[key]


def report(case: Case, feast: Answer, ours: Answer, diffs) -> str:
    req = case.body if case.raw else json.dumps(case.body)
    headers = "" if case.headers is None else f" headers={case.headers}"
    return (
        f"case {case.name}: {case.description}\n"
        f"request: {case.method} {case.path}{headers} {req[:2000]}\n"
        f"Feast:   {feast.for_report()}\n"
        f"ours:    {ours.for_report()}\n"
        "differences:\n  " + "\n  ".join(diffs)
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_answer_as_feast(stack, ours, case: Case, feast_answers, ours_mode):
    feast = feast_answer(stack, case, feast_answers)
    got = case.send(ours.url)
    stack.check_alive()
    ours.check_alive()

    harness.check_feast_expectation(case, feast)

    if got.status == 501 and case.name in ALLOWED_501:
        pytest.xfail(f"our server answers 501 (not implemented yet) for {case.name}: {got.text[:300]}")

    if case.expect == "same":
        diffs = []
        if got.status != 200:
            diffs.append(f"status: expected 200, got {got.status}")
        elif got.media_type != feast.media_type:
            diffs.append(f"content-type: expected {feast.content_type!r}, got {got.content_type!r}")
        elif case.path != "/get-online-features":
            (fok, fbody), (gok, gbody) = feast.parsed(), got.parsed()
            if fok != gok or not harness.same_json(fbody, gbody):
                diffs.append(f"body: expected {feast.text[:1000]!r}, got {got.text[:1000]!r}")
        else:
            ok, body = got.parsed()
            if not ok:
                diffs.append("our body is not JSON")
            else:
                groups = harness.column_groups(case.json_body, stack.services)
                diffs += harness.compare_success(feast.parsed()[1], body, groups, stack.redis_rule)
    elif case.expect == "refused":
        if ours_mode != "binary":
            pytest.skip("feast-vs-feast mode: a deliberate refusal of ours")
        diffs = harness.compare_refused(case, got)
    else:
        diffs = harness.compare_error(feast, got, policy=ours_mode == "binary")
    assert not diffs, report(case, feast, got, diffs)


def test_body_over_50mb_is_413(ours, ours_mode):
    """A body over 50 MB is refused with 413 quickly (Feast has no limit: it parses it all)."""
    if ours_mode == "feast":
        pytest.skip("feast-vs-feast mode: Feast has no body size limit")
    head = b'{"features": ["pipeline_stats:success_rate"], "entities": {"pipeline_id": [1]}, "padding": "'
    size = 50 * 1024 * 1024 + 1024
    payload = head + b"x" * (size - len(head) - 2) + b'"}'
    t0 = time.monotonic()
    try:
        got = harness.post(ours.url, "/get-online-features", payload, timeout=60)
    except harness.requests.RequestException as e:
        pytest.fail(f"POST {len(payload)} bytes: no HTTP answer after {time.monotonic() - t0:.1f}s: {e!r}")
    elapsed = time.monotonic() - t0
    ours.check_alive()
    diffs = []
    if got.status != 413:
        diffs.append(f"status: expected 413, got {got.status}")
    _, why = harness.feast_error_object(got.text)
    if why:
        diffs.append("error body is not Feast's error shape: " + why)
    if elapsed > 10:
        diffs.append(f"took {elapsed:.1f}s")
    assert not diffs, f"POST {len(payload)} bytes: ours {got.for_report(500)}\n  " + "\n  ".join(diffs)
