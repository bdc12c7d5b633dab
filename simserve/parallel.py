"""One ordered process-pool map for every "run these simulations on the local cores" loop.

Owns ``OrderedPool`` (a ``ProcessPoolExecutor`` kept across ``map`` calls) and
``ordered_map`` (a pool for one call). ``map(fn, tasks, on_done)`` runs a picklable ``fn`` on
each task and returns the results in task order whatever order they finish in, calling
``on_done(index)`` as each finishes; one process (or one task) runs in-line. On Ctrl-C, SIGTERM
(``simserve.interrupts``), or any other exception while waiting, pending tasks are cancelled and
the pool's processes are terminated (not waited for: a running replication may take minutes),
so the exception reaches the caller at once and no pool process is left. Pool processes ignore
SIGINT (a Ctrl-C reaches the whole process group; the parent ends them) and take SIGTERM's
default. Used by replications, the planner's local executor and the break-even sweep. Standard
library only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from types import TracebackType
from typing import TypeVar

from simserve.interrupts import pool_child_signals

#: how long an abandoned pool's terminated process may take to exit
ABANDON_JOIN_S = 2.0

T = TypeVar("T")
R = TypeVar("R")


def default_processes(tasks: int | None = None) -> int:
    """All cores, but no more processes than ``tasks`` (when given); at least 1."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, tasks) if tasks is not None else cores)


class OrderedPool:
    """A local process pool of ``processes`` workers (None or 0: all cores) started on first use.

    ``map`` may be called many times (the planner's rounds reuse the same processes); ``close``
    (or leaving a ``with`` block) shuts the pool down and cancels what has not started.
    """

    def __init__(self, processes: int | None = None) -> None:
        self.processes = max(1, processes or default_processes())
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], on_done: Callable[[int], None] | None = None) -> list[R]:
        """``[fn(t) for t in tasks]``, computed on the pool; ``on_done(i)`` after each task."""
        if self.processes == 1 or len(tasks) <= 1:
            out: list[R] = []
            for i, task in enumerate(tasks):
                out.append(fn(task))
                if on_done:
                    on_done(i)
            return out
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.processes, initializer=pool_child_signals)
        futures: dict[Future[R], int] = {}
        results: dict[int, R] = {}
        try:
            for i, task in enumerate(tasks):
                futures[self._pool.submit(fn, task)] = i
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if on_done:
                    on_done(i)
        except BaseException:  # Ctrl-C, a failed task or a broken pool: stop now, don't wait
            for fut in futures:
                fut.cancel()
            self._abandon()
            raise
        return [results[i] for i in range(len(tasks))]

    def _abandon(self) -> None:
        """Stop now: cancel what has not started, terminate the processes running the rest."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())  # no public way before 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.join(ABANDON_JOIN_S)

    def close(self) -> None:
        """Shut the pool down (cancelling tasks not yet started); a later ``map`` starts a new one."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> OrderedPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
        else:
            self._abandon()


def ordered_map(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    processes: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """Run ``fn`` over ``tasks`` on a fresh local pool (at most one process per task).

    Results come back in task order; ``on_done(index)`` is called as each task finishes.
    ``processes`` None or 0 means all cores.
    """
    procs = max(1, min(processes, len(tasks))) if processes else default_processes(len(tasks))
    with OrderedPool(procs) as pool:
        return pool.map(fn, tasks, on_done)
