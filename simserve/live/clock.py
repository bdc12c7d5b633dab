"""The live driver's clocks: wall time on asyncio, or a virtual clock for ``--runtime simulated``.

Owns ``Clock`` (what the live driver needs: ``now()`` in scenario seconds and ``call_at``),
``WallClock`` (``now = (monotonic - t0) * speed`` on the running asyncio loop) and
``VirtualClock`` (a heap of timers ordered by time then by scheduling order, with the run's
pre-drawn arrivals merged in: at equal times a timer runs before an arrival, as in the
simulator's kernel). No policy, no platform rule.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Scenario time for the live driver."""

    def now(self) -> float: ...

    def call_at(self, at_s: float, fn: Callable[[T], None], arg: T) -> None:
        """Call ``fn(arg)`` at scenario time ``at_s`` (at once when it has passed)."""
        ...


class WallClock:
    """Scenario seconds on the wall clock, compressed by ``speed``, on the running asyncio loop."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.t0 = time.monotonic()
        self.handles: list[asyncio.TimerHandle] = []
        self.stopped = False

    def now(self) -> float:
        return (time.monotonic() - self.t0) * self.speed

    def to_s(self, t_monotonic: float) -> float:
        """A ``time.monotonic()`` reading in scenario seconds."""
        return (t_monotonic - self.t0) * self.speed

    def wall_at(self, at_s: float) -> float:
        return self.t0 + at_s / self.speed

    def call_at(self, at_s: float, fn: Callable[[T], None], arg: T) -> None:
        if self.stopped:
            return
        self.handles.append(asyncio.get_running_loop().call_at(self.wall_at(at_s), fn, arg))
        if len(self.handles) > 4096:  # forget the ones that ran
            self.handles = [h for h in self.handles if not h.cancelled() and h.when() > time.monotonic()]

    def stop(self) -> None:
        """Cancel every pending timer (end of the run)."""
        self.stopped = True
        for h in self.handles:
            h.cancel()
        self.handles.clear()


class VirtualClock:
    """A deterministic clock: timers in (time, scheduling order), arrivals merged in."""

    def __init__(self) -> None:
        self._time = 0.0
        self._heap: list[tuple[float, int, Callable[[Any], None], object]] = []  # each fn takes its arg
        self._seq = itertools.count()

    def now(self) -> float:
        return self._time

    def call_at(self, at_s: float, fn: Callable[[T], None], arg: T) -> None:
        heappush(self._heap, (at_s if at_s > self._time else self._time, next(self._seq), fn, arg))

    def run(self, arrival_s: Sequence[float], arrive: Callable[[int], None], until: float) -> None:
        """Run timers and arrivals in time order up to ``until`` (exclusive), then stop there."""
        heap = self._heap
        n = len(arrival_s)
        i = 0
        next_arr = arrival_s[0] if n else math.inf
        while True:
            if heap and heap[0][0] <= next_arr:
                if heap[0][0] >= until:
                    break
                self._time, _, fn, arg = heappop(heap)
                fn(arg)
            else:
                if next_arr >= until:
                    break
                self._time = next_arr
                arrive(i)
                i += 1
                next_arr = arrival_s[i] if i < n else math.inf
        self._time = until
