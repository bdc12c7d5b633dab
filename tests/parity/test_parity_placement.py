"""The policy's incremental indexes give the same answers as the rules they implement."""

from __future__ import annotations

from hypothesis import given, strategies as st

from simserve.endpoint.hosts import Host
from simserve.endpoint.workers import Worker
from simserve.policy import FreeWorkers, HostIndex, NewestFirst, ScaledDownSlots, WorkerView, choose_host


@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(1, 8), st.booleans(), st.booleans()), min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), st.integers(1, 3)), max_size=40),
    st.integers(1, 3),
)
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
    for h in hosts:
        h.on_change = index.push
    for hid, n in changes:
        h = hosts[hid % len(hosts)]
        if h.free >= n:
            h.take(n)
        else:
            h.release(min(n, h.gpus - h.free))
        best = index.best()
        expect = choose_host([x.view("image:0") for x in hosts], need)
        assert (best.host_id if best else None) == expect


@given(st.lists(st.tuples(st.sampled_from(["park", "revive", "retire", "drop"]), st.integers(0, 9)), max_size=60))
def test_scaled_down_slots_order(ops: list) -> None:
    """Revival takes the most recently parked slot, retirement the least recent (a list as the model)."""
    workers = [Worker(i, "flex", i, 0.0) for i in range(10)]
    index: ScaledDownSlots[Worker] = ScaledDownSlots()
    model: list[int] = []  # parked worker ids, least recent first
    for op, i in ops:
        w = workers[i]
        if op == "park" and not w.parked:
            index.park(w)
            model.append(i)
        elif op == "drop" and w.parked:
            index.discard(w)
            model.remove(i)
        elif op == "revive" and model:
            assert index.revival().wid == model.pop()
        elif op == "retire" and model:
            assert index.retirement().wid == model.pop(0)
        assert len(index) == len(model)


@given(st.lists(st.tuples(st.sampled_from(["add", "remove", "pop"]), st.integers(0, 9)), max_size=60))
def test_free_workers_follow_newest_first(ops: list) -> None:
    """``FreeWorkers.pop`` picks what ``NewestFirst.pick`` picks among the free workers."""
    workers = [Worker(i, "flex", (i * 7) % 10, 0.0) for i in range(10)]
    index: FreeWorkers[Worker] = FreeWorkers()
    free: set[int] = set()
    for op, i in ops:
        w = workers[i]
        if op == "add":
            index.add(w)
            free.add(i)
        elif op == "remove":
            index.remove(w)
            free.discard(i)
        else:
            views = [WorkerView(k, "flex", "running", 0, workers[k].seq, 0.0, 0) for k in sorted(free)]
            expect = NewestFirst().pick(views)
            got = index.pop()
            assert (got.wid if got else None) == expect
            free.discard(expect) if expect is not None else None
        assert len(index) == len(free)
