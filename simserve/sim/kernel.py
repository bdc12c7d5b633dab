"""SimPy's Environment, extended for speed: the only module that touches SimPy internals.

Owns ``Kernel``, a ``simpy.Environment`` whose queue also carries two light entries besides
SimPy events (the way ``simpy.rt`` extends the kernel by overriding ``step()``): a bare ``int``
(a job completion token, handed to ``done(token, now)``; the most common event allocates
nothing but its heap tuple) and a ``Call`` (``fn(arg)``, no Event, no process). ``run_merged``
steps the queue with the pre-drawn arrival times merged in, so arrivals never enter the heap;
at equal times queued entries run before an arrival; after each arrival or completion it carries
out the effects the core left pending (``bind``/``carry``: a job's completion straight onto the
heap, the rest to the driver). Ties
break by SimPy's monotone event id, as in SimPy. Ordinary SimPy processes and events keep
working on the same queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import NORMAL, EmptySchedule

__all__ = ["NORMAL", "Call", "Kernel", "Ticker"]


class Call:
    """A bare callback on the queue: ``fn(arg)`` at its time."""

    __slots__ = ("fn", "arg")

    def __init__(self, fn: Callable[[Any], None], arg: Any) -> None:
        self.fn = fn
        self.arg = arg


class Ticker:
    """A periodic check that can sleep: ``fn(self)`` at its time once ``src.tick_wake`` has come; before
    that it only goes back on the queue ``src.tick_every`` later, with a fresh event id, which is all the
    owner's sleeping tick would do (``EndpointCore.tick_due``) and costs no call."""

    __slots__ = ("fn", "src")

    def __init__(self, fn: Callable[[Ticker], None], src: Any) -> None:
        self.fn = fn
        self.src = src  # has ``tick_wake`` and ``tick_every`` (scenario seconds)


