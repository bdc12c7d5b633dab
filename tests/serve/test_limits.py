"""``simserve.serve.limits`` on a clock the test sets: the sliding window, the in-flight limit, scaling,
``--rate-limits`` parsing and the policy bounds (exact, no wall time, no HTTP)."""

from __future__ import annotations

import pytest

from simserve.serve.limits import RATE_LIMITS, RateLimiter, RouteLimit, parse_rate_limits, policy_ms, scaled_limits


def test_the_window_slides():
    t = [0.0]
    lim = RateLimiter({"cancel": RouteLimit(3, 10.0)}, lambda: t[0])
    for now in (0.0, 4.0, 9.0):
        t[0] = now
        assert lim.admit("cancel") is None
        lim.done("cancel")
    t[0] = 9.5
    refused = lim.admit("cancel")
    assert refused is not None and refused.retry_after_s == pytest.approx(0.5)  # when the one of 0.0 leaves
    t[0] = 10.0
    assert lim.admit("cancel") is None  # 0.0 left; 4.0 and 9.0 and 10.0 are in
    t[0] = 13.9
    assert lim.admit("cancel") is not None
    t[0] = 14.0
    assert lim.admit("cancel") is None
    assert lim.admit("health") is None  # a route without limits


def test_in_flight_limit_and_refusals_do_not_count():
    lim = RateLimiter({"runsync": RouteLimit(100, 10.0, concurrent=2)}, lambda: 0.0)
    assert lim.admit("runsync") is None and lim.admit("runsync") is None
    refused = lim.admit("runsync")
    assert refused is not None and "at most 2 requests at once" in refused.message
    lim.done("runsync")
    assert lim.admit("runsync") is None
    assert len(lim._admitted["runsync"]) == 3  # the refused one took no place in the window


def test_parse_and_scale():
    assert parse_rate_limits("off") is None and parse_rate_limits(" ON ") == RATE_LIMITS
    assert parse_rate_limits("2")["run"] == RouteLimit(2000, 10.0, 400)
    assert scaled_limits(0.001)["purge-queue"].requests == 1  # never below one
    for bad in ("fast", "0", "-1", "nan", "inf"):
        with pytest.raises(ValueError, match="on, off or a factor"):
            parse_rate_limits(bad)


def test_policy_bounds():
    assert policy_ms(5000, "executionTimeout") == 5000.0 and policy_ms(604_800_000, "ttl") == 604_800_000.0
    assert policy_ms(1, "ttl", bounded=False) == 1.0
    assert "minimum of 10000 ms (10 s)" in str(policy_ms(9999.5, "ttl"))
    assert "maximum of 604800000 ms (7 days)" in str(policy_ms(604_800_001, "executionTimeout"))
    for bad in (True, "5000", None, -1, 0, float("nan")):
        assert policy_ms(bad, "ttl") == "'policy.ttl': expected a positive number of milliseconds"
