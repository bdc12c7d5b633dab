"""A finished run lets go of its engine at once (``SimDriver.release``), not at Python's next full collection.

The kernel, the endpoint core and their parts hold each other's bound methods, so without the release
a run's driver, core and recorder (its job lists: tens of MB in a long run) live on as cyclic garbage,
and a planner's replications pile them up until the collector's next full pass. With the collector off,
everything the run built must be gone as soon as ``simulate`` returns, tables or streamed.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import simserve
from simserve.sim import driver


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[weakref.ref[Any], ...]]]:
    """Weak references to the driver, core, kernel and recorder of each run, with the collector off."""
    made: list[tuple[weakref.ref[Any], ...]] = []
    init = driver.SimDriver.__init__

    def spy(self: driver.SimDriver, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(tuple(weakref.ref(x) for x in (self, self.core, self.env, self.rec)))

    monkeypatch.setattr(driver.SimDriver, "__init__", spy)
    was = gc.isenabled()
    gc.disable()
    try:
        yield made
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize("tables", [True, False])
def test_a_finished_run_frees_its_engine_without_the_collector(
    runs: list[tuple[weakref.ref[Any], ...]], tables: bool
) -> None:
    result = simserve.simulate("scenarios/quickstart.yaml", seed=1, overrides={"horizon": 600}, tables=tables)
    assert result.summary["requests"]["arrived"] > 0
    assert len(runs) == 1
    assert [ref() is None for ref in runs[0]] == [True, True, True, True]
