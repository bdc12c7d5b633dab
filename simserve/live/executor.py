"""The live executor: the scenario's workload against real workers, on the one endpoint core.

Owns ``LiveExecutor``: one live run on asyncio. It prepares the image payloads (one per image
version) and weights files, builds the endpoint core over the local slots (``local_hosts``), a
``WallClock`` (``now_s = (monotonic() - t0) * speed``), the ``LiveDriver`` and a ``RealRuntime``
(process, docker or podman), replays the pre-drawn arrivals, and on ``--duration``, the end of the
horizon or ``request_stop()`` (Ctrl-C) ends the run: the core closes the books (jobs still queued
or running are in flight, as in the simulator), every worker is stopped, and a complete
``Recorder`` comes back. The run also ends early, the same way, when the handler cannot start:
``max_init_failures`` real failed starts in a row (``MAX_INIT_FAILURES`` by default; the run's
notes then carry ``stopped`` with the last failure and its log tail, for the CLI's exit 1).
Workers get the platform's environment, not the executor's (``simserve.live.workerenv``), and a
memory bound (``worker_memory_bytes``, applied by the shim as ``RLIMIT_DATA``; by
default, on CPU slots, ``WORKER_MEMORY_SHARE`` of the machine's memory split over the slots, see
``default_worker_memory_bytes``; GPU slots get one only when it is given, as the bound is not yet
verified against a GPU driver's host-side mappings).
An LLM scenario (``workload.service: {type: llm}``) runs its engine in the handler, not in the
core (``EndpointCore.use_worker_engine``): a worker takes up to ``max_concurrency`` jobs at once, each
job's input carries its token counts and the engine's figures (``_llm_input``), the handler's
first chunk is the job's first token, and each completed job's chunk times come back with the run
(``engine_in_core``, ``simserve serve``'s built-in LLM worker: the core keeps its engine model and the
workers, started for real, take no job).
Runpod-SDK workers (``simserve.live.broker``): a job starts when the worker takes it (its SDK's poll gap is
delay, not execution), ``progress_update`` leaves the job running (``on_progress``), a result's ``stopPod``
(``refresh_worker``) ends the job and refreshes its worker (``EndpointCore.job_finished(refresh=True)``),
and the concurrency the SDK asks for is the worker's (``EndpointCore.set_worker_concurrency``; not in an
LLM run, where the scenario's ``max_concurrency`` is the worker's and the handler asks for more, see
``examples/handlers/llm_engine_runpod.py``).
``--runtime simulated`` is ``simserve.live.simulated``. No printing: ``status()`` feeds the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simserve.endpoint import EndpointCore, SetTimer, StartWorker, local_hosts, worker_concurrency
from simserve.live.adapter import GiveUp, JobError, RealRuntime, shim_argv
from simserve.live.assets import DEFAULT_MAX_FILE_BYTES, prepare_assets
from simserve.live.broker import RunpodBroker
from simserve.live.clock import WallClock
from simserve.live.driver import LiveDriver
from simserve.live.gpus import make_slots
from simserve.live.journal import JOURNAL_INTERVAL_S, Journal, OpenRow
from simserve.live.procs import MARK_VAR, kill_marked, new_run_mark, worker_mark
from simserve.live.reaper import Reaper
from simserve.live.runtime import MAX_RESULT_BYTES, JobOutcome, Json, WorkerRuntime, WorkerSpec
from simserve.live.runtimes import build_runtime
from simserve.live.view import LiveStats
from simserve.live.workerenv import worker_env
from simserve.records import STATES, Recorder
from simserve.rng import RandomStreams
from simserve.scenario import EngineParams, Scenario
from simserve.workload import Jobs, generate

#: a live run stops after this many real failed starts in a row (no start succeeding in between)
MAX_INIT_FAILURES = 5
#: by default all worker slots together may use this share of the machine's physical memory
WORKER_MEMORY_SHARE = 0.8
#: ... but a worker's default bound is never below this
MIN_WORKER_MEMORY_BYTES = 1 << 30


def physical_memory_bytes() -> int:
    """The machine's physical memory (0 when unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def default_worker_memory_bytes(n_slots: int) -> int:
    """Each worker's memory bound when none is given: its share of ``WORKER_MEMORY_SHARE`` of the
    machine's memory (0, no bound, when the machine's memory is unknown)."""
    total = physical_memory_bytes()
    if total <= 0:
        return 0
    return max(MIN_WORKER_MEMORY_BYTES, int(total * WORKER_MEMORY_SHARE / max(n_slots, 1)))


