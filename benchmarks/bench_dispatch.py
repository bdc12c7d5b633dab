"""Dispatch overhead of the native protocol: added latency per job over a direct function call.

Starts one real worker process (the shim with examples/handlers/echo.py) through the process
runtime, sends N sequential jobs through ``NativeWorker.run_job`` and reports the median and
p99 round trip (executor -> pipe -> shim -> handler -> pipe -> executor) minus the handler's
own time as measured inside the worker. Target: median < 2 ms.
Usage: python benchmarks/bench_dispatch.py [N]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simserve.live.process import ProcessRuntime  # noqa: E402
from simserve.live.runtime import WorkerSpec  # noqa: E402


async def bench(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "store").mkdir()
        (tmp / "store" / "img").write_bytes(b"x" * 1024)
        spec = WorkerSpec(
            worker_id=0,
            protocol="native",
            argv=(
                sys.executable,
                str(ROOT / "simserve" / "live" / "shim.py"),
                str(ROOT / "examples" / "handlers" / "echo.py"),
            ),
            env=dict(os.environ),
            cwd=tmp,
            host_id=0,
            gpus=(),
            image_key="img",
            image_store=tmp / "store",
            cache_dir=tmp / "cache",
            log_path=tmp / "w.log",
        )
        t0 = time.monotonic()
        handle = await ProcessRuntime().start(spec, lambda p, t: None)
        boot_s = time.monotonic() - t0
        added: list[float] = []
        for i in range(n + 50):
            t = time.monotonic()
            out = await handle.run_job(str(i), {"i": i}, 10.0)
            rtt = time.monotonic() - t
            assert out.status == "completed", out
            if i >= 50:  # warm-up
                added.append(rtt - (out.ended_t - out.started_t))
        await handle.stop()
    added.sort()
    return {
        "jobs": n,
        "boot_s": boot_s,
        "median_ms": statistics.median(added) * 1e3,
        "p99_ms": added[int(0.99 * (len(added) - 1))] * 1e3,
        "mean_ms": statistics.fmean(added) * 1e3,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(bench(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)), indent=2))
