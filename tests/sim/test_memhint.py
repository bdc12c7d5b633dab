"""A run goes without numpy's huge-page hint and gives the caller's setting back (``simserve.memhint``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import simserve
from simserve.memhint import _hint_switch, small_pages

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
switch = _hint_switch()
pytestmark = pytest.mark.skipif(switch is None, reason="this numpy has no huge-page switch")


def hint() -> bool:
    """numpy's current setting (set it to itself: the switch returns the setting before)."""
    assert switch is not None
    now = bool(switch(True))
    switch(now)
    return now


@pytest.mark.parametrize("before", [True, False])
def test_small_pages_turns_the_hint_off_and_restores_it(before: bool) -> None:
    assert switch is not None
    old = bool(switch(before))
    try:
        with small_pages():
            assert hint() is False
        assert hint() is before
        with pytest.raises(RuntimeError), small_pages():
            raise RuntimeError("a run that fails")
        assert hint() is before
    finally:
        switch(old)


def test_a_run_goes_without_the_hint() -> None:
    assert switch is not None
    old = bool(switch(True))
    seen: list[bool] = []
    try:
        simserve.simulate(
            str(QUICKSTART),
            seed=1,
            tables=False,
            overrides={"horizon": "10m"},
            on_block=lambda drawn, t: seen.append(hint()),
        )
        assert seen and not any(seen)
        assert hint() is True
    finally:
        switch(old)