def stop_time_s(now_s: float) -> float:
    """The end of a run stopped early (a signal, failing starts): ``now_s`` rounded up to the 9 significant
    digits the CSVs are written with, so the tables' last interval ends exactly at summary.json's horizon.

    >>> stop_time_s(12.3456789012), stop_time_s(1234.5678901)
    (12.345679, 1234.5679)
    """
    if now_s <= 0 or not math.isfinite(now_s):
        return now_s
    decimals = max(0, 9 - len(str(int(now_s))))
    return math.ceil(now_s * 10**decimals) / 10**decimals


def engine_input(p: EngineParams, speed: float) -> dict[str, dict[str, float | int | bool | None]]:
    """The engine figures an LLM job's input carries: ``engine`` in wall time (scaled by ``--speed``),
    ``scenario_engine`` as the scenario gives them (``LlmService.engine``, as the simulator's engine); both
    ``EngineParams.handler_figures``, the whole step rule (token budget, chunked prefill, context costs)."""
    return {"engine": p.handler_figures(speed), "scenario_engine": p.handler_figures(1.0)}


def detect_protocol(handler: Path) -> str:
    """``runpod`` when the handler file calls ``runpod.serverless.start``, else ``native``."""
    text = handler.read_text(errors="replace")
    return "runpod" if "serverless.start(" in text else "native"


@dataclass
class LiveOptions:
    handler: Path
    out_dir: Path
    protocol: str = "auto"  # auto | native | runpod
    runtime: str = "process"
    gpus: list[int] | None = None
    slots: int | None = None  # CPU slots (default: max workers + extra workers)
    duration_s: float | None = None  # wall seconds (default: the horizon / speed)
    speed: float = 1.0
    seed: int | None = None
    store: Path | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    stop_grace_s: float = 3.0
    max_init_failures: int = MAX_INIT_FAILURES  # 0: never stop for failed starts
    worker_memory_bytes: int | None = None  # None: default_worker_memory_bytes on CPU slots; 0: no bound
    #: jobs come from clients while the run goes (``simserve serve``), not from the scenario's workload
    open_workload: bool = False
    #: an LLM run whose engine is the endpoint core's model (``simserve serve``'s built-in LLM worker): the
    #: workers start for real but take no job; the core runs the engine steps (as ``simserve run`` does)
    engine_in_core: bool = False


class Stopped(GiveUp):
    """Why a run ended early (``notes.stopped``): the handler could not start."""

    reason: str  # init_failures


@dataclass
class LiveRun:
    recorder: Recorder
    horizon_s: float
    jobs: Jobs
    notes: dict[str, Json] = field(default_factory=dict)  # summary.json's ``live`` section
    job_errors: list[JobError] = field(default_factory=list)  # runs that did not complete, with the error
    #: an LLM run: each completed job's chunk (token) times, scenario seconds (``token_times.csv``)
    token_times: list[tuple[int, tuple[float, ...]]] = field(default_factory=list)


