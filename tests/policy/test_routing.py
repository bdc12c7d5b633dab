"""The routing registry and the newest-first rule (``simserve.policy.routing``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, strategies as st

from simserve.policy import DEFAULT_ROUTING, FreeWorkers, NewestFirst, WorkerView, build_router
from simserve.policy.routing import REGISTRY


@dataclass
class Slot:
    seq: int
    in_free: bool = False
    free_epoch: int = 0


def test_the_registry_builds_routers_by_kind() -> None:
    assert DEFAULT_ROUTING == "newest_first"
    assert {"newest_first": NewestFirst} == REGISTRY
    assert type(build_router()) is NewestFirst
    assert build_router("newest_first").kind == "newest_first"
    with pytest.raises(ValueError, match="no router of kind 'round_robin' \\(known: newest_first\\)"):
        build_router("round_robin")


def test_newest_first_picks_the_most_recently_created_free_worker() -> None:
    r = NewestFirst()
    assert r.pick([]) is None
    views = [WorkerView(wid, "flex", "running", 0, seq, 0.0, 0) for wid, seq in ((4, 1), (9, 3), (2, 2))]
    assert r.pick(views) == 9


def test_the_routers_index_pops_newest_first_and_forgets_removed_workers() -> None:
    index = build_router().index()
    assert isinstance(index, FreeWorkers) and len(index) == 0
    slots = [Slot(seq) for seq in range(4)]
    for s in slots:
        index.add(s)
    index.add(slots[1])  # already in: no second entry
    assert len(index) == 4
    index.remove(slots[3])
    assert [index.pop(), index.pop()] == [slots[2], slots[1]]
    index.add(slots[3])  # back in, under a new epoch
    assert [index.pop(), index.pop(), index.pop()] == [slots[3], slots[0], None]
    assert len(index) == 0


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 9)), max_size=60))
def test_the_index_pops_what_pick_picks(script: list[tuple[bool, int]]) -> None:
    router = build_router()
    index = router.index()
    slots = [Slot(seq) for seq in range(10)]
    for add, k in script:
        if add:
            index.add(slots[k])
        else:
            index.remove(slots[k])
    while True:
        free = [WorkerView(s.seq, "flex", "running", 0, s.seq, 0.0, 0) for s in slots if s.in_free]
        want = router.pick(free)
        got = index.pop()
        assert (None if got is None else got.seq) == want
        if got is None:
            break
