"""The live driver: the endpoint core's effects carried out on a runtime, its events fed back.

Owns ``LiveDriver``: it hands the core arrivals, timers and what the runtime reports (a phase
began, a worker is ready, a start failed, a job's first token came, a job ended, a process
died), each with the clock's ``now``, and passes every effect the core returns, in order, to the
runtime (start, run a job, stop or freeze, reserve) or to the clock (timers). It decides nothing: the rules are in
``simserve.endpoint``. The same driver runs real workers on asyncio (``executor.py``) and the
simulated runtime on a virtual clock (``simulated.py``), which is how parity with the simulator
is proven byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from simserve.endpoint import EndpointCore, Reserve, RunJob, SetTimer, StartWorker, StopWorker
from simserve.live.clock import Clock
from simserve.records import PHASES, JobStatus, Phase

if TYPE_CHECKING:
    from simserve.endpoint.jobops import JobOps

T = TypeVar("T")

STATUS = {"completed": JobStatus.COMPLETED, "failed": JobStatus.FAILED, "timed_out": JobStatus.TIMED_OUT}


class Runtime(Protocol):
    """What the live driver asks of a runtime (it reports back through the driver's methods)."""

    def launch(self, e: StartWorker) -> None: ...

    def run(self, e: RunJob) -> None: ...

    def stop(self, e: StopWorker) -> None: ...

    def reserve(self, e: Reserve) -> None: ...


class LiveDriver:
    """Feeds one endpoint core from a clock and a runtime; carries out its effects."""

    def __init__(self, core: EndpointCore, clock: Clock) -> None:
        self.core = core
        self.clock = clock
        self.runtime: Runtime | None = None
        self.finished = False
        self.end_s = math.inf  # the run is over at this scenario time: later reports are not part of it
        #: an observer of each timer the core handled (``simserve serve``'s built-in LLM worker streams the tokens
        #: an engine step gave out): ``on_timer(timer, now)``, after the core's effects were carried out
        self.on_timer: Callable[[SetTimer, float], None] | None = None

    # ------------------------------------------------------------------ effects
    def perform(self) -> None:
        """Carry out what the core decided, in order."""
        out = self.core.out
        if not out:
            return
        effects = list(out)
        out.clear()
        rt = self.runtime
        assert rt is not None
        for e in effects:
            cls = e.__class__
            if cls is tuple:  # RunJob
                rt.run(e)  # type: ignore[arg-type]
            elif cls is SetTimer:
                self.clock.call_at(e.at_s, self._on_timer, e)  # type: ignore[union-attr,arg-type]
            elif cls is StartWorker:
                rt.launch(e)  # type: ignore[arg-type]
            elif cls is StopWorker:
                rt.stop(e)  # type: ignore[arg-type]
            elif cls is Reserve:
                rt.reserve(e)  # type: ignore[arg-type]

    def _over(self, now: float) -> bool:
        return self.finished or now >= self.end_s

    def _on_timer(self, t: SetTimer) -> None:
        now = max(self.clock.now(), t.at_s)
        if self._over(now):
            return
        self.core.on_timer(t.kind, t.arg, now)
        self.perform()
        if self.on_timer is not None:
            self.on_timer(t, now)

    # ------------------------------------------------------------------ events
    def start(self) -> None:
        self.core.start(self.clock.now())
        self.perform()

    def arrive(self, j: int) -> None:
        now = self.clock.now()
        if self._over(now):
            return
        self.core.arrive(j, now)
        self.perform()

    # ------------------------------------------------------------------ an open run's jobs (simserve serve)
    def _client(self, op: Callable[[JobOps, float], T], default: T) -> T:
        """A client's call on an open run (``EndpointCore.open_workload``): ``op(jobops, now)``, its effects
        carried out; ``default`` when the run is over."""
        now = self.clock.now()
        jobops = self.core.jobops
        if self._over(now) or jobops is None:
            return default
        result = op(jobops, now)
        self.perform()
        return result

    def submit(
        self,
        exec_timeout_s: float | None = None,
        ttl_s: float | None = None,
        low: bool = False,
        tokens: tuple[int, int] | None = None,
    ) -> int:
        """A client submitted a job now (``low``: low priority; ``tokens``: an LLM run's input and output tokens);
        returns its index, or -1 when the run is over."""
        return self._client(lambda ops, now: ops.submit(now, exec_timeout_s, ttl_s, low, tokens), -1)

    def cancel(self, j: int) -> bool:
        """A client cancelled job ``j``; whether it was still waiting or running."""
        return self._client(lambda ops, now: ops.cancel(j, now), False)

    def cancelled(self, j: int) -> bool:
        """Whether job ``j`` ended ``cancelled`` (a client's cancel)."""
        return 0 <= j < len(self.core.rec.status) and self.core.rec.status[j] == JobStatus.CANCELLED

    def retry(self, j: int) -> bool:
        """A client retried failed or timed-out job ``j``; whether it went back to the queue."""
        return self._client(lambda ops, now: ops.retry(j, now), False)

    def purge(self) -> list[int]:
        """A client purged the queue; the jobs it held."""
        return self._client(lambda ops, now: ops.purge(now), [])

    def phase(self, wid: int, epoch: int, name: str, now: float) -> None:
        """A runtime measured the start of cold-start phase ``name`` of worker ``wid``."""
        if self._over(now) or name not in PHASES:
            return
        self.core.phase_started(wid, epoch, Phase(PHASES.index(name)), now)

    def ready(self, wid: int, epoch: int, now: float) -> None:
        if self._over(now):
            return
        self.core.ready(wid, epoch, now)
        self.perform()

    def start_failed(self, wid: int, epoch: int, now: float) -> None:
        if self._over(now):
            return
        self.core.start_failed(wid, epoch, now)
        self.perform()

    def crashed(self, wid: int, epoch: int, now: float) -> None:
        if self._over(now):
            return
        self.core.crashed(wid, epoch, now)
        self.perform()

    def job_done(self, token: int, status: str, now: float, refresh: bool = False) -> None:
        """A job's run ended: ``completed``, ``failed`` or ``timed_out``; ``refresh``: its result asked for
        its worker to be refreshed (the SDK's ``stopPod``: a restart counted as ``refreshes``)."""
        if self._over(now):
            return
        self.core.job_finished(token, now, STATUS[status], refresh=refresh)
        self.perform()

    def job_taken(self, token: int, now: float) -> None:
        """The worker took the run with ``token`` at ``now`` (its SDK polled for it): the job's start, so
        its wait for the worker's poll is delay, not execution (``records``: delay = arrival to the take,
        execution = the take to the result). Never before the core handed it over, never for a stale run."""
        core = self.core
        j = token
        if core.job_token:  # as the core resolves a run's token (a requeued job's earlier runs are stale)
            if token >= core.n:
                j = core.token_job.get(token, -1)
                if j < 0 or core.job_token.get(j) != token:
                    return
            elif token in core.job_token:
                return
        if core.status[j] == JobStatus.IN_PROGRESS and now > core.start_s[j]:
            core.start_s[j] = now

    def set_worker_concurrency(self, wid: int, epoch: int, n: int, now: float) -> None:
        """Worker ``wid``'s SDK runs up to ``n`` jobs at once (its ``concurrency_modifier``)."""
        if self._over(now):
            return
        self.core.set_worker_concurrency(wid, epoch, n, now)
        self.perform()

    def first_token(self, token: int, now: float) -> None:
        """A real worker yielded the first output token of the run with ``token`` (an LLM run)."""
        if self._over(now):
            return
        self.core.first_token(token, now)

    def current(self, wid: int, epoch: int) -> bool:
        return not self.finished and self.core.current(wid, epoch)

    def finish(self, now: float) -> None:
        """The run ends: the core closes the books and stops every worker."""
        self.core.finish(now)
        self.perform()
        self.finished = True
