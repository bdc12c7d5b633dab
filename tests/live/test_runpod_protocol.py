"""The runpod protocol: real Runpod-SDK handler files, unmodified, against the local broker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

pytest.importorskip("runpod")

from simserve.live.broker import RunpodBroker
from simserve.live.executor import detect_protocol
from simserve.live.process import ProcessRuntime
from simserve.live.runtime import WorkerSpec
from tests.live.conftest import HANDLERS, check_invariants, run_live, scenario

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]

SHIM = Path(__file__).resolve().parents[2] / "simserve" / "live" / "shim.py"

GENERATOR = """
import runpod

def handler(job):
    for i in range(3):
        yield {"chunk": i, "n": job["input"]["n"]}

runpod.serverless.start({"handler": handler, "return_aggregate_stream": True})
"""

SYNC_CONC = """
import runpod

def handler(job):
    return {"twice": job["input"]["n"] * 2}

runpod.serverless.start({"handler": handler, "concurrency_modifier": lambda c: 2})
"""


async def _serve_jobs(tmp: Path, source: str, jobs: list[dict]) -> tuple[list, dict, float]:
    import os
    import sys

    handler = tmp / "worker.py"
    handler.write_text(source)
    store = tmp / "store"
    store.mkdir()
    (store / "img").write_bytes(b"x" * 1024)
    broker = RunpodBroker(long_poll_s=0.5)
    await broker.start()
    broker.register(0)
    env = dict(os.environ, **broker.sdk_env(0))
    spec = WorkerSpec(
        worker_id=0,
        protocol="runpod",
        argv=(sys.executable, str(SHIM), "--runpod", str(handler)),
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
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    handle = await ProcessRuntime().start(spec, phases.setdefault)
    ready_s = time.monotonic() - t0
    try:
        outs = [await handle.run_job(f"j{i}", job, 20.0) for i, job in enumerate(jobs)]
        assert handle.is_alive()
    finally:
        code = await handle.stop(5.0)
        await broker.close()
    assert code is not None and not handle.is_alive()
    assert broker.requests > 0
    return outs, phases, ready_s


def test_sync_sdk_handler_file_runs_unmodified(tmp_path):
    outs, phases, ready_s = asyncio.run(
        _serve_jobs(tmp_path, (HANDLERS / "runpod_sdk.py").read_text(), [{"n": 1}, {"n": 2}])
    )
    assert [o.status for o in outs] == ["completed", "completed"]
    assert outs[1].output["echo"] == {"n": 2}
    assert list(phases) == ["pull", "container_start", "handler_init"]
    assert ready_s < 30


def test_generator_sdk_handler_streams_chunks(tmp_path):
    outs, _, _ = asyncio.run(_serve_jobs(tmp_path, GENERATOR, [{"n": 7}]))
    assert outs[0].status == "completed"
    assert outs[0].output == [{"chunk": i, "n": 7} for i in range(3)]


def test_batch_take_path_with_concurrency_modifier(tmp_path):
    outs, _, _ = asyncio.run(_serve_jobs(tmp_path, SYNC_CONC, [{"n": 4}, {"n": 5}]))
    assert [o.output for o in outs] == [{"twice": 8}, {"twice": 10}]


def test_protocol_is_detected_from_the_handler_source():
    assert detect_protocol(HANDLERS / "runpod_sdk.py") == "runpod"
    assert detect_protocol(HANDLERS / "sleep.py") == "native"


def test_live_run_with_sdk_worker(out_dir):
    sc = scenario({"type": "queue_delay", "value": 2.0}, horizon=20.0, rate=0.5, max_workers=2)
    ex, result = run_live(sc, "runpod_sdk.py", out_dir, speed=2.0)  # the SDK takes ~1 job/s per worker
    assert ex.protocol == "runpod"
    check_invariants(sc, result)
    assert result.summary["requests"]["completed"] >= 3
    assert "Started." in (out_dir / "logs" / "0.log").read_text()
