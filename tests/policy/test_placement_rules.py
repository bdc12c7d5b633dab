"""FlashBoot eligibility and the pool choice (``simserve.policy.placement``), exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from simserve.policy import choose_pool, flashboot_eligible
from simserve.policy.placement import pool_shares

BASE = {"enabled": True, "same_host": True, "stopped_at_s": 10.0, "now_s": 20.0, "window_s": 60.0, "image_cached": True}


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({}, True),
        ({"now_s": 70.0}, True),  # exactly at the end of the window
        ({"now_s": 70.5}, False),
        ({"enabled": False}, False),
        ({"same_host": False}, False),
        ({"stopped_at_s": -1.0}, False),  # never scaled down, or failed: no FlashBoot from there
        ({"image_cached": False}, False),  # evicted since (or a deploy changed the image)
        ({"stopped_at_s": 0.0, "now_s": 0.0}, True),
    ],
)
def test_flashboot_eligible(change: dict[str, object], expect: bool) -> None:
    assert flashboot_eligible(**{**BASE, **change}) is expect  # type: ignore[arg-type]


@given(
    enabled=st.booleans(),
    same_host=st.booleans(),
    stopped=st.floats(-1.0, 1e6),
    wait=st.floats(0, 1e6),
    window=st.floats(0, 1e6),
    cached=st.booleans(),
)
def test_flashboot_eligible_is_the_conjunction_of_its_conditions(
    enabled: bool, same_host: bool, stopped: float, wait: float, window: float, cached: bool
) -> None:
    now = stopped + wait
    got = flashboot_eligible(enabled, same_host, stopped, now, window, cached)
    assert got == (enabled and same_host and stopped >= 0 and now - stopped <= window and cached)


def test_pool_shares_and_choose_pool() -> None:
    assert pool_shares(1) == [1.0]
    assert pool_shares(2) == [2 / 3, 1 / 3]
    assert choose_pool([0, 0], [True, True]) == 0
    assert choose_pool([3, 0], [False, True]) == 1
    assert choose_pool([1, 1], [False, False]) is None
    assert choose_pool([4, 0], [True, True]) == 1  # from the fifth worker on, spread: 5 * 1/3 - 0 > 5 * 2/3 - 4
    assert choose_pool([4, 2], [True, True]) == 0
