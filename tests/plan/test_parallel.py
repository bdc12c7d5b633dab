"""simserve.parallel: results in task order, progress per task, a prompt stop on Ctrl-C."""

from __future__ import annotations

import time

import pytest

from simserve.parallel import OrderedPool, default_processes, ordered_map


def _sleep_then(task: tuple[float, int]) -> int:
    delay, value = task
    time.sleep(delay)
    return value


def test_results_come_back_in_task_order_whatever_finishes_first():
    done: list[int] = []
    tasks = [(0.4, 0), (0.0, 1), (0.2, 2)]
    assert ordered_map(_sleep_then, tasks, processes=3, on_done=done.append) == [0, 1, 2]
    assert sorted(done) == [0, 1, 2]


def test_one_process_runs_in_line_in_order():
    done: list[int] = []
    assert ordered_map(str, [3, 1, 2], processes=1, on_done=done.append) == ["3", "1", "2"]
    assert done == [0, 1, 2]
    assert ordered_map(str, [], processes=4) == []


def test_a_pool_is_reused_across_maps_and_a_failed_task_raises():
    with OrderedPool(2) as pool:
        assert pool.map(int, ["1", "2", "3"]) == [1, 2, 3]
        with pytest.raises(ValueError):
            pool.map(int, ["1", "x", "3"])
        assert pool.map(int, ["4", "5"]) == [4, 5]  # a fresh pool after the failure


def test_interrupt_cancels_without_waiting_for_running_tasks():
    def interrupt(_i: int) -> None:
        raise KeyboardInterrupt

    pool = OrderedPool(2)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        pool.map(_sleep_then, [(0.0, 0), (4.0, 1), (4.0, 2), (4.0, 3)], on_done=interrupt)
    assert time.monotonic() - t0 < 3.0
    pool.close()


def test_default_processes():
    assert default_processes(1) == 1
    assert 1 <= default_processes() == default_processes(10_000)
    assert default_processes(0) == 1
