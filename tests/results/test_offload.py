"""The streamed run's second thread (``simserve.results.offload``): calls run in order, errors come back to the
caller, ``close`` lets the call under way finish and drops the rest; a streamed run gives the same figures
with the folding on that thread as folded in line, and a sink's error ends the run with that error."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from simserve.api import simulate
from simserve.results.offload import Offload
from simserve.scenario import load_scenario


def test_calls_run_in_the_order_given_on_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    off = Offload(depth=1)
    for i in range(200):
        off.call(lambda k: seen.append((k, threading.current_thread().name)), i)
    off.join()
    assert [k for k, _ in seen] == list(range(200))
    assert {name for _, name in seen} == {"simserve-stats"}


def test_an_error_is_raised_in_the_caller_and_later_calls_do_not_run() -> None:
    ran: list[int] = []
    off = Offload()

    def boom() -> None:
        raise OSError("disk full")

    off.call(boom)
    with pytest.raises(OSError, match="disk full"):  # at the next call or at join, whichever comes first
        for i in range(100):
            off.call(ran.append, i)
        off.join()
    off.close()
    assert ran == []  # queued after the failing call: skipped, whether before or after the caller saw the error


def test_close_lets_the_call_under_way_finish_and_drops_the_waiting_ones() -> None:
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(30)
        done.append("slow")

    off = Offload(depth=2)
    off.call(slow)
    assert started.wait(30)
    off.call(done.append, "dropped 1")
    off.call(done.append, "dropped 2")
    closer = threading.Thread(target=off.close)
    closer.start()
    for _ in range(3000):  # bounded: until close has asked the thread to stop (at most 30 s)
        if off._stop.is_set():
            break
        threading.Event().wait(0.01)
    assert off._stop.is_set()
    assert closer.is_alive()  # close waits for the call under way
    release.set()
    closer.join(30)
    assert not closer.is_alive()
    assert done == ["slow"]


class _Inline:
    """``Offload`` that runs each call at once, in the caller's thread (the reference)."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def call(self, fn: Any, *args: Any) -> None:
        fn(*args)

    def join(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_streamed_run_folds_to_the_same_figures_on_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_scenario("scenarios/month-weekly.yaml", {"horizon": "14h"})  # 3 blocks of jobs
    blocks: list[list[np.ndarray]] = []
    threaded = simulate(sc, seed=4, tables=False, job_writer=lambda first, *cols: blocks.append([*cols]))
    monkeypatch.setattr("simserve.api.Offload", _Inline)
    inline_blocks: list[list[np.ndarray]] = []
    inline = simulate(sc, seed=4, tables=False, job_writer=lambda first, *cols: inline_blocks.append([*cols]))
    assert threaded.summary == inline.summary
    assert threaded.minutes.equals(inline.minutes)
    assert len(blocks) == len(inline_blocks) > 1
    for a, b in zip(blocks, inline_blocks, strict=True):
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))


def test_a_sink_error_ends_the_streamed_run_with_it() -> None:
    sc = load_scenario("scenarios/month-weekly.yaml", {"horizon": "6h"})

    def writer(first: int, *cols: np.ndarray) -> None:
        raise OSError("no space left on device")

    before = threading.active_count()
    with pytest.raises(OSError, match="no space left"):
        simulate(sc, seed=0, tables=False, job_writer=writer)
    assert threading.active_count() == before  # the folding thread ended with the run
