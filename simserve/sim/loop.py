"""The event loop: SimPy's queue stepped by hand, with pre-drawn arrivals merged in.

Owns ``Call`` (a bare ``fn(arg)`` entry on SimPy's event queue: no process, no Timeout) and
``step_until``, which pops that queue itself: a bare job index is a job completion, ``Call``
entries run their function directly,
every other entry (the control loop's timeouts and process events) goes through SimPy's
callback protocol unchanged. Arrivals never enter the heap. Imports nothing of simserve.
"""

from __future__ import annotations

import math
from heapq import heappop
from typing import Any, Callable

NORMAL = 1  # SimPy's priority for ordinary events


class Call:
    """A bare callback on SimPy's event queue: ``fn(arg)`` at its time."""

    __slots__ = ("fn", "arg")

    def __init__(self, fn: Callable[[Any], None], arg: Any) -> None:
        self.fn = fn
        self.arg = arg


def step_until(env: Any, arr: list[float], arrive: Callable[[int], None], done: Callable[[int], None],
               until: float) -> None:
    """Step ``env`` up to ``until``, calling ``arrive(i)`` at each pre-drawn arrival time ``arr[i]``.

    Equivalent to ``env.run(until)`` with an arrival process, without a heap entry per
    arrival: at equal times queued events run before the arrival. A heap entry whose event is
    a bare ``int`` is a job completion: ``done(j)`` runs (the most common event allocates nothing).
    """
    q = env._queue
    n = len(arr)
    i = 0
    next_arr = arr[0] if n else math.inf
    call = Call
    while True:
        if q and q[0][0] <= next_arr:
            if q[0][0] >= until:
                break
            env._now, _, _, ev = heappop(q)
            cls = ev.__class__
            if cls is int:
                done(ev)
                continue
            if cls is call:
                ev.fn(ev.arg)
                continue
            callbacks, ev.callbacks = ev.callbacks, None
            for cb in callbacks:
                cb(ev)
            if not ev._ok and not hasattr(ev, "_defused"):
                raise ev._value
        else:
            if next_arr >= until:
                break
            env._now = next_arr
            arrive(i)
            i += 1
            next_arr = arr[i] if i < n else math.inf
    env._now = until
