"""``TimeHeap`` (the compiled fast path's completion queue) pops in the order ``heapq`` gives (time, id) pairs.

Checked for the installed class (compiled where setup.py could compile it) and for the pure-Python source
loaded apart, with interleaved pushes and pops, tied times, and growth past the initial room.
"""

from __future__ import annotations

import heapq
import importlib.util
from pathlib import Path
from typing import Any

from hypothesis import given, settings, strategies as st

from simserve.sim import timeheap


def pure_class() -> Any:
    spec = importlib.util.spec_from_file_location("timeheap_source", Path(timeheap.__file__).with_name("timeheap.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.TimeHeap


CLASSES = (timeheap.TimeHeap, pure_class())
ops = st.lists(
    st.one_of(st.tuples(st.just("push"), st.sampled_from([0.0, 0.5, 1.0, 2.5]) | st.floats(0, 1e6)), st.just(("pop",))),
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.integers(1, 4))
def test_pops_in_heapq_order_of_time_then_id(script: list[tuple[Any, ...]], capacity: int) -> None:
    for cls in CLASSES:
        heap, ref, eid = cls(capacity), [], 0
        for op in script:
            if op[0] == "push":
                eid += 1
                heap.push(op[1], eid, 10 * eid + 7)
                heapq.heappush(ref, (op[1], eid, 10 * eid + 7))
            elif ref:
                assert heap.pop() == heapq.heappop(ref)[2]
            assert heap.n == len(ref)
        while ref:
            assert heap.pop() == heapq.heappop(ref)[2]
        assert heap.n == 0
