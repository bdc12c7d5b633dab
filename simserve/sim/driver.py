"""The simulator's driver: the endpoint core's effects carried out in simulated time.

Owns ``SimDriver``: it feeds the core its events (pre-drawn arrivals merged into the kernel's
queue, phase ends, readiness, job ends, timers) and performs each effect the core returns:
a start's phases take their drawn durations, a job takes its drawn service time (or ends
``timed_out`` at its limit), a timer fires at its time. Stopping, freezing and reserving are
no-ops here (nothing real runs). It decides nothing: every rule is in ``simserve.endpoint``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator

import numpy as np

from simserve import records
from simserve.endpoint import Effect, EndpointCore, SetTimer, StartWorker, TimerKind, build_hosts
from simserve.endpoint.playback import PhasePlayback
from simserve.records import JobStatus, Phase, Recorder, RingRecorder
from simserve.rng import RandomStreams
from simserve.scenario import Scenario
from simserve.sim.hotloop import hot_ok, run_hot
from simserve.sim.kernel import Kernel, Ticker
from simserve.workload import Jobs, generate, job_blocks

#: where a streamed run's finished blocks of job records go (see ``SimDriver``)
BlockSink = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]

TIMED_OUT = JobStatus.TIMED_OUT
TICK = TimerKind.TICK


class SimDriver:
    """One simulation run. Build, ``run()``, then read ``rec``.

    With ``sink``, the run is streamed: jobs are drawn a block at a time into a ``RingRecorder``
    and each block's records go to ``sink(first_job_id, arrival_s, start_s, end_s, status, worker_id,
    cold)`` once its slots are needed again (and at the end), so memory does not grow with the jobs.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        jobs: Jobs | None = None,
        sink: BlockSink | None = None,
        block: int | None = None,
    ) -> None:
        self.sc = scenario
        streams = RandomStreams(seed)
        self.ring: RingRecorder | None = None
        if sink is None:
            self.jobs = jobs if jobs is not None else generate(scenario, streams)
            self.svc = records.doubles(self.jobs.service_s)
            self.rec: Recorder = Recorder(
                self.jobs.arrival_s, input_tokens=self.jobs.input_tokens, output_tokens=self.jobs.output_tokens
            )
            self.blocks: Iterator[Jobs] | None = None
        else:
            self.ring = RingRecorder(
                sink, block=records.STREAM_BLOCK if block is None else block, llm=scenario.workload.llm is not None
            )
            self.rec = self.ring
            self.svc = array("d", bytes(8 * self.ring.capacity))
            self.blocks = job_blocks(scenario, streams, self.ring.block)
            self.n_blocks = 0
        self.core = EndpointCore(scenario, streams, self.rec, build_hosts(scenario))
        if self.ring is not None:
            self.ring.job_token = self.core.job_token
        self.env = Kernel()
        self.out = self.core.out
        self.starts = PhasePlayback(self.env.call_at, lambda: self.env.now, self._on_phase, self._on_ready)
        self.env.bind(self.out, tuple, self.svc, self._on_timeout, self._other)  # RunJob is a plain tuple
        self._carry = self.env.carry
        self.ticker = Ticker(self._on_tick, self.core)  # the autoscaler's ticks, asleep or not
        #: use the per-job fast path where it applies (``hotloop``); False: the core's methods for every event
        self.hot = True
        #: progress of a streamed run: ``on_block(jobs drawn so far, simulated time of the last)``
        self.on_block: Callable[[int, float], None] | None = None

    def run(self) -> Recorder:
        core = self.core
        core.start(0.0)
        self._carry(0.0)
        refill = None if self.ring is None else self._refill
        arrivals = core.arr if self.ring is None else array("d")
        if self.hot and hot_ok(core):
            run_hot(self.env, core, arrivals, self.sc.horizon, refill=refill)
        else:
            self.env.run_merged(arrivals, core.arrive, core.job_finished, self.sc.horizon, refill=refill)
        core.finish(self.sc.horizon)
        core.out.clear()  # stops at the horizon: nothing runs here
        if self.ring is not None:
            self.ring.flush_all()
        return self.rec

    def release(self) -> None:
        """Let go of the run's engine once ``run`` has returned its recorder. The kernel, the core and their
        parts hold each other's bound methods (the queue's entries, the core's timers and callbacks) and
        a streamed ring its sinks, which point back at it: reference cycles that would keep the run's job
        lists (tens of MB) until Python's next full collection, piling up over a planner's replications.
        The recorder stays whole; this driver is spent."""
        if self.ring is not None:
            self.ring.sink = self.ring.iv_sink = None
        self.env.drop_queue()
        ticker = self.ticker
        del ticker.fn, ticker.src  # slotted: its two references
        for part in (self.starts, self.core, self.env, self):
            vars(part).clear()

    def _refill(self) -> tuple[array[float], int] | None:
        """The next block of a streamed run, in its ring slots (the block they held goes to the sink)."""
        assert self.ring is not None and self.blocks is not None
        blk = next(self.blocks, None)
        if blk is None:
            return None
        base = self.ring.load(self.n_blocks, blk.arrival_s, self.env.now, blk.input_tokens, blk.output_tokens)
        np.frombuffer(self.svc, dtype=float)[base : base + len(blk)] = blk.service_s
        self.n_blocks += 1
        if self.on_block is not None:
            self.on_block(self.n_blocks * self.ring.block, float(blk.arrival_s[-1]))
        return self.ring.ring_arr[base : base + len(blk)], base

    # ------------------------------------------------------------------ events into the core
    def _on_timeout(self, token: int) -> None:
        self.core.job_finished(token, self.env.now, TIMED_OUT)
        self._carry(self.env.now)

    def _on_timer(self, t: SetTimer) -> None:
        self.core.on_timer(t.kind, t.arg, self.env.now)
        self._carry(self.env.now)

    def _on_tick(self, _: Ticker) -> None:
        """The autoscaler's tick, when due: while the core's ticks sleep (``EndpointCore.tick_due``) the
        kernel only moves the ``Ticker`` a grid step on, as the core itself would, without calling it."""
        now = self.env.now
        self.core.on_timer(TICK, None, now)
        self._carry(now)

    def _on_phase(self, wid: int, epoch: int, phase: Phase, now: float) -> None:
        self.core.phase_started(wid, epoch, phase, now)

    def _on_ready(self, wid: int, epoch: int, now: float) -> None:
        self.core.ready(wid, epoch, now)
        self._carry(now)

    # ------------------------------------------------------------------ effects out of the core
    def _other(self, e: Effect, now: float) -> None:
        """The effects other than ``RunJob`` (``Kernel.carry`` pushes those itself)."""
        if e.__class__ is SetTimer:
            if e.kind == TICK:  # type: ignore[union-attr]
                self.env.push_ticker(e.at_s, self.ticker)  # type: ignore[union-attr]
            else:
                self.env.call_at(e.at_s, self._on_timer, e)  # type: ignore[union-attr]
        elif e.__class__ is StartWorker:
            self.starts.launch(e)  # type: ignore[arg-type]
        # StopWorker, Reserve: nothing real runs in a simulation


def simulate_tables(
    scenario: Scenario, seed: int | None = None, jobs: Jobs | None = None, sink: BlockSink | None = None
) -> Recorder:
    """Run one replication and return its recorder (no files, no printing); streamed with ``sink``."""
    driver = SimDriver(scenario, scenario.seed if seed is None else seed, jobs=jobs, sink=sink)
    rec = driver.run()
    driver.release()
    return rec
