"""``billing._codes``: a column's integer codes against the billing tables' category order (-1 for a value
not among them or missing), read from a categorical column's own codes (renumbered) or looked up."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from simserve.billing import _codes

WANTED = ("flex", "active", "spare")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["flex", "active", "spare", "other", None]), max_size=30),
    st.permutations(["flex", "active", "spare", "other"]),
    st.integers(1, 4),
    st.booleans(),
)
def test_codes_equal_pandas_recoding(
    values: list[str | None], order: list[str], n_cats: int, categorical: bool
) -> None:
    """A categorical column whose categories (in any order) are among the wanted ones, one with a category
    outside them, a plain column, missing values: each value's place in ``WANTED``, else -1."""
    cats = order[:n_cats]
    column = pd.Series(pd.Categorical([v if v in cats else None for v in values], categories=cats))
    if not categorical:
        column = column.astype(object)
    want = [WANTED.index(v) if v in WANTED else -1 for v in (v if v in cats else None for v in values)]
    got = _codes(column, WANTED)
    assert got.dtype == np.int64
    assert got.tolist() == want
