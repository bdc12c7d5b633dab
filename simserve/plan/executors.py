"""Where planner tasks run: a local process pool (default) or a Dask distributed cluster.

Owns ``run_point`` (the task: a pure function of scenario dict, overrides and seed that
returns the run's summary dict; ``run_task`` takes them as one tuple) and two executors with
one method, ``map(args, on_done)``, which returns results in the order of ``args`` whatever
order they finish in, so a plan is the same on one core, many cores or a cluster. The local
one wraps ``simserve.parallel.OrderedPool``. Imports ``distributed`` only for a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from simserve.parallel import OrderedPool
from simserve.planspec import PlanError

Task = tuple[dict[str, Any], dict[str, Any], int]


def run_point(data: dict[str, Any], overrides: dict[str, Any], seed: int) -> dict[str, Any]:
    """Simulate ``data`` with ``overrides`` under ``seed`` and return the summary dict."""
    from simserve.api import simulate

    return simulate(data, seed=seed, overrides=overrides, tables=False).summary  # summary only: memory flat


def run_task(task: Task) -> dict[str, Any]:
    """``run_point`` of one ``(scenario dict, overrides, seed)`` task (what the pools map)."""
    return run_point(*task)


class Executor(Protocol):
    """Runs tasks and returns their results in input order."""

    workers: int

    def map(self, tasks: Sequence[Task], on_done: Callable[[], None] | None = None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A process pool on ``processes`` cores (default: all), kept across rounds; one process runs in-line."""

    def __init__(self, processes: int | None = None) -> None:
        self._pool = OrderedPool(processes)
        self.workers = self._pool.processes

    def map(self, tasks: Sequence[Task], on_done: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        return self._pool.map(run_task, tasks, (lambda _i: on_done()) if on_done else None)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pool.__exit__(exc_type, exc, tb)  # on an exception: cancel, don't wait for running tasks


class DaskExecutor:
    """The same tasks on a Dask distributed cluster (``tcp://HOST:8786``)."""

    def __init__(self, address: str, timeout_s: float = 30.0) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - depends on the extra being installed
            raise PlanError("--cluster needs dask.distributed: pip install 'simserve[dask]'") from None
        try:
            self._client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise PlanError(f"--cluster {address}: cannot connect to a Dask scheduler ({exc})") from None
        info = self._client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def map(self, tasks: Sequence[Task], on_done: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        from distributed import as_completed as dask_completed

        futures = self._client.map(run_task, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for fut in dask_completed(futures, loop=self._client.loop):
            results[index[fut.key]] = fut.result()
            if on_done:
                on_done()
        return results

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(cluster: str | None = None, processes: int | None = None) -> LocalExecutor | DaskExecutor:
    """A Dask executor for ``cluster``, else a local pool of ``processes`` (default all cores)."""
    return DaskExecutor(cluster) if cluster else LocalExecutor(processes)
