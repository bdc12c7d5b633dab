"""``interval_area``: the time intervals spend in each minute, alone and keyed (one row per key in one pass)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from simserve.results.jobstats import Buckets, interval_area


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


def _from_time_zero(start: np.ndarray, end: np.ndarray, n: int, width: float, w: np.ndarray) -> np.ndarray:
    """The same sums taken over every boundary from time 0 to the horizon (the form before ``Buckets``)."""
    edges = np.arange(n + 1) * width

    def ramp(t: np.ndarray) -> np.ndarray:
        b = np.clip(np.floor(t / width).astype(np.int64) + 1, 0, n + 1)
        cnt, tot = np.bincount(b, weights=w, minlength=n + 2), np.bincount(b, weights=w * t, minlength=n + 2)
        return edges * np.cumsum(cnt)[: n + 1] - np.cumsum(tot)[: n + 1]

    return np.diff(ramp(start) - ramp(end))


@settings(max_examples=300, deadline=None)
@given(intervals(), st.integers(0, 40), st.booleans(), st.sampled_from([60.0, 7.0]))
def test_a_chunk_touches_only_its_own_span_with_the_sums_from_time_zero(
    data: tuple[np.ndarray, ...], shift: int, weighted: bool, width: float
) -> None:
    """A chunk of a long run (its intervals ``shift`` buckets into a 50-bucket horizon) adds to the buckets
    from its earliest start's to its latest end's only, each value bit for bit the one of the sums taken
    from time 0; every other bucket is left as it was (there the sums from time 0 are zero, or past the
    last end zero up to rounding)."""
    start, end, _, weight = data
    start, end = start * (width / 60.0) + width * shift, end * (width / 60.0) + width * shift
    w = weight if weighted else np.ones(len(start))
    out = np.full(50, 0.5)  # what earlier chunks added
    Buckets(start, end, 50, width).add_area(out, weight=w if weighted else None)
    want = _from_time_zero(start, end, 50, width, w)
    span = np.zeros(50, dtype=bool)
    if len(start):
        span[int(np.floor(start.min() / width)) : int(np.floor(end.max() / width)) + 1] = True
    assert out[span].tobytes() == (0.5 + want[span]).tobytes()
    assert (out[~span] == 0.5).all()
    assert np.allclose(want[~span], 0.0, atol=1e-9)
