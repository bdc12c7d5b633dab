"""The simulator's fast structures give the same answers as the pure policy functions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simserve.policy.placement import SlotView, choose_host, choose_retirement, choose_revival
from simserve.sim.hosts import Host, HostIndex


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 8), st.booleans(), st.booleans()), min_size=1, max_size=30),
       st.lists(st.tuples(st.integers(0, 29), st.integers(1, 3)), max_size=40), st.integers(1, 3))
def test_host_index_equals_choose_host(specs: list, changes: list, need: int) -> None:
    hosts = []
    for i, (prio, gpus, img, model) in enumerate(specs):
        h = Host(i, "H100", prio, gpus, 100.0)
        if img:
            h.insert("image:0", 10.0)
        if model:
            h.insert("model", 10.0)
        hosts.append(h)
    index = HostIndex(hosts, need, "image:0")
    for hid, n in changes:
        h = hosts[hid % len(hosts)]
        if h.free >= n:
            h.take(n)
        else:
            h.release(min(n, h.gpus - h.free))
        best = index.best()
        expect = choose_host([x.view("image:0") for x in hosts], need)
        assert (best.host_id if best else None) == expect


def test_revival_and_retirement_order() -> None:
    slots = [SlotView(4, 0, 10), SlotView(2, 1, 12), SlotView(7, 2, 11)]
    assert choose_revival(slots) == 2
    assert choose_retirement(slots) == 4
    assert choose_revival([]) is None
