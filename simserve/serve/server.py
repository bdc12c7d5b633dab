"""One ``simserve serve`` run: the live executor on an open workload and the HTTP server, on one loop.

Owns ``ServeSession``: it builds a ``LiveExecutor`` with ``open_workload`` (jobs come from clients;
real time; until stopped or ``duration_s``), a ``JobBook`` wired to the executor's hooks (each job's
id and input to the worker, its output, chunks and end back), ``Webhooks``, and the aiohttp server
(``simserve.serve.api``) started on the same asyncio loop once the driver takes events; an LLM
scenario's jobs go through ``LlmServing`` (their tokens; the built-in worker's answers). ``stop``
(Ctrl-C, SIGTERM) refuses new jobs (503), answers every waiting ``/runsync`` with what it has, and
ends the executor's run, which closes the books as ``simserve live`` does; the server goes last.
``run`` returns the ``LiveRun`` with ``jobs`` set to the recorded trace (``simserve.serve.trace``).
The Python garbage collector is frozen after start-up and its threshold raised while serving: a
full collection over the run's growing per-job objects was the API's p99 latency (see the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import ipaddress
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from simserve.live.executor import LiveExecutor, LiveOptions
from simserve.serve.api import build_app
from simserve.serve.dashboard import dashboard_data
from simserve.serve.jobs import RESULT_TTL_RUN_S, RESULT_TTL_SYNC_S, JobBook
from simserve.serve.limits import RATE_LIMITS, RateLimiter, RouteLimit
from simserve.serve.llm import LlmServing
from simserve.serve.trace import recorded_jobs
from simserve.serve.webhooks import Webhooks

ENDPOINT_ID = "local"
#: generation-0 threshold while serving (Python's default is 700 allocations)
GC_THRESHOLD = 50_000
#: a request that comes while the run starts (the port opens before the first worker) is held this long at most
#: for the endpoint to take jobs, as the platform queues a request whatever its workers are doing; then 503
START_HOLD_S = 120.0
START_POLL_S = 0.05


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServeOptions:
    """The HTTP side of a serve run; ``live``: the workers' side, as for ``simserve live`` (its
    ``open_workload`` is set by the session)."""

    live: LiveOptions
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    webhook_retries: int = 2
    webhook_delay_s: float = 10.0
    #: how long an ended job's result is kept (s): the platform's 30 min (``/run``) and 1 min (``/runsync``)
    result_ttl_run_s: float = RESULT_TTL_RUN_S
    result_ttl_sync_s: float = RESULT_TTL_SYNC_S
    #: the rate limits by route (``simserve.serve.limits``); None: off
    rate_limits: dict[str, RouteLimit] | None = dataclasses.field(default_factory=lambda: dict(RATE_LIMITS))
    #: refuse a ``policy`` value outside the platform's range (False: any positive value, for quick local tests)
    policy_bounds: bool = True


class ServeSession:
    """One serve run; ``await run()`` once (``port`` and ``url`` are known once ``ready`` is set)."""

    def __init__(self, scenario: Any, opts: ServeOptions, runtime: Any = None) -> None:
        self.sc, self.opts = scenario, opts
        self.api_key = opts.api_key or secrets.token_urlsafe(24)
        live = dataclasses.replace(opts.live, open_workload=True)
        self.ex = LiveExecutor(scenario, live, runtime=runtime)
        self.book = JobBook(self.ex.core, self.ex.rec, self.ex.now, opts.result_ttl_run_s, opts.result_ttl_sync_s)
        limits = opts.rate_limits
        self.rate_limits = RateLimiter(limits, time.monotonic) if limits is not None else None
        self.policy_bounds = opts.policy_bounds
        self.webhooks = Webhooks(opts.webhook_retries, opts.webhook_delay_s)
        self.book.on_end = self._job_ended
        self.ex.job_input = self.book.job_input
        self.ex.on_outcome = self.book.outcome
        self.ex.on_chunk = self.book.chunk
        self.ex.on_progress = self.book.progress_update  # progress_update: /status shows it while IN_PROGRESS
        self.ex.job_s3 = self.book.job_s3  # the request's s3Config, on the handler's job
        self.ex.on_job_end = self.book.ended
        #: an LLM endpoint: its jobs' tokens and answers (``simserve.serve.llm``; the built-in worker when the
        #: core runs the engine model, ``LiveOptions.engine_in_core``)
        self.llm: LlmServing | None = None
        if scenario.workload.llm is not None:
            self.llm = LlmServing(scenario, self.ex.core, self.book, self.ex.seed, opts.live.engine_in_core)
            self.ex.on_outcome = self._outcome
            if self.llm.worker is not None:
                self.ex.on_timer = self.llm.worker.on_timer
        self.http_counts: dict[str, int] = {"requests": 0, "unauthorized": 0}
        self.last_error = ""
        self.port = opts.port
        self.ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.gc_stats: dict[int, tuple[int, float, float]] = {}  # generation -> (collections, total s, max s)
        self._gc_t0 = 0.0

    def _gc_timer(self, phase: str, info: dict[str, Any]) -> None:
        """How long the collector stopped the loop, by generation (the summary's ``live.serve.gc``)."""
        if phase == "start":
            self._gc_t0 = time.perf_counter()
            return
        gen = int(info.get("generation", 0))
        n, total, top = self.gc_stats.get(gen, (0, 0.0, 0.0))
        d = time.perf_counter() - self._gc_t0
        self.gc_stats[gen] = (n + 1, total + d, max(top, d))

    @property
    def driver(self) -> Any:
        return self.ex.driver

    @property
    def url(self) -> str:
        host = self.opts.host if ":" not in self.opts.host else f"[{self.opts.host}]"
        return f"http://{host}:{self.port}"

    def use_out_dir(self, out_dir: Path) -> None:
        self.ex.use_out_dir(out_dir)

    def dashboard(self) -> dict[str, Any]:
        return dashboard_data(self.ex, self.book, ENDPOINT_ID, self.http_counts)

    def _outcome(self, j: int, out: Any) -> None:
        self.book.outcome(j, out)
        if self.llm is not None:
            self.llm.outcome(j, out)

    def _job_ended(self, j: int) -> None:
        if self.llm is not None:
            self.llm.ended(j)
        url = self.book.webhooks.get(j)
        if url is not None:
            self.webhooks.send(url, self.book.answer(j))

    async def taking_jobs(self, hold_s: float = START_HOLD_S) -> bool:
        """Whether the endpoint takes jobs, after holding a request that came while the run starts (at most
        ``hold_s``, polled): False once the run stops or the hold runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold_s
        while self.book.open and self.driver is None and loop.time() < deadline:
            await asyncio.sleep(START_POLL_S)
        return self.book.open and self.driver is not None

    def stop(self) -> None:
        """End the run (Ctrl-C, SIGTERM): new jobs are refused, waiters answered, the books closed."""
        self.book.open = False
        self.book.wake_all()
        self.ex.request_stop()

    # ------------------------------------------------------------------ run
    async def run(self) -> Any:
        await self._serve_http()  # first: a port in use is an error before any worker starts
        task = asyncio.create_task(self.ex.run())
        started = asyncio.create_task(self.ex.started.wait())
        try:
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self.stop()
            with contextlib.suppress(BaseException):
                await task
            await self._close_http()
            raise
        if task.done():  # failed before the driver started (assets, broker)
            started.cancel()
            await self._close_http()
            return task.result()
        gc.collect()
        gc.freeze()  # start-up objects (modules, the scenario, pandas) leave the collector's scans
        threshold = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD, threshold[1], threshold[2])
        gc.callbacks.append(self._gc_timer)
        self.ready.set()
        try:
            run = await task
        finally:
            gc.callbacks.remove(self._gc_timer)
            gc.set_threshold(*threshold)
            gc.unfreeze()
            self.book.open = False
            self.book.wake_all()
            await self.webhooks.close()
            await self._close_http()
        run.jobs = recorded_jobs(run.recorder)
        if self.llm is not None and self.llm.worker is not None:  # the built-in worker's token times
            w = self.llm.worker
            run.token_times = w.token_times
            run.notes["token_times"] = {
                "jobs": len(w.token_times),
                "rows": w.token_rows,
                "jobs_dropped": w.token_times_dropped,
            }
            run.notes["llm_worker"] = "built-in (the endpoint core's engine model; placeholder tokens)"
        run.notes["serve"] = {
            "endpoint": ENDPOINT_ID,
            "host": self.opts.host,
            "port": self.port,
            "http": dict(self.http_counts),
            "webhooks": dict(self.webhooks.counts),
            "results_expired": self.book.expired,
            "gc": {
                f"gen{g}": {"n": n, "total_ms": round(t * 1e3, 1), "max_ms": round(m * 1e3, 1)}
                for g, (n, t, m) in self.gc_stats.items()
            },
            **({"last_error": self.last_error} if self.last_error else {}),
        }
        return run

    async def _close_http(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _serve_http(self) -> None:
        app = build_app(self)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.opts.host, self.opts.port, backlog=2048, reuse_address=True)
        await site.start()
        for addr in self._runner.addresses:
            if isinstance(addr, tuple) and len(addr) >= 2:
                self.port = int(addr[1])
                break
