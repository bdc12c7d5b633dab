"""The live executor: the scenario's workload against real workers, driven by the policy objects.

Owns ``LiveExecutor``: the asyncio loop that owns the clock (``now_s = (monotonic() - t0) *
speed``, scenario seconds), replays the pre-drawn arrivals, calls the autoscaler on a
wall-clock tick of ``scaler_interval / speed``, performs the ``Dispatcher``'s effects on a
``WorkerRuntime`` (launch, send job, halt, timers), watches workers for crashes, and on
``--duration``, end of horizon or ``request_stop()`` (Ctrl-C) cancels what is in flight,
stops every worker and returns a complete ``Recorder``. No printing: ``status()`` feeds the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simserve.billing import billing_table, is_billed, price_usd_per_s
from simserve.live.assets import DEFAULT_MAX_FILE_BYTES, prepare_assets
from simserve.live.dispatch import Dispatcher, Effect, Halt, Launch, Resume, Send, Suspend, Timer
from simserve.live.gpus import make_slots
from simserve.live.runtime import WorkerHandle, WorkerSpec, WorkerStartError, build_runtime, log_tail
from simserve.policy import build_autoscaler
from simserve.records import J_DONE, PHASES, STATES, Recorder
from simserve.rng import RandomStreams
from simserve.scenario import Scenario
from simserve.workload import Jobs, generate

SHIM = Path(__file__).with_name("shim.py")


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
    unhealthy_retry_s: float = 3600.0  # scenario seconds
    stop_grace_s: float = 3.0


@dataclass
class LiveRun:
    recorder: Recorder
    horizon_s: float
    jobs: Jobs
    notes: dict[str, Any] = field(default_factory=dict)


class LiveExecutor:
    """One live run; ``await run()`` once."""

    def __init__(self, scenario: Scenario, opts: LiveOptions, runtime: Any = None) -> None:
        self.sc, self.opts = scenario, opts
        ep = scenario.endpoint
        self.seed = scenario.seed if opts.seed is None else opts.seed
        self.jobs = generate(scenario, RandomStreams(self.seed))
        self.speed = float(opts.speed)
        end = scenario.horizon if opts.duration_s is None else min(scenario.horizon, opts.duration_s * self.speed)
        self.end_s = float(end)
        n = int(np.searchsorted(self.jobs.arrival_s, self.end_s, side="left"))
        self.rec = Recorder(np.asarray(self.jobs.arrival_s[:n], dtype=float))
        self.protocol = detect_protocol(opts.handler) if opts.protocol == "auto" else opts.protocol
        self.slots = make_slots(opts.gpus, ep.gpus_per_worker, opts.slots or (ep.worker_cap + ep.extra_workers))
        gpu_name = ep.gpu[0]
        self.disp = Dispatcher(scenario, self.rec, build_autoscaler(ep.scaler), [gpu_name] * len(self.slots),
                               opts.unhealthy_retry_s)
        self.runtime = runtime if runtime is not None else build_runtime(opts.runtime)
        self.broker: Any = None
        self.handles: dict[int, tuple[int, WorkerHandle]] = {}
        self.suspended: dict[int, Any] = {}  # FlashBoot: frozen worker handles by worker id
        self.tasks: set[asyncio.Task[Any]] = set()
        self.timers: list[asyncio.TimerHandle] = []
        self.faults: list[dict[str, Any]] = []
        self.finished = False
        self.error: BaseException | None = None
        self._stop = asyncio.Event()
        self.t0 = 0.0
        self.table = billing_table(scenario.billing.preset, scenario.billing.states)

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        return (time.monotonic() - self.t0) * self.speed

    def to_s(self, t_monotonic: float) -> float:
        return (t_monotonic - self.t0) * self.speed

    def request_stop(self) -> None:
        """End the run as soon as possible (Ctrl-C): in-flight jobs are recorded cancelled."""
        self._stop.set()

    # ------------------------------------------------------------------ run
    async def run(self) -> LiveRun:
        opts = self.opts
        store = opts.store or opts.out_dir / "store"
        self.assets = await asyncio.to_thread(prepare_assets, self.sc, store, self.speed, opts.max_file_bytes)
        (opts.out_dir / "logs").mkdir(parents=True, exist_ok=True)
        if self.protocol == "runpod":
            from simserve.live.broker import RunpodBroker

            self.broker = RunpodBroker()
            await self.broker.start()
        self.t0 = time.monotonic()
        self._perform(self.disp.start(0.0))
        feeders = [asyncio.create_task(self._arrivals())]
        if self.disp.scaler.uses_ticks:
            feeders.append(asyncio.create_task(self._ticks()))
        for t in feeders:
            t.add_done_callback(self._feeder_done)
        try:
            await asyncio.wait_for(self._stop.wait(), self.end_s / self.speed)
        except asyncio.TimeoutError:
            pass
        finally:
            for t in feeders:
                t.cancel()
            horizon = min(self.now(), self.end_s) if self._stop.is_set() else self.end_s
            await self._finish(horizon)
        if self.error is not None:
            raise self.error
        return LiveRun(self._truncate(horizon), horizon, self.jobs, self._notes())

    def _feeder_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()
            self._stop.set()

    async def _arrivals(self) -> None:
        arr = self.rec.arrival_s
        for j in range(len(arr)):
            delay = self.t0 + float(arr[j]) / self.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._perform(self.disp.arrive(j, self.now()))

    async def _ticks(self) -> None:
        interval = self.sc.endpoint.scaler_interval
        k = 1
        while True:
            delay = self.t0 + k * interval / self.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._perform(self.disp.tick(self.now()))
            k += 1

    # ------------------------------------------------------------------ effects
    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _perform(self, effects: list[Effect]) -> None:
        if self.finished:
            return
        for e in effects:
            if isinstance(e, Launch):
                self._spawn(self._launch(e.worker_id, e.host, e.epoch))
            elif isinstance(e, Send):
                self._spawn(self._send(e))
            elif isinstance(e, Halt):
                entry = self.handles.pop(e.worker_id, None)
                if entry is not None:
                    self._spawn(entry[1].stop(self.opts.stop_grace_s))
                frozen = self.suspended.pop(e.worker_id, None)
                if frozen is not None:
                    frozen.resume()
                    self._spawn(frozen.stop(self.opts.stop_grace_s))
            elif isinstance(e, Suspend):
                entry = self.handles.pop(e.worker_id, None)
                if entry is not None:
                    handle = entry[1]
                    if getattr(handle, "suspend", None) is not None and handle.suspend():
                        self.suspended[e.worker_id] = handle
                    else:  # this runtime cannot freeze a worker: stop it (a later resume cold-starts)
                        self._spawn(handle.stop(self.opts.stop_grace_s))
            elif isinstance(e, Resume):
                self._spawn(self._resume(e.worker_id, e.epoch))
            elif isinstance(e, Timer):
                loop = asyncio.get_running_loop()
                self.timers.append(loop.call_at(self.t0 + e.at_s / self.speed, self._on_timer, e))

    def _on_timer(self, e: Timer) -> None:
        if self.finished:
            return
        if e.kind == "idle":
            self._perform(self.disp.idle_check(e.worker_id, self.now()))
        elif e.kind == "evict":
            self._perform(self.disp.evict_check(e.worker_id, self.now()))
        else:
            self.disp.recover(e.worker_id, max(e.at_s, 0.0))  # the retry time itself, not the wakeup

    def _spec(self, wid: int, host: int) -> WorkerSpec:
        opts, a = self.opts, self.assets
        handler = opts.handler.resolve()
        gpus = self.slots[host]
        env = dict(os.environ)
        env.update({
            "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus)),
            "PYTHONUNBUFFERED": "1",
            "SIMSERVE_WORKER_ID": str(wid),
            "SIMSERVE_CONCURRENCY": str(self.sc.endpoint.concurrency),
            "SIMSERVE_SPEED": repr(self.speed),
            "SIMSERVE_MODEL_PATH": str(a.model_path or ""),
            "SIMSERVE_MODEL_BPS": repr(a.model_bytes_per_wall_s),
        })
        argv: tuple[str, ...] = (sys.executable, str(SHIM), str(handler))
        if self.protocol == "runpod":
            argv = (sys.executable, str(SHIM), "--runpod", str(handler))
            self.broker.register(wid)
            env.update(self.broker.sdk_env(wid))
        store = opts.store or opts.out_dir / "store"
        mounts = tuple(p for p in (handler.parent, SHIM.parent, store.resolve()) if p)
        return WorkerSpec(
            worker_id=wid, protocol=self.protocol, argv=argv, env=env, cwd=handler.parent, host_id=host,
            gpus=gpus, image_key=a.image_key, image_store=a.image_store,
            cache_dir=opts.out_dir / "hosts" / f"h{host}", log_path=opts.out_dir / "logs" / f"{wid}.log",
            mounts=mounts, concurrency=self.sc.endpoint.concurrency, broker=self.broker,
        )

    async def _launch(self, wid: int, host: int, epoch: int) -> None:
        spec = self._spec(wid, host)

        def on_phase(name: str, t: float) -> None:
            self.disp.phase(wid, epoch, name, self.to_s(t))

        try:
            handle = await self.runtime.start(spec, on_phase)
        except WorkerStartError as exc:
            self._fault(wid, "init_failed", str(exc), exc.log_tail or log_tail(spec.log_path))
            self._perform(self.disp.start_failed(wid, epoch, self.now()))
            return
        if self.finished or not self.disp.current(wid, epoch):
            await handle.stop(self.opts.stop_grace_s)
            return
        self.handles[wid] = (epoch, handle)
        self._perform(self.disp.ready(wid, epoch, self.now()))
        await self._watch(wid, epoch, handle, spec.log_path)

    async def _watch(self, wid: int, epoch: int, handle: WorkerHandle, log_path: Path) -> None:
        """A ready worker's process exiting while it is still the current one is a crash."""
        code = await handle.wait_exit()
        if not self.finished and self.disp.current(wid, epoch):
            tail = log_tail(log_path)
            self._fault(wid, "crashed", f"exit code {code}", tail)
            self.handles.pop(wid, None)
            self._perform(self.disp.crashed(wid, epoch, self.now()))

    async def _resume(self, wid: int, epoch: int) -> None:
        """FlashBoot: thaw the worker's frozen process; it is ready once it runs again."""
        handle = self.suspended.pop(wid, None)
        host = self.disp.workers[wid].host
        if handle is None:  # nothing frozen (the runtime could not suspend it): a cold start
            await self._launch(wid, host, epoch)
            return
        handle.resume()
        if self.finished or not self.disp.current(wid, epoch):
            await handle.stop(self.opts.stop_grace_s)
            return
        if not handle.is_alive():
            self._perform(self.disp.start_failed(wid, epoch, self.now()))
            return
        self.handles[wid] = (epoch, handle)
        self._perform(self.disp.ready(wid, epoch, self.now()))
        await self._watch(wid, epoch, handle, self.opts.out_dir / "logs" / f"{wid}.log")

    def _fault(self, wid: int, kind: str, message: str, tail: str) -> None:
        self.faults.append({"worker_id": wid, "time_s": round(self.now(), 6), "kind": kind,
                            "message": message, "log_tail": tail})

    async def _send(self, e: Send) -> None:
        entry = self.handles.get(e.worker_id)
        if entry is None or entry[0] != e.epoch:
            return  # the worker went away before the job could be sent; a crash requeues it
        svc = float(self.jobs.service_s[e.job])
        payload = {"job": e.job, "service_s": svc / self.speed, "scenario_service_s": svc}
        limit_wall = max(e.limit_s, 0.0) / self.speed
        out = await entry[1].run_job(str(e.job), payload, limit_wall)
        if self.finished:
            return
        if out.status == "crashed":
            return  # the exit watcher in _launch records the crash and requeues
        self._perform(self.disp.job_done(e.worker_id, e.job, out.status, self.now()))

    # ------------------------------------------------------------------ end of run
    async def _finish(self, horizon: float) -> None:
        halts = self.disp.finish(horizon)
        self.finished = True
        for h in self.timers:
            h.cancel()
        stops = []
        for e in halts:
            entry = self.handles.pop(e.worker_id, None) if isinstance(e, Halt) else None
            if entry is not None:
                stops.append(entry[1].stop(self.opts.stop_grace_s))
        for epoch_handle in list(self.handles.values()):
            stops.append(epoch_handle[1].stop(self.opts.stop_grace_s))
        self.handles.clear()
        for frozen in self.suspended.values():  # thaw, then stop, every FlashBoot snapshot left
            frozen.resume()
            stops.append(frozen.stop(self.opts.stop_grace_s))
        self.suspended.clear()
        await asyncio.gather(*stops, return_exceptions=True)
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.broker is not None:
            await self.broker.close()
        with contextlib.suppress(Exception):
            await self.runtime.close()

    def _truncate(self, horizon: float) -> Recorder:
        """Jobs that had not arrived by the end of the run are not part of it."""
        rec = self.rec
        n = int(np.searchsorted(rec.arrival_s, horizon, side="left"))
        if n == len(rec.arrival_s):
            return rec
        out = Recorder(rec.arrival_s[:n])
        for name in ("start_s", "end_s", "worker"):
            setattr(out, name, getattr(rec, name)[:n])
        out.status, out.cold = rec.status[:n], rec.cold[:n]
        for name in ("retries", "iv", "iv_extend", "workers", "host_gpu", "actions", "notes"):
            setattr(out, name, getattr(rec, name))
        return out

    def _notes(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "runtime": getattr(self.runtime, "name", "?"), "speed": self.speed,
                "slots": [list(s) for s in self.slots], "retries": self.rec.retries,
                "faults": self.faults, "handler": str(self.opts.handler)}

    # ------------------------------------------------------------------ live view
    def status(self) -> dict[str, Any]:
        """A snapshot for the terminal: workers by state, queue, latency and cost so far."""
        now = min(self.now(), self.end_s) if self.t0 else 0.0
        d, rec = self.disp, self.rec
        by_state = {s: 0 for s in STATES}
        for w in d.workers:
            if not w.retired:
                by_state[STATES[w.state]] += 1
        lat = [rec.end_s[j] - rec.arrival_s[j] for j in range(len(rec.arrival_s)) if rec.status[j] == J_DONE]
        arrived = int(np.searchsorted(rec.arrival_s, now, side="right"))
        cost = 0.0
        gpw, pricing = self.sc.endpoint.gpus_per_worker, self.sc.pricing
        spans = [tuple(r) for r in rec.interval_table().tolist()] + [(w.wid, w.state, w.phase, w.since, now, w.host) for w in d.workers if not w.retired]
        for wid, st, ph, a, b, host in spans:
            if b > a and is_billed(self.table, STATES[int(st)], PHASES[int(ph)]):
                gpu = rec.host_gpu[int(host)] if host >= 0 else self.sc.endpoint.gpu[0]
                cost += (b - a) * price_usd_per_s(gpu, rec.workers[int(wid)].kind, gpw, pricing)
        return {
            "now_s": now, "end_s": self.end_s, "workers": by_state, "in_queue": len(d.queue),
            "in_progress": d.in_progress, "arrived": arrived, "completed": len(lat),
            "latency_p50_s": float(np.median(lat)) if lat else math.nan,
            "latency_p95_s": float(np.percentile(lat, 95)) if lat else math.nan,
            "cost_usd": cost, "faults": len(self.faults), "retries": rec.retries,
        }