class Kernel(simpy.Environment):
    """A SimPy environment with bare callbacks and completions on its queue."""

    def call_at(self, at_s: float, fn: Callable[[Any], None], arg: Any) -> None:
        """Run ``fn(arg)`` at ``at_s`` (not before now)."""
        q: list[Any] = self._queue
        heappush(q, (at_s if at_s > self._now else self._now, NORMAL, next(self._eid), Call(fn, arg)))

    def drop_queue(self) -> None:
        """Forget every event still queued (a finished run: its entries hold the driver's callbacks)."""
        self._queue.clear()

    def push_ticker(self, at_s: float, ticker: Ticker) -> None:
        """Put ``ticker`` on the queue at ``at_s`` (not before now)."""
        q: list[Any] = self._queue
        heappush(q, (at_s if at_s > self._now else self._now, NORMAL, next(self._eid), ticker))

    def set_now(self, now_s: float) -> None:
        """Set the clock (``hotloop.run_hot`` steps the queue itself and sets it where something reads it)."""
        self._now = now_s

    def raw(self) -> tuple[list[Any], Iterator[int]]:
        """The queue and the event-id counter, for ``hotloop.run_hot`` (entries ``(time, NORMAL, id, entry)``)."""
        return self._queue, self._eid

    def step(self) -> None:
        """One entry of the queue (SimPy's ``step`` plus the two light kinds); an empty queue ends
        ``run()`` as in SimPy (``EmptySchedule``)."""
        q: list[Any] = self._queue
        try:
            self._now, _, _, ev = heappop(q)
        except IndexError:
            raise EmptySchedule() from None
        if ev.__class__ is int:
            self.on_done(ev, self._now)
        else:
            self._run_entry(ev)

    def _run_entry(self, ev: Any) -> None:
        if ev.__class__ is Call:
            ev.fn(ev.arg)
        elif ev.__class__ is Ticker:
            src = ev.src
            if self._now < src.tick_wake:
                q: list[Any] = self._queue
                heappush(q, (self._now + src.tick_every, NORMAL, next(self._eid), ev))
            else:
                ev.fn(ev)
        else:
            callbacks, ev.callbacks = ev.callbacks, None
            for cb in callbacks:
                cb(ev)
            if not ev._ok and not hasattr(ev, "_defused"):
                raise ev._value

    def on_done(self, token: int, now: float) -> None:
        """A completion token came due (``run_merged`` and ``step`` hand it over)."""
        raise NotImplementedError

    def bind(
        self,
        pending: list[Any],
        run_job: Any,
        service_s: Sequence[float],
        on_timeout: Callable[[int], None],
        other: Callable[[Any, float], None],
    ) -> None:
        """Where ``carry`` takes effects from, and what it does with them (set once, by the driver)."""
        self._pending, self._run_job, self._service_s = pending, run_job, service_s
        self._on_timeout, self._other = on_timeout, other

    def carry(self, now: float) -> None:
        """Empty the bound ``pending`` list at ``now``: a ``run_job`` entry ``(worker, job, token,
        limit_s)`` completes after ``service_s[job]`` (a bare token on the queue) or, past its limit,
        calls ``on_timeout(token)`` at the limit; any other entry goes to ``other(entry, now)``. The
        per-job path: it pushes onto the heap directly."""
        q: list[Any] = self._queue
        eid, call, run_job, service_s = self._eid, Call, self._run_job, self._service_s
        pending = self._pending
        e: Any
        for e in pending:
            if e.__class__ is run_job:
                j: int
                token: int
                limit_s: float
                _, j, token, limit_s = e
                s = service_s[j]
                if s > limit_s:
                    heappush(q, (now + limit_s, NORMAL, next(eid), call(self._on_timeout, token)))
                else:
                    heappush(q, (now + s, NORMAL, next(eid), token))
            else:
                self._other(e, now)
        pending.clear()

    def run_merged(
        self,
        arrival_s: Sequence[float],
        arrive: Callable[[int, float], None],
        done: Callable[[int, float], None],
        until: float,
        refill: Callable[[], tuple[Sequence[float], int] | None] | None = None,
    ) -> None:
        """Step up to ``until``, calling ``arrive(base + i, now)`` at each pre-drawn ``arrival_s[i]`` and
        ``done(token, now)`` for each completion token, then carrying out the pending effects as
        ``carry(now)`` does (inlined). When ``arrival_s`` runs out, ``refill()`` may give the next block
        of arrivals and its ``base`` (a streamed run); ``base`` is 0 until then."""
        self.on_done = done  # type: ignore[method-assign,assignment]
        q: list[Any] = self._queue
        n = len(arrival_s)
        i = base = 0
        if not n and refill is not None and (nxt := refill()) is not None:
            arrival_s, base = nxt
            n = len(arrival_s)
        next_arr = arrival_s[0] if n else math.inf
        call, ticker = Call, Ticker
        pending, eid, run_job, service_s = self._pending, self._eid, self._run_job, self._service_s
        while True:
            if q and q[0][0] <= next_arr:
                if q[0][0] >= until:
                    break
                self._now, _, _, ev = heappop(q)
                cls = ev.__class__
                if cls is int:
                    done(ev, self._now)
                elif cls is call:
                    ev.fn(ev.arg)
                    continue
                elif cls is ticker and self._now < ev.src.tick_wake:  # a sleeping tick: one grid step on
                    heappush(q, (self._now + ev.src.tick_every, NORMAL, next(eid), ev))
                    continue
                else:
                    self._run_entry(ev)
                    continue
            else:
                if next_arr >= until:
                    break
                self._now = next_arr
                arrive(base + i, next_arr)
                i += 1
                if i < n:
                    next_arr = arrival_s[i]
                elif refill is not None and (nxt := refill()) is not None:
                    arrival_s, base = nxt
                    n, i = len(arrival_s), 0
                    next_arr = arrival_s[0] if n else math.inf
                else:
                    next_arr = math.inf
            if pending:  # carry(), inlined: a method call per job costs ~7 % here (bench_core.py --engine)
                now = self._now
                e: Any
                for e in pending:
                    if e.__class__ is run_job:
                        j: int
                        token: int
                        limit_s: float
                        _, j, token, limit_s = e
                        s = service_s[j]
                        if s > limit_s:
                            heappush(q, (now + limit_s, NORMAL, next(eid), call(self._on_timeout, token)))
                        else:
                            heappush(q, (now + s, NORMAL, next(eid), token))
                    else:
                        self._other(e, now)
                pending.clear()
        self._now = until
