"""The SimPy kernel (``simserve.sim.kernel``): time order, same-time order, merged arrivals, carried jobs.

Every assertion is an exact event trace, as SimPy's own tests are: simulated time only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import given, strategies as st

from simserve.sim.kernel import Kernel


def bound(service_s: Sequence[float] = ()) -> tuple[Kernel, list[Any], list[tuple[Any, ...]]]:
    """A kernel bound to a pending list, with ``tuple`` as the RunJob class (as the driver binds it)."""
    env = Kernel()
    pending: list[Any] = []
    log: list[tuple[Any, ...]] = []
    env.bind(
        pending,
        tuple,
        service_s,
        lambda token: log.append((env.now, "timeout", token)),
        lambda e, now: log.append((now, "other", e)),
    )
    return env, pending, log


def note(log: list[tuple[Any, ...]], env: Kernel, name: str) -> Callable[[Any], None]:
    return lambda arg: log.append((env.now, name, arg))


def test_calls_run_in_time_order_and_ties_in_scheduling_order() -> None:
    env = Kernel()
    log: list[tuple[Any, ...]] = []
    for at, arg in ((3.0, "c"), (1.0, "a"), (2.0, "b1"), (2.0, "b2"), (2.0, "b3")):
        env.call_at(at, note(log, env, "call"), arg)
    env.run()
    assert log == [
        (1.0, "call", "a"),
        (2.0, "call", "b1"),
        (2.0, "call", "b2"),
        (2.0, "call", "b3"),
        (3.0, "call", "c"),
    ]


def test_a_call_in_the_past_runs_now() -> None:
    env = Kernel()
    log: list[tuple[Any, ...]] = []
    env.call_at(5.0, lambda _: env.call_at(1.0, note(log, env, "late"), "x"), None)
    env.run()
    assert log == [(5.0, "late", "x")]


def test_simpy_processes_share_the_queue_and_its_tie_break() -> None:
    env = Kernel()
    log: list[tuple[Any, ...]] = []

    def proc() -> Any:
        yield env.timeout(2.0)
        log.append((env.now, "process", None))

    env.call_at(2.0, note(log, env, "call"), "before")
    env.process(proc())  # its timeout is scheduled after the call above (the process starts at 0)
    env.call_at(2.0, note(log, env, "call"), "after")
    env.run()
    assert log == [(2.0, "call", "before"), (2.0, "call", "after"), (2.0, "process", None)]


def test_run_merged_interleaves_arrivals_queued_entries_first_at_equal_times() -> None:
    env, _, log = bound()
    env.call_at(1.0, note(log, env, "call"), "x")
    env.call_at(2.5, note(log, env, "call"), "y")
    env.run_merged([1.0, 2.0, 2.5, 4.0], lambda i, now: log.append((now, "arrive", i)), lambda t, now: None, until=10.0)
    assert log == [
        (1.0, "call", "x"),
        (1.0, "arrive", 0),
        (2.0, "arrive", 1),
        (2.5, "call", "y"),
        (2.5, "arrive", 2),
        (4.0, "arrive", 3),
    ]
    assert env.now == 10.0


def test_run_merged_stops_before_until() -> None:
    env, _, log = bound()
    env.call_at(5.0, note(log, env, "call"), "at-until")
    env.call_at(4.0, note(log, env, "call"), "before")
    env.run_merged([3.0, 5.0, 6.0], lambda i, now: log.append((now, "arrive", i)), lambda t, now: None, until=5.0)
    assert log == [(3.0, "arrive", 0), (4.0, "call", "before")]
    assert env.now == 5.0


def test_a_carried_job_completes_after_its_service_time_or_times_out_at_its_limit() -> None:
    service = [2.0, 7.0, 1.5]
    env, pending, log = bound(service)

    def arrive(j: int, now: float) -> None:
        log.append((now, "arrive", j))
        pending.append((0, j, 100 + j, 5.0))  # a RunJob: (worker, job, token, limit_s)
        if j == 0:
            pending.append("an effect")

    env.run_merged([0.0, 1.0, 3.0], arrive, lambda token, now: log.append((now, "done", token)), until=20.0)
    assert log == [
        (0.0, "arrive", 0),
        (0.0, "other", "an effect"),
        (1.0, "arrive", 1),
        (2.0, "done", 100),
        (3.0, "arrive", 2),
        (4.5, "done", 102),
        (6.0, "timeout", 101),  # 7 s of service over a 5 s limit: cut at 1 + 5
    ]
    assert pending == []


def test_carry_empties_the_pending_effects_at_now() -> None:
    env, pending, log = bound([3.0])
    done: list[tuple[float, int]] = []
    env.on_done = lambda token, now: done.append((now, token))  # type: ignore[method-assign]
    pending.extend([(0, 0, 7, 10.0), "e"])
    env.carry(1.0)
    assert pending == [] and log == [(1.0, "other", "e")]
    env.run()
    assert done == [(4.0, 7)]


def test_refill_hands_out_streamed_blocks_with_their_base() -> None:
    env, _, log = bound()
    blocks = [([1.0, 2.0], 0), ([3.0], 2), ([5.0, 6.0], 4)]

    def refill() -> tuple[list[float], int] | None:
        return blocks.pop(0) if blocks else None

    env.run_merged([], lambda i, now: log.append((now, "arrive", i)), lambda t, now: None, until=100.0, refill=refill)
    assert log == [(1.0, "arrive", 0), (2.0, "arrive", 1), (3.0, "arrive", 2), (5.0, "arrive", 4), (6.0, "arrive", 5)]


@given(
    times=st.lists(st.floats(0, 1000, allow_nan=False), max_size=40),
    arrivals=st.lists(st.floats(0, 1000, allow_nan=False), max_size=40),
)
def test_entries_and_arrivals_come_out_in_time_order_entries_first_on_ties(
    times: list[float], arrivals: list[float]
) -> None:
    env, _, log = bound()
    for k, t in enumerate(times):
        env.call_at(t, note(log, env, "call"), k)
    arr = sorted(arrivals)
    env.run_merged(arr, lambda i, now: log.append((now, "arrive", i)), lambda t, now: None, until=math.inf)
    expect = sorted([(t, 0, k, "call") for k, t in enumerate(times)] + [(t, 1, i, "arrive") for i, t in enumerate(arr)])
    assert log == [(t, name, k) for t, _, k, name in expect]
