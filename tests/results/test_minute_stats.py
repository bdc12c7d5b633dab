"""The per-minute statistics' two vectorised helpers against the numpy calls they stand for, bit for bit:
``floor_div`` (a job's minute) against float ``//``, ``group_percentiles`` against ``np.percentile`` per group."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from simserve.results.jobstats import PERCENTILES, floor_div, group_percentiles

# whole minutes and the floats right beside them: where a quotient rounded up to a whole number would show
_EDGES = [k * 60.0 for k in (0, 1, 2, 7, 1439, 43_199, 10**9)]
_NEAR = sorted({x for e in _EDGES for x in (np.nextafter(e, -np.inf), e, np.nextafter(e, np.inf))})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_NEAR),
            st.floats(-1e6, 3e9, allow_nan=False),
            st.sampled_from([59.999999999999993, 119.99999999999999, -0.5, 0.0]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_floor_div_is_float_floor_division_to_the_bit(values: list[float]) -> None:
    t = np.array(values)
    assert floor_div(t, 60.0).tobytes() == (t // 60.0).tobytes()


def test_floor_div_takes_the_minute_a_time_is_in() -> None:
    """The last float of a minute is in that minute, its end in the next; before 0 is minute -1."""
    t = np.array([np.nextafter(120.0, 0), 120.0, np.nextafter(86_400.0 * 30, 0), -1e-9])
    assert floor_div(t, 60.0).tolist() == [1.0, 2.0, 43_199.0, -1.0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=12),
    st.data(),
)
def test_group_percentiles_equal_np_percentile_of_each_group_to_the_bit(sizes: list[int], data: st.DataObject) -> None:
    values = np.array(
        data.draw(
            st.lists(
                st.one_of(st.sampled_from([0.0, 0.25, 1.0, 1.0, 7.5]), st.floats(0, 1e4, allow_nan=False)),
                min_size=sum(sizes),
                max_size=sum(sizes),
            )
        )
    )
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    got = group_percentiles(values, starts, PERCENTILES)
    assert got.shape == (len(PERCENTILES), len(sizes))
    for g, (s, n) in enumerate(zip(starts.tolist(), sizes, strict=True)):
        want = np.percentile(values[s : s + n], PERCENTILES)
        assert got[:, g].tobytes() == want.tobytes(), (g, values[s : s + n])


def test_group_percentiles_keep_a_group_of_one_and_sort_within_groups_only() -> None:
    """Three groups whose values interleave: each group's percentiles come from its own values."""
    values = np.array([5.0, 1.0, 3.0, 100.0, 0.5, 2.0, 9.0])
    got = group_percentiles(values, np.array([0, 3, 4]), (50,))
    assert got.tolist() == [[3.0, 100.0, 2.0]]