class LiveExecutor:
    """One live run; ``await run()`` once."""

    def __init__(self, scenario: Scenario, opts: LiveOptions, runtime: WorkerRuntime | None = None) -> None:
        self.sc, self.opts = scenario, opts
        ep = scenario.endpoint
        self.seed = scenario.seed if opts.seed is None else opts.seed
        self.streams = RandomStreams(self.seed)
        self.open = opts.open_workload
        if self.open:  # an open run: real time, until stopped (or --duration), jobs as clients send them
            self.jobs = Jobs(np.empty(0), np.empty(0))
            self.speed = 1.0
            self.end_s = math.inf if opts.duration_s is None else float(opts.duration_s)
            none = np.empty(0, dtype=np.int64) if scenario.workload.llm is not None else None
            self.rec = Recorder(np.empty(0), input_tokens=none, output_tokens=none)  # LLM: each job's come with it
        else:
            self.jobs = generate(scenario, self.streams)
            self.speed = float(opts.speed)
            end = scenario.horizon if opts.duration_s is None else min(scenario.horizon, opts.duration_s * self.speed)
            self.end_s = float(end)
            n = int(np.searchsorted(self.jobs.arrival_s, self.end_s, side="left"))
            tin, tout = self.jobs.input_tokens, self.jobs.output_tokens
            self.rec = Recorder(
                np.asarray(self.jobs.arrival_s[:n], dtype=float),
                input_tokens=tin[:n] if tin is not None else None,
                output_tokens=tout[:n] if tout is not None else None,
            )
        # paths are absolute from here on: a worker runs in its handler's directory
        self.handler = opts.handler.resolve()
        self.out_dir = opts.out_dir.absolute()
        self.store = (opts.store or opts.out_dir / "store").absolute()
        self.protocol = detect_protocol(self.handler) if opts.protocol == "auto" else opts.protocol
        self.slots = make_slots(opts.gpus, ep.gpus_per_worker, opts.slots or (ep.worker_cap + ep.extra_workers))
        mem = opts.worker_memory_bytes
        if mem is None:  # the default bound: CPU slots only (see the module docstring)
            mem = 0 if any(self.slots) else default_worker_memory_bytes(len(self.slots))
        self.worker_memory_bytes = max(int(mem), 0)
        self.core = EndpointCore(scenario, self.streams, self.rec, local_hosts(scenario, len(self.slots), ep.gpu[0]))
        if self.open:
            self.core.open_workload()
        #: an open run's hooks (``simserve.serve``): a job's id and input, how each run ended, its chunks,
        #: and each job's end once the core has its outcome
        self.job_input: Callable[[int], tuple[str, Json]] | None = None
        self.on_outcome: Callable[[int, JobOutcome], None] | None = None
        self.on_chunk: Callable[[int, Json], None] | None = None
        self.on_job_end: Callable[[int], None] | None = None
        #: ``on_progress(job, output)``: a running job's handler called ``runpod.serverless.progress_update``
        #: (the job goes on; serve shows it on ``/status``); ``job_s3(job)``: the request's ``s3Config`` (None:
        #: none), put on the handler's job as ``job["s3Config"]``
        self.on_progress: Callable[[int, Json], None] | None = None
        self.job_s3: Callable[[int], Json] | None = None
        #: an observer of the core's timers, given to the driver (``LiveDriver.on_timer``)
        self.on_timer: Callable[[SetTimer, float], None] | None = None
        self.started = asyncio.Event()  # set once the driver takes events (an open run's server may start)
        self.llm = scenario.workload.llm
        self.concurrency = worker_concurrency(scenario)  # a worker's jobs at once: the core's rule
        #: an LLM run: the engine figures each job's input carries (``_llm_input``), for the GPU of every
        #: local host (``local_hosts``: the endpoint's first GPU type)
        self._engine_input: dict[str, dict[str, float | int | bool | None]] = {}
        if self.llm is not None and not opts.engine_in_core:
            self.core.use_worker_engine()  # the handler is the engine: it reports first tokens and ends
            self._engine_input = engine_input(self.llm.engine(ep.gpu[0]), self.speed)
        self.stats = LiveStats(scenario, self.rec)  # the live view's running aggregates
        self.runtime = runtime if runtime is not None else build_runtime(opts.runtime)
        self.broker: RunpodBroker | None = None
        self.clock: WallClock | None = None
        self.rt: RealRuntime | None = None
        self.driver: LiveDriver | None = None
        self.run_mark = new_run_mark()  # every worker process carries it (simserve.live.procs)
        self.reaper: Reaper | None = None  # ends the run's workers if this process dies (simserve.live.reaper)
        self.journal: Journal | None = None  # the run's records on disk as it goes (simserve.live.journal)
        self._arrived = 0  # jobs handed to the core so far (a run with drawn arrivals)
        self._starts = 0
        self.strays_killed = 0  # processes left by workers, killed at the end of the run
        self.error: BaseException | None = None
        self.stopped: Stopped | None = None  # why the run ended early (the handler cannot start)
        self._stop = asyncio.Event()

    def use_out_dir(self, out_dir: Path) -> None:
        """Write the run's logs and host caches (and the image store, unless one was given) under ``out_dir``
        (the CLI's staged directory); call before ``run``."""
        self.out_dir = out_dir.absolute()
        if self.opts.store is None:
            self.store = self.out_dir / "store"

    def now(self) -> float:
        return self.clock.now() if self.clock is not None else 0.0

    def request_stop(self) -> None:
        """End the run as soon as possible (Ctrl-C): what is in flight is recorded in flight."""
        self._stop.set()

    # ------------------------------------------------------------------ run
    async def run(self) -> LiveRun:
        opts = self.opts
        self.assets = await asyncio.to_thread(prepare_assets, self.sc, self.store, self.speed, opts.max_file_bytes)
        (self.out_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.out_dir / "home").mkdir(mode=0o700, parents=True, exist_ok=True)  # the workers' HOME
        self.reaper = Reaper(self.run_mark, self.runtime.engine)
        self.journal = Journal(self.out_dir, self._journal_header())
        if self.protocol == "runpod":
            self.broker = RunpodBroker()
            await self.broker.start()
        self.clock = WallClock(self.speed)
        self.driver = LiveDriver(self.core, self.clock)
        self.driver.end_s = self.end_s
        self.driver.on_timer = self.on_timer
        self.rt = RealRuntime(
            self.driver,
            self.clock,
            self.runtime,
            self._spec,
            self.jobs.service_s.tolist(),
            self.speed,
            opts.stop_grace_s,
            job_extra=self._llm_input if self._engine_input else None,
            job_input=self.job_input if self.open else None,
        )
        self.rt.open_llm = self.open and bool(self._engine_input)
        self.rt.max_init_failures = max(int(opts.max_init_failures), 0)
        self.rt.on_give_up = self._give_up
        self.rt.on_job_end = self._job_ended
        self.rt.on_outcome = self.on_outcome
        self.rt.on_chunk = self.on_chunk
        self.rt.on_progress = self.on_progress
        self.rt.job_s3 = self.job_s3
        if self.broker is not None and self.llm is None:  # an SDK worker's concurrency_modifier: the core hears
            self.broker.on_concurrency = self.rt.worker_concurrency  # it (an LLM run: max_concurrency governs)
        if self.broker is not None:
            self.broker.on_take = self.rt.job_taken  # a job starts when its worker takes it
        self.driver.runtime = self.rt
        self.driver.start()
        feeder: asyncio.Task[object] = asyncio.create_task(self._arrivals() if not self.open else self._stop.wait())
        feeder.add_done_callback(self._feeder_done)
        journaling = asyncio.create_task(self._journal_loop())
        self.started.set()
        try:
            wall = self.end_s / self.speed
            await asyncio.wait_for(self._stop.wait(), wall if math.isfinite(wall) else None)
        except asyncio.TimeoutError:
            pass
        finally:
            feeder.cancel()
            journaling.cancel()
            horizon = min(stop_time_s(self.now()), self.end_s) if self._stop.is_set() else self.end_s
            await self._finish(horizon)
            self.rec.seal()
            self._journal_flush(horizon)  # the whole run: a crash while its tables are written loses nothing
            if self.journal is not None:
                self.journal.close()
            if self.reaper is not None:
                self.reaper.done()
        if self.error is not None:
            raise self.error
        errors = self.rt.job_errors if self.rt is not None else []
        tokens = self.rt.token_times if self.rt is not None else []
        return LiveRun(self._truncate(horizon), horizon, self.jobs, self._notes(), errors, tokens)

    def _job_ended(self, job: int) -> None:
        self.stats.job_ended(job)
        if self.on_job_end is not None:
            self.on_job_end(job)

    def _give_up(self, fault: GiveUp) -> None:
        """The handler failed to start too many times in a row: end the run now (the tables are kept)."""
        if self.stopped is None:
            self.stopped = Stopped(reason="init_failures", **fault)
            self._stop.set()

    def _feeder_done(self, task: asyncio.Task[object]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()
            self._stop.set()

    async def _arrivals(self) -> None:
        arr = self.rec.arrival_s
        assert self.clock is not None and self.driver is not None
        for j in range(len(arr)):
            delay = self.clock.wall_at(float(arr[j])) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.driver.arrive(j)
            self._arrived = j + 1

    # ------------------------------------------------------------------ journal
    def _journal_header(self) -> dict[str, Json]:
        """What ``simserve recover`` needs besides the records: the scenario (its files' directory made
        absolute), the seed, the kind of run, who runs it, where it goes, and the notes known at the start."""
        scenario = self.sc.model_dump(mode="json")
        if scenario.get("base_dir"):
            scenario["base_dir"] = str(Path(scenario["base_dir"]).absolute())
        return {
            "kind": "serve" if self.open else "live",
            "run_mark": self.run_mark,
            "pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "out_dir": str(self.opts.out_dir.absolute()),
            "seed": self.seed,
            "scenario": scenario,
            "host_gpu": list(self.rec.host_gpu),
            "notes": {
                "protocol": self.protocol,
                "runtime": self.runtime.name,
                "speed": self.speed,
                "slots": [list(s) for s in self.slots],
                "handler": str(self.handler),
                "worker_memory_bytes": self.worker_memory_bytes,
            },
        }

    async def _journal_loop(self) -> None:
        while True:
            await asyncio.sleep(JOURNAL_INTERVAL_S)
            self._journal_flush(min(self.now(), self.end_s))

    def _journal_flush(self, now_s: float) -> None:
        """Append what happened since the last flush to the journal (``simserve.live.journal``)."""
        if self.journal is None:
            return
        rt = self.rt
        self.journal.flush(
            now_s,
            self.rec,
            len(self.rec.arrival_s) if self.open else self._arrived,
            None if self.open else self.jobs.service_s,
            errors=rt.job_errors if rt is not None else (),
            tokens=rt.token_times if rt is not None else (),
            faults=rt.faults if rt is not None else (),
            open_rows=self._open_rows(now_s),
            counters=dict(self.core.counters),
        )

    def _open_rows(self, now_s: float) -> list[OpenRow]:
        """The state intervals open now, one per worker not retired: (worker, state, phase, since, now, host)."""
        return [
            (w.wid, int(w.state), int(w.phase), w.since, now_s, w.host.host_id if w.host else -1)
            for w in self.core.workers
            if not w.retired
        ]

    def _spec(self, e: StartWorker) -> WorkerSpec:
        a = self.assets
        wid, host = e.worker_id, e.host
        gpus = self.slots[host]
        internal = {
            "SIMSERVE_WORKER_ID": str(wid),
            "SIMSERVE_CONCURRENCY": str(self.concurrency),
            "SIMSERVE_SPEED": repr(self.speed),
            "SIMSERVE_MODEL_PATH": str(a.model_path or ""),
            "SIMSERVE_MODEL_BPS": repr(a.model_bytes_per_wall_s),
            "SIMSERVE_FAIL_INIT": "1" if e.fail_at_end else "0",
            "SIMSERVE_MEMORY_BYTES": str(self.worker_memory_bytes),
            "SIMSERVE_MAX_RESULT_BYTES": str(MAX_RESULT_BYTES),
            "SIMSERVE_STREAM": "1" if self.open else "0",
            #: an LLM run's engine figures in wall time (what a job's ``input.engine`` carries), for a handler
            #: whose input is the client's (``simserve serve --handler``: the vLLM worker's input)
            "SIMSERVE_ENGINE": json.dumps(self._engine_input.get("engine") or {}),
            MARK_VAR: worker_mark(self.run_mark, wid, self._starts),
        }
        self._starts += 1
        sdk_env = None
        if self.broker is not None:  # protocol runpod
            self.broker.register(wid)
            sdk_env = self.broker.sdk_env(wid)
        env = worker_env(  # the platform's environment for a worker, not the executor's
            worker_id=wid,
            gpus=gpus,
            endpoint_env=self.sc.endpoint.env,
            internal=internal,
            sdk_env=sdk_env,
            home=str(self.out_dir / "home") if self.runtime.name == "process" else None,
        )
        mounts = tuple(p for p in (self.handler.parent, Path(__file__).parent, self.store) if p)
        key = a.image_keys[min(e.image_version, len(a.image_keys) - 1)]
        return WorkerSpec(
            worker_id=wid,
            protocol=self.protocol,
            argv=shim_argv(self.handler, self.protocol),
            env=env,
            cwd=self.handler.parent,
            host_id=host,
            gpus=gpus,
            image_key=key,
            image_store=a.image_store,
            cache_dir=self.out_dir / "hosts" / f"h{host}",
            log_path=self.out_dir / "logs" / f"{wid}.log",
            mounts=mounts,
            concurrency=self.concurrency,
            broker=self.broker,
        )

    def _llm_input(self, job: int, wid: int) -> dict[str, Json]:
        """An LLM job's input besides the service time: its token counts and the scenario's engine figures
        for its worker's GPU (``engine_input``), so an engine handler can run the scenario's step-time rule."""
        rec = self.rec
        return {"input_tokens": rec.input_tokens[job], "output_tokens": rec.output_tokens[job], **self._engine_input}

    # ------------------------------------------------------------------ end of run
    async def _finish(self, horizon: float) -> None:
        if self.driver is not None:
            self.driver.finish(horizon)
        if self.clock is not None:
            self.clock.stop()
        if self.rt is not None:
            await self.rt.close()
        if self.broker is not None:
            await self.broker.close()
        with contextlib.suppress(Exception):
            await self.runtime.close()  # a podman service simserve started for the run stops here
        # whatever a worker started and left running (in a session of its own): no process outlives the run
        self.strays_killed += len(await asyncio.to_thread(kill_marked, self.run_mark, prefix=True))

    def _truncate(self, horizon: float) -> Recorder:
        """Jobs that had not arrived by the end of the run are not part of it."""
        rec = self.rec
        n = int(np.searchsorted(rec.arrival_s, horizon, side="left"))
        if n == len(rec.arrival_s):
            return rec
        llm = rec.llm
        out = Recorder(
            rec.arrival_s[:n],
            input_tokens=rec.input_tokens[:n] if llm else None,
            output_tokens=rec.output_tokens[:n] if llm else None,
        )
        out.start_s, out.end_s, out.worker = rec.start_s[:n], rec.end_s[:n], rec.worker[:n]
        if llm:
            out.first_token_s = rec.first_token_s[:n]
        out.status, out.cold = rec.status[:n], rec.cold[:n]
        out.retries, out.iv, out.iv_extend, out.workers = rec.retries, rec.iv, rec.iv_extend, rec.workers
        out.host_gpu, out.actions, out.notes = rec.host_gpu, rec.actions, rec.notes
        return out

    def _notes(self) -> dict[str, Json]:
        faults = self.rt.faults if self.rt is not None else []
        notes: dict[str, Json] = {
            "protocol": self.protocol,
            "runtime": self.runtime.name,
            "speed": self.speed,
            "slots": [list(s) for s in self.slots],
            "retries": self.rec.retries,
            "faults": faults,
            "handler": str(self.handler),
            "worker_memory_bytes": self.worker_memory_bytes,
            "strays_killed": self.strays_killed,
        }
        if self.stopped is not None:
            notes["stopped"] = self.stopped
        if self.llm is not None and self.rt is not None:
            notes["token_times"] = {
                "jobs": len(self.rt.token_times),
                "rows": self.rt.token_rows,
                "jobs_dropped": self.rt.token_times_dropped,
            }
        return notes

    # ------------------------------------------------------------------ live view
    def status(self) -> dict[str, Json]:
        """A snapshot for the terminal: workers by state, queue, latency and cost so far.

        O(1) in the number of jobs (``LiveStats`` keeps running aggregates): O(workers) at most."""
        now = min(self.now(), self.end_s)
        core, rec, stats = self.core, self.rec, self.stats
        by_state = {s: 0 for s in STATES}
        open_rows = self._open_rows(now)
        for row in open_rows:
            by_state[STATES[row[1]]] += 1
        faults = self.rt.faults if self.rt is not None else []
        return {
            "now_s": now,
            "end_s": self.end_s,
            "workers": by_state,
            "in_queue": len(core.queue),
            "in_progress": core.in_progress,
            "arrived": len(core.arr) if self.open else int(np.searchsorted(rec.arrival_s, now, side="right")),
            "completed": stats.completed,
            "latency_p50_s": stats.latency_quantile_s(0.5),
            "latency_p95_s": stats.latency_quantile_s(0.95),
            "cost_usd": stats.cost_usd(open_rows),
            "faults": len(faults),
            "retries": rec.retries,
        }
