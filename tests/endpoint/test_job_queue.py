"""``JobQueue`` (``simserve.endpoint.queue``): FIFO in arrival order, the job TTL, cancel and requeue."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from simserve.endpoint.queue import JobQueue


def make(arrivals: list[float], ttl_s: float) -> tuple[JobQueue, list[int]]:
    expired: list[int] = []
    return JobQueue(arrivals, ttl_s, expired.append), expired


def test_pop_is_fifo_in_arrival_order_and_minus_one_when_empty() -> None:
    q, expired = make([0.0, 1.0, 2.0], ttl_s=100.0)
    for j in (0, 1, 2):
        q.append(j)
    assert len(q) == 3
    assert [q.pop(5.0), q.pop(5.0), q.pop(5.0), q.pop(5.0)] == [0, 1, 2, -1]
    assert len(q) == 0 and expired == []


def test_pop_expires_jobs_past_the_ttl_in_order_and_returns_the_next() -> None:
    q, expired = make([0.0, 1.0, 2.0, 8.0], ttl_s=5.0)
    for j in range(4):
        q.append(j)
    # at 6.0: job 0 (0 + 5 <= 6) and job 1 (1 + 5 <= 6) have expired; job 2 (2 + 5 > 6) has not
    assert q.pop(6.0) == 2
    assert expired == [0, 1]
    assert q.pop(13.0) == -1  # job 3: 8 + 5 <= 13, expired exactly at its TTL
    assert expired == [0, 1, 3]


def test_purge_expires_only_the_head_past_the_ttl() -> None:
    q, expired = make([0.0, 1.0, 4.0], ttl_s=3.0)
    for j in range(3):
        q.append(j)
    q.purge(4.0)  # 0 + 3 <= 4, 1 + 3 <= 4, 4 + 3 > 4
    assert expired == [0, 1]
    assert len(q) == 1
    assert q.drain() == [2]


def test_set_ttl_changes_when_queued_jobs_expire() -> None:
    q, expired = make([0.0, 1.0], ttl_s=100.0)
    q.append(0)
    q.append(1)
    q.purge(50.0)
    assert expired == []
    q.set_ttl(10.0)
    q.purge(10.5)
    assert expired == [0]
    assert q.pop(10.5) == 1


def test_remove_takes_a_queued_job_out_and_refuses_others() -> None:
    q, _ = make([0.0, 1.0, 2.0], ttl_s=100.0)
    for j in range(3):
        q.append(j)
    assert q.pop(0.0) == 0
    assert q.remove(0) is False  # already popped
    assert q.remove(2) is True
    assert q.remove(2) is False
    assert len(q) == 1
    assert q.drain() == [1]


def test_requeue_puts_a_job_back_in_its_place_by_arrival_time() -> None:
    q, _ = make([0.0, 1.0, 2.0, 3.0], ttl_s=100.0)
    for j in range(4):
        q.append(j)
    assert [q.pop(0.0), q.pop(0.0)] == [0, 1]
    q.requeue(1)
    q.requeue(0)
    assert q.drain() == [0, 1, 2, 3]


def test_requeue_between_queued_jobs() -> None:
    q, _ = make([0.0, 1.0, 2.0], ttl_s=100.0)
    q.append(0)
    q.append(2)
    q.requeue(1)
    assert [q.pop(0.0), q.pop(0.0), q.pop(0.0)] == [0, 1, 2]


def test_waited_at_least_and_oldest_wait() -> None:
    q, _ = make([0.0, 1.0, 2.5, 4.0], ttl_s=100.0)
    assert q.waited_at_least(10.0, 1.0) == 0
    assert q.oldest_wait(10.0) == 0.0
    for j in range(4):
        q.append(j)
    assert q.waited_at_least(5.0, 2.5) == 3  # arrived at or before 2.5
    assert q.waited_at_least(5.0, 4.0) == 2  # arrived at or before 1.0
    assert q.waited_at_least(5.0, math.inf) == 0  # a scaler without a delay
    assert q.oldest_wait(5.0) == 5.0
    q.pop(5.0)
    assert q.oldest_wait(5.0) == 4.0
    assert q.waited_at_least(5.0, 0.0) == 3


def test_drain_empties_the_queue() -> None:
    q, _ = make([0.0, 1.0], ttl_s=100.0)
    q.append(0)
    q.append(1)
    assert q.drain() == [0, 1]
    assert len(q) == 0
    assert q.pop(0.0) == -1
    assert q.drain() == []


ops = st.lists(st.tuples(st.sampled_from(["append", "pop", "requeue", "remove", "purge"]), st.integers(0, 50)))


@given(gaps=st.lists(st.floats(0.01, 5.0), min_size=1, max_size=40), ttl=st.floats(0.5, 30.0), script=ops)
def test_every_job_is_accounted_once_and_the_queue_stays_in_arrival_order(
    gaps: list[float], ttl: float, script: list[tuple[str, int]]
) -> None:
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    expired: list[int] = []
    q = JobQueue(arrivals, ttl, expired.append)
    nxt = 0
    out: list[int] = []  # popped and not requeued, or removed
    now = 0.0
    for op, k in script:
        if op == "append" and nxt < len(arrivals):
            now = arrivals[nxt]
            q.append(nxt)
            nxt += 1
        elif op == "pop":
            j = q.pop(now)
            if j >= 0:
                assert arrivals[j] + ttl > now
                out.append(j)
        elif op == "requeue" and out:
            q.requeue(out.pop(k % len(out)))
        elif op == "remove" and nxt:
            if q.remove(k % nxt):
                out.append(k % nxt)
        elif op == "purge":
            q.purge(now)
    rest = q.drain()
    assert rest == sorted(rest, key=arrivals.__getitem__)
    assert sorted(out + expired + rest) == list(range(nxt))


# ---------------------------------------------------------------------------------------- low priority (#23)
def test_low_priority_jobs_are_served_in_arrival_order_but_never_counted_for_scaling() -> None:
    q, expired = make([0.0, 1.0, 2.0, 3.0], ttl_s=100.0)
    q.append(0, low=True)
    q.append(1)
    q.append(2, low=True)
    q.append(3)
    assert (len(q), q.scaling_len()) == (4, 2)
    assert q.waited_at_least(4.0, 2.0) == 1  # job 1 (arrived 1.0); job 0 is low priority
    assert q.oldest_wait(4.0) == 3.0  # job 1's wait, not job 0's
    assert [q.pop(4.0) for _ in range(5)] == [0, 1, 2, 3, -1]
    assert expired == []


def test_low_priority_jobs_expire_remove_requeue_and_drain_like_the_others() -> None:
    q, expired = make([0.0, 1.0, 2.0, 9.0], ttl_s=5.0)
    for j, low in ((0, True), (1, False), (2, True), (3, True)):
        q.append(j, low=low)
    q.purge(6.0)  # 0 and 1 (one per list) have outlived the TTL
    assert sorted(expired) == [0, 1]
    assert q.remove(3) is True and q.remove(3) is False
    assert q.pop(6.5) == 2
    q.requeue(2, low=True)
    assert q.scaling_len() == 0 and len(q) == 1
    assert q.drain() == [2] and len(q) == 0


@given(gaps=st.lists(st.floats(0.01, 5.0), min_size=1, max_size=40), ttl=st.floats(0.5, 30.0), script=ops)
def test_with_low_priority_jobs_every_job_is_accounted_once_and_pops_follow_arrival_order(
    gaps: list[float], ttl: float, script: list[tuple[str, int]]
) -> None:
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    expired: list[int] = []
    q = JobQueue(arrivals, ttl, expired.append)

    def low(j: int) -> bool:
        return j % 3 == 0

    nxt = 0
    out: list[int] = []
    queued: set[int] = set()
    now = 0.0
    for op, k in script:
        if op == "append" and nxt < len(arrivals):
            now = arrivals[nxt]
            q.append(nxt, low(nxt))
            queued.add(nxt)
            nxt += 1
        elif op == "pop":
            j = q.pop(now)
            if j >= 0:
                assert arrivals[j] + ttl > now
                waiting = queued - set(expired) - {j}
                assert all(arrivals[i] >= arrivals[j] for i in waiting)  # the earliest waiting job
                queued.discard(j)
                out.append(j)
        elif op == "requeue" and out:
            j = out.pop(k % len(out))
            q.requeue(j, low(j))
            queued.add(j)
        elif op == "remove" and nxt:
            if q.remove(k % nxt):
                out.append(k % nxt)
                queued.discard(k % nxt)
        elif op == "purge":
            q.purge(now)
        left = queued - set(expired)
        assert len(q) == len(left) and q.scaling_len() == sum(not low(j) for j in left)
    rest = q.drain()
    assert rest == sorted(rest, key=lambda j: (arrivals[j], j))
    assert sorted(out + expired + rest) == list(range(nxt))
