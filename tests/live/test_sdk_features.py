"""The worker SDK's features under ``simserve live``, driven by real handler files (the ``runpod`` package
unchanged, as a user writes them; ``tests/live/handlers/``): ``progress_update`` leaves its job running,
``refresh_worker`` (start config or result) ends the job and refreshes its worker (counted as a refresh, not a
crash or a retry), ``return_aggregate_stream: False`` keeps the chunks out of the result, the
``concurrency_modifier`` is the worker's concurrency, ``s3Config`` reaches the handler's job, a returned
``{"error": ...}`` fails the job (native protocol too) with ``rp_validator``'s errors as the SDK sends them,
and a job starts when the worker takes it (the SDK's poll gap is delay, not execution).

Timing: every wait polls a future or a run with a deadline of 20-90 s (a loaded 2-core machine); no fixed
sleep is taken as proof of anything."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("runpod")

from simserve.live.broker import RunpodBroker
from simserve.live.process import ProcessRuntime
from simserve.live.runtime import JobHooks, WorkerSpec
from simserve.live.worker import NativeWorker, RunpodWorker
from tests.live.conftest import check_invariants, run_live, scenario

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

SHIM = Path(__file__).resolve().parents[2] / "simserve" / "live" / "shim.py"
MINE = Path(__file__).resolve().parent / "handlers"
S3 = {"accessId": "AKIA", "accessSecret": "s3cr3t", "bucketName": "outputs", "endpointUrl": "http://127.0.0.1:9"}


def _spec(tmp: Path, handler: Path, broker: RunpodBroker | None) -> WorkerSpec:
    store = tmp / "store"
    store.mkdir(exist_ok=True)
    (store / "img").write_bytes(b"x" * 1024)
    env = dict(os.environ, **(broker.sdk_env(0) if broker is not None else {}))
    argv = (
        (sys.executable, str(SHIM), "--runpod", str(handler)) if broker else (sys.executable, str(SHIM), str(handler))
    )
    return WorkerSpec(
        worker_id=0,
        protocol="runpod" if broker else "native",
        argv=argv,
        env=env,
        cwd=tmp,
        host_id=0,
        gpus=(),
        image_key="img",
        image_store=store,
        cache_dir=tmp / "cache",
        log_path=tmp / "w.log",
        broker=broker,
    )


def _with_worker(
    tmp: Path, handler: str, body: Callable[[Any, RunpodBroker | None], Awaitable[Any]], sdk: bool = True
) -> Any:
    """Start ``handler`` (one worker, behind a broker when ``sdk``), run ``body(handle, broker)``, stop it."""

    async def main() -> Any:
        broker = None
        if sdk:
            broker = RunpodBroker(long_poll_s=0.5)
            await broker.start()
            broker.register(0)
        handle = await ProcessRuntime().start(_spec(tmp, MINE / handler, broker), lambda *_: None)
        try:
            return await asyncio.wait_for(body(handle, broker), 90)
        finally:
            await handle.stop(5.0)
            if broker is not None:
                await broker.close()

    return asyncio.run(main())


def test_progress_update_leaves_the_job_running(tmp_path):
    seen: list[tuple[str, Any]] = []

    async def body(handle: RunpodWorker, _broker: Any) -> Any:
        hooks = JobHooks(on_progress=lambda i, x: seen.append((i, x)))
        out = await handle.run_job("p1", {"sleep": 1.2, "n": 1}, 60.0, hooks)
        return out, await handle.run_job("p2", {"sleep": 0.3, "n": 2}, 60.0)

    first, second = _with_worker(tmp_path, "sdk_progress.py", body)
    assert first.status == "completed" and first.output == {"done": 1}  # the real result, not a step
    assert ("p1", "step 1/3") in seen and {x for _, x in seen} <= {"step 1/3", "step 2/3", "step 3/3"}
    assert first.ended_t - first.started_t >= 1.2  # the handler's whole run is execution
    assert second.status == "completed" and second.output == {"done": 2}


def test_aggregate_off_streams_chunks_and_keeps_them_out_of_the_result(tmp_path):
    chunks: list[Any] = []

    async def body(handle: RunpodWorker, _broker: Any) -> Any:
        return await handle.run_job("s1", {}, 60.0, JobHooks(on_chunk=chunks.append))

    out = _with_worker(tmp_path, "sdk_stream_noagg.py", body)
    assert out.status == "completed" and out.chunks == 3
    assert chunks == [{"chunk": i} for i in range(3)]
    assert out.output == []  # the SDK's own final body, {"output": []}: no aggregate added here


def test_sdk_s3config_validation_errors_and_result_refresh(tmp_path):
    async def body(handle: RunpodWorker, _broker: Any) -> Any:
        ok = await handle.run_job("a", {"n": 1}, 60.0, JobHooks(extra={"s3Config": S3}))
        plain = await handle.run_job("b", {"n": 2}, 60.0)
        bad = await handle.run_job("c", {}, 60.0)
        return ok, plain, bad

    ok, plain, bad = _with_worker(tmp_path, "sdk_job_fields.py", body)
    assert ok.status == "completed" and ok.output == {"n": 1, "s3Config": S3}
    assert plain.output == {"n": 2, "s3Config": None}
    # rp_validator's list, as the SDK posts it ({"error": [...]}): JSON text, not Python's str() of a list
    assert bad.status == "failed" and bad.error == '["n is a required input."]'

    async def refresh(handle: RunpodWorker, _broker: Any) -> Any:
        return [await handle.run_job(k, {"refresh": k == "r"}, 60.0) for k in ("n", "r")]

    kept, refreshed = _with_worker(tmp_path, "sdk_refresh_result.py", refresh)
    assert kept.status == refreshed.status == "completed"
    assert not kept.refresh and refreshed.refresh  # the SDK popped the key and sent stopPod
    assert refreshed.output == {"pid": kept.output["pid"]}


def test_native_error_dict_fails_the_job_and_fields_pass_through(tmp_path):
    async def body(handle: NativeWorker, _broker: Any) -> Any:
        return [
            await handle.run_job("f", {"fail": 1}, 60.0),
            await handle.run_job("e", {"errors": 1}, 60.0),
            await handle.run_job("s", {}, 60.0, JobHooks(extra={"s3Config": S3})),
            await handle.run_job("r", {"refresh": 1}, 60.0),
        ]

    fail, errors, s3, refresh = _with_worker(tmp_path, "native_fields.py", body, sdk=False)
    assert fail.status == "failed" and fail.error == "bad input"  # as the SDK path: error popped, job FAILED
    assert errors.status == "failed" and errors.error == '["n is a required input."]'
    assert s3.status == "completed" and s3.output["s3Config"] == S3 and not s3.refresh
    assert refresh.status == "completed" and refresh.refresh and "refresh_worker" not in refresh.output


def test_concurrency_modifier_is_what_the_broker_hears(tmp_path):
    async def body(handle: RunpodWorker, broker: RunpodBroker) -> Any:
        asked = broker.concurrency(0)  # its first take (none in progress) asked for its whole concurrency
        return asked, await asyncio.gather(*(handle.run_job(f"c{k}", {"service_s": 2.0}, 60.0) for k in range(3)))

    asked, outs = _with_worker(tmp_path, "sdk_concurrent.py", body)
    assert asked == 3
    assert [o.status for o in outs] == ["completed"] * 3
    assert max(o.output["held"] for o in outs) == 3  # the three ran at once in the one worker


# ---------------------------------------------------------------------- whole live runs


def _max_overlap(jobs: Any) -> int:
    """The most jobs in progress at once (intervals [start, end))."""
    done = jobs[jobs["status"] == "completed"]
    ev = sorted([(s, 1) for s in done["start_s"]] + [(e, -1) for e in done["end_s"]], key=lambda p: (p[0], p[1]))
    level = peak = 0
    for _, d in ev:
        level += d
        peak = max(peak, level)
    return peak


def test_live_progress_runs_the_whole_handler(out_dir):
    sc = scenario({"type": "queue_delay", "value": 2.0}, horizon=10.0, rate=0.5, max_workers=1, extra_workers=0)
    ex, result = run_live(sc, str(MINE / "sdk_progress.py"), out_dir, speed=1.0, timeout_s=90.0)
    check_invariants(sc, result)
    jobs = result.jobs
    done = jobs[jobs["status"] == "completed"]
    assert len(done) >= 1
    service = np.asarray(ex.jobs.service_s)[done["job_id"].to_numpy()]
    assert (done["execution_s"].to_numpy() >= service - 1e-6).all()  # never the ~0.1 s of a first step
    assert _max_overlap(jobs) == 1  # the one worker was never handed a second job while busy


async def _until(cond: Callable[[], bool], what: str) -> None:
    """Wait for ``cond`` (polled every 50 ms), at most 60 s: a cold SDK start under load fits in that."""
    deadline = asyncio.get_running_loop().time() + 60
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


def test_live_refresh_worker_restarts_as_a_refresh(out_dir):
    """Three jobs a client sends one after another to one worker whose SDK refreshes it after each: every job
    ends completed and each next one pays a fresh start (the run stops once they are done: no wall-time
    horizon that a loaded machine's slow SDK starts could outrun)."""
    sc = scenario({"type": "queue_delay", "value": 2.0}, horizon=600.0, max_workers=1, extra_workers=0)

    async def during(ex: Any) -> None:
        ex.job_input = lambda j: (f"j{j}", {"service_s": 0.2})  # before the run starts
        await ex.started.wait()
        for _ in range(3):
            job = ex.driver.submit()
            await _until(lambda j=job: ex.rec.status[j] == 2, f"job {job} completed")
        ex.request_stop()

    _, result = run_live(
        sc, str(MINE / "sdk_refresh.py"), out_dir, speed=1.0, timeout_s=240.0, during=during, open_workload=True
    )
    check_invariants(sc, result)
    s = result.summary
    assert s["requests"]["completed"] == 3 and s["requests"]["failed"] == 0
    counters = s["counters"]
    # each ended job refreshed its worker: a fresh process, whose start the next job paid (a cold start)
    assert counters["refreshes"] == 3 and counters["cold_starts"] >= 3
    assert result.jobs["cold_start"].astype(bool).all()
    assert counters["crashes"] == counters["retries"] == counters["unhealthy_retries"] == 0
    assert not [f for f in s["live"]["faults"] if f["kind"] == "crashed"]  # the SDK's exit is not a crash
    assert s["live"]["retries"] == 0
    assert "unhealthy" not in set(result.workers["state"])


def test_live_worker_runs_what_its_modifier_asks(out_dir):
    sc = scenario({"type": "queue_delay", "value": 30.0}, horizon=10.0, rate=3.0, max_workers=1, extra_workers=0)
    _, result = run_live(sc, str(MINE / "sdk_concurrent.py"), out_dir, speed=1.0, timeout_s=90.0)
    check_invariants(sc, result)
    assert _max_overlap(result.jobs) == 3  # the core handed it 3 at once, never more


def test_live_sdk_poll_gap_is_delay_not_execution(out_dir):
    # one worker, jobs queued behind each other: the SDK takes the next one up to 1 s after a result
    sc = scenario(
        {"type": "queue_delay", "value": 30.0},
        horizon=10.0,
        rate=2.0,
        service_mean=0.01,
        max_workers=1,
        extra_workers=0,
    )
    _, result = run_live(sc, "runpod_sdk.py", out_dir, speed=1.0, timeout_s=90.0)
    check_invariants(sc, result)
    done = result.jobs[result.jobs["status"] == "completed"]
    assert len(done) >= 3
    # a near-instant handler: its execution is the take -> result round trip (ms; 0.5 s under any load we
    # saw), not the ~1 s poll gap (900-1000 ms before), which is now in the wait
    assert float(np.median(done["execution_s"])) < 0.5, done["execution_s"].tolist()
    assert (done["queue_wait_s"] + done["execution_s"] <= done["latency_s"] + 1e-6).all()


def test_live_concurrent_worker_starts_no_second_worker(out_dir):
    """Jobs a client sends (an open run, as ``simserve serve``): with one warm worker whose modifier asks for 3,
    three 3 s jobs run on it at once; at concurrency 1 two of them would wait over the scaler's 1 s and a
    second worker would start."""
    sc = scenario({"type": "queue_delay", "value": 1.0}, horizon=600.0, max_workers=3, extra_workers=0)

    async def during(ex: Any) -> None:
        ex.job_input = lambda j: (f"j{j}", {"service_s": 0.05 if j == 0 else 3.0})  # before the run starts
        await ex.started.wait()
        rec = ex.rec
        warm = ex.driver.submit()
        await _until(lambda: rec.status[warm] == 2, "the warm-up job completed")
        jobs = [ex.driver.submit() for _ in range(3)]
        await _until(lambda: all(rec.status[j] == 2 for j in jobs), "the three jobs completed")
        ex.request_stop()

    handler = str(MINE / "sdk_concurrent.py")
    _, result = run_live(sc, handler, out_dir, speed=1.0, timeout_s=120.0, during=during, open_workload=True)
    assert result.summary["requests"]["completed"] == 4
    assert _max_overlap(result.jobs) == 3  # the three at once, on the one worker
    assert set(result.jobs["worker_id"]) == {0}
    assert result.summary["counters"]["cold_starts"] == 1  # no second worker was started for them


def test_broker_tells_progress_stoppod_errors_and_asks_apart():
    """The bodies the SDK posts (rp_progress, rp_job.handle_job) and the takes it makes (rp_job._job_get_url),
    fed to the broker's router directly: exact, no process."""

    async def main() -> Any:
        broker = RunpodBroker(long_poll_s=0.05)
        broker.register(0)
        asked: list[tuple[int, int]] = []
        taken: list[str] = []
        broker.on_concurrency = lambda wid, n: asked.append((wid, n))
        broker.on_take = lambda job_id, _t: taken.append(job_id)
        progress: list[tuple[str, Any]] = []
        fut = broker.submit(
            0, "a", {"x": 1}, JobHooks(on_progress=lambda i, x: progress.append((i, x)), extra={"s3Config": S3})
        )
        second = broker.submit(0, "b", {"x": 2})
        status, jobs = await broker._route("GET", "/v2/job-take-batch/0?gpu=local&batch_size=3&job_in_progress=0", b"")
        await broker._route("GET", "/v2/job-take/0?gpu=local&job_in_progress=1", b"")  # in progress: not an ask
        await broker._route(
            "POST", "/v2/job-done/0/a?gpu=local&isStream=false", b'{"status": "IN_PROGRESS", "output": "1/3"}'
        )
        assert not fut.done()
        await broker._route(
            "POST", "/v2/job-done/0/a?gpu=local&isStream=false", b'{"output": {"y": 1}, "stopPod": true}'
        )
        await broker._route(
            "POST", "/v2/job-done/0/b?gpu=local&isStream=false", b'{"output": {}, "error": ["n is required"]}'
        )
        return status, jobs, asked, taken, progress, await fut, await second

    status, jobs, asked, taken, progress, a, b = asyncio.run(main())
    assert status == 200 and jobs == [{"id": "a", "input": {"x": 1}, "s3Config": S3}, {"id": "b", "input": {"x": 2}}]
    assert asked == [(0, 3)] and taken == ["a", "b"]
    assert progress == [("a", "1/3")]
    assert a.status == "completed" and a.output == {"y": 1} and a.refresh
    assert b.status == "failed" and b.error == '["n is required"]' and not b.refresh


def test_a_released_workers_polls_end_at_once_and_its_queued_job_still_goes_out():
    """A worker being stopped (``release``): its open take and stop-signal polls answer 204 at once, not after the
    long poll (30 s here), so the SDK ends its loops on SIGTERM; a job already queued for it is still handed out.
    Exact: the broker's router, each answer awaited at most 5 s (it comes at once; 30 s when held)."""

    async def main() -> Any:
        broker = RunpodBroker(long_poll_s=30.0)
        broker.register(0)
        take = asyncio.ensure_future(broker._route("GET", "/v2/job-take/0?gpu=local&job_in_progress=0", b""))
        stop = asyncio.ensure_future(broker._route("GET", "/v2/job-stop/0?gpu=local", b""))
        await asyncio.sleep(0.05)
        assert not take.done() and not stop.done()  # long polls, held
        broker.release(0)
        taken = await asyncio.wait_for(take, 5.0)
        stopped = await asyncio.wait_for(stop, 5.0)
        later = await asyncio.wait_for(broker._route("GET", "/v2/job-take/0?gpu=local&job_in_progress=0", b""), 5.0)
        broker.submit(0, "queued", {"x": 1})
        queued = await asyncio.wait_for(broker._route("GET", "/v2/job-take/0?gpu=local&job_in_progress=0", b""), 5.0)
        return taken, stopped, later, queued

    taken, stopped, later, queued = asyncio.run(main())
    assert taken == (204, None) and stopped == (204, None) and later == (204, None)
    assert queued == (200, {"id": "queued", "input": {"x": 1}})
