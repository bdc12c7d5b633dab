"""``interval_area``: the time intervals spend in each minute, alone and keyed (one row per key in one pass)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from simserve.results.jobstats import interval_area


@st.composite
def intervals(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 60))
    start = np.array(
        draw(st.lists(st.sampled_from([0.0, 0.5, 59.0, 60.0, 61.25, 150.0, 299.0]), min_size=n, max_size=n))
    )
    length = np.array(draw(st.lists(st.sampled_from([0.0, 0.25, 1.0, 60.0, 200.0]), min_size=n, max_size=n)))
    key = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    weight = np.array(draw(st.lists(st.sampled_from([0.1, 1.0, 3.7]), min_size=n, max_size=n)))
    return start, start + length, key, weight


@settings(max_examples=200, deadline=None)
@given(intervals(), st.booleans())
def test_keyed_rows_equal_each_keys_own_call_to_the_bit(data: tuple[np.ndarray, ...], weighted: bool) -> None:
    start, end, key, weight = data
    w = weight if weighted else None
    keyed = interval_area(start, end, 5, 60.0, weight=w, key=key, n_keys=4)
    assert keyed.shape == (4, 5)
    for k in range(4):
        m = key == k
        alone = interval_area(start[m], end[m], 5, 60.0, weight=None if w is None else w[m])
        assert keyed[k].tobytes() == alone.tobytes()


def test_the_area_is_the_overlap_with_each_minute() -> None:
    """Worked by hand: [30, 150) spends 30 s in minute 0, 60 in minute 1, 30 in minute 2; a second one
    from 290 s on, cut at the last minute's end."""
    got = interval_area(np.array([30.0, 290.0]), np.array([150.0, 400.0]), 5, 60.0)
    assert got.tolist() == [30.0, 60.0, 30.0, 0.0, 10.0]
