"""SimPy's Environment, extended for speed: the only module that touches SimPy internals.

Owns ``Kernel``, a ``simpy.Environment`` whose queue also carries two light entries besides
SimPy events (the way ``simpy.rt`` extends the kernel by overriding ``step()``): a bare ``int``
(a job completion token, handed to ``on_done``; the most common event allocates nothing but
its heap tuple) and a ``Call`` (``fn(arg)``, no Event, no process). ``run_merged`` steps the
queue with the pre-drawn arrival times merged in, so arrivals never enter the heap; at equal
times queued entries run before an arrival. Ties break by SimPy's monotone event id, as in
SimPy. Ordinary SimPy processes and events keep working on the same queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import NORMAL


class Call:
    """A bare callback on the queue: ``fn(arg)`` at its time."""

    __slots__ = ("fn", "arg")

    def __init__(self, fn: Callable[[Any], None], arg: Any) -> None:
        self.fn = fn
        self.arg = arg


class Kernel(simpy.Environment):
    """A SimPy environment with bare callbacks and completions on its queue."""

    def call_at(self, at_s: float, fn: Callable[[Any], None], arg: Any) -> None:
        """Run ``fn(arg)`` at ``at_s`` (not before now)."""
        heappush(self._queue, (at_s if at_s > self._now else self._now, NORMAL, next(self._eid), Call(fn, arg)))

    def complete_at(self, at_s: float, token: int) -> None:
        """Hand ``token`` to ``on_done`` at ``at_s``."""
        heappush(self._queue, (at_s, NORMAL, next(self._eid), token))

    def step(self) -> None:
        """One entry of the queue (SimPy's ``step`` plus the two light kinds)."""
        self._now, _, _, ev = heappop(self._queue)
        self._run_entry(ev)

    def _run_entry(self, ev: Any) -> None:
        if ev.__class__ is int:
            self.on_done(ev)
        elif ev.__class__ is Call:
            ev.fn(ev.arg)
        else:
            callbacks, ev.callbacks = ev.callbacks, None
            for cb in callbacks:
                cb(ev)
            if not ev._ok and not hasattr(ev, "_defused"):
                raise ev._value

    def on_done(self, token: int) -> None:  # replaced by the driver
        raise NotImplementedError

    def run_merged(self, arrival_s: Sequence[float], arrive: Callable[[int], None], until: float) -> None:
        """Step up to ``until``, calling ``arrive(i)`` at each pre-drawn ``arrival_s[i]``."""
        q = self._queue
        n = len(arrival_s)
        i = 0
        next_arr = arrival_s[0] if n else math.inf
        done = self.on_done
        call = Call
        while True:
            if q and q[0][0] <= next_arr:
                if q[0][0] >= until:
                    break
                self._now, _, _, ev = heappop(q)
                cls = ev.__class__
                if cls is int:
                    done(ev)
                elif cls is call:
                    ev.fn(ev.arg)
                else:
                    self._run_entry(ev)
            else:
                if next_arr >= until:
                    break
                self._now = next_arr
                arrive(i)
                i += 1
                next_arr = arrival_s[i] if i < n else math.inf
        self._now = until
