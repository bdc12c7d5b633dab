"""Load on ``simserve serve``: open-loop ``/run`` requests at a given rate, every job accounted for.

Starts ``simserve serve`` (a subprocess, as users run it, on 127.0.0.1, with ``--rate-limits off``:
the platform's 1000 ``/run`` per 10 s would refuse most of the load) with the echo handler
(examples/handlers/echo.py) on ``--workers`` warm active workers (concurrency 4, no cold start),
then sends ``POST /v2/local/run`` at ``--rate`` requests/s for ``--duration`` s from one asyncio
client (aiohttp, keep-alive connections; each request sent at its scheduled time, not after the
previous answer). It reports the achieved rate, the API latency (send -> answer) p50/p99/max,
how far the client fell behind its schedule, then waits for the jobs to finish, stops the server
with Ctrl-C (SIGINT) and reads ``jobs.csv``: jobs completed and recorded, and lost (a request that
got an id but whose job is not completed in the table, or a request that got no answer).
``--rates 300,500,700`` runs each rate in turn and names the highest with nothing lost and p99 under
``--p99-ms``; ``--profile`` runs the server under cProfile and prints where its time goes.
Usage: python benchmarks/bench_serve.py [--rate 500] [--duration 60] [--workers 2] [--rates ...] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
from serve_process import launch

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "examples" / "handlers" / "echo.py"
KEY = "bench-key"

SCENARIO = """name: bench-serve
seed: 1
horizon: 1h
endpoint:
  gpu: [A100]
  active_workers: {workers}
  max_workers: {workers}
  extra_workers: 0
  concurrency: 4
  scaler: {{type: queue_delay, value: 4s}}
cold_start:
  image_size: 0
  container_start: 0s
  handler_init: 0s
  model: {{size: 0, placement: cached}}
workload:
  arrivals: {{type: poisson, rate: 1/s}}
  service: 0s
"""


def start(workdir: Path, workers: int, profile: Path | None) -> tuple[subprocess.Popen[str], str]:
    sc = workdir / "bench-serve.yaml"
    sc.write_text(SCENARIO.format(workers=workers))
    pre = (
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "simserve"]
        if profile
        else [
            sys.executable,
            "-m",
            "simserve",
        ]
    )
    # the platform's rate limits (1000 /run per 10 s) are off: this measures the server, not the limit
    cmd = [*pre, "serve", str(sc), "--handler", str(ECHO), "--port", "0", "--api-key", KEY, "-q"]
    cmd += ["--rate-limits", "off", "--out", str(workdir / "run")]
    proc, base = launch(cmd, ROOT)
    return proc, base


async def load(base: str, rate: float, duration_s: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    n = int(rate * duration_s)
    sent = np.full(n, np.nan)
    done = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    ids: list[str] = []
    lag: list[float] = []
    body = json.dumps({"input": {"prompt": "x" * 64}}).encode()
    conn = aiohttp.TCPConnector(limit=512, keepalive_timeout=60)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as s:

        async def one(k: int) -> None:
            sent[k] = time.perf_counter()
            try:
                async with s.post(f"{base}/run", data=body, headers=headers) as r:
                    answer = await r.json()
                    if r.status == 200 and "id" in answer:
                        ok[k] = True
                        ids.append(answer["id"])
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            done[k] = time.perf_counter()

        t0 = time.perf_counter()
        for k in range(n):
            at = t0 + k / rate
            wait = at - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                lag.append(-wait)
            task = asyncio.create_task(one(k))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        wall = time.perf_counter() - t0
        health = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with s.get(f"{base}/health", headers=headers) as r:
                health = await r.json()
            if health["jobs"]["completed"] + health["jobs"]["failed"] >= int(ok.sum()):
                break
            await asyncio.sleep(0.25)
    lat = (done - sent)[ok] * 1e3
    return {
        "requests": n,
        "answered": int(ok.sum()),
        "achieved_rate": float(ok.sum() / max(np.nanmax(done) - np.nanmin(sent), 1e-9)) if ok.any() else 0.0,
        "send_wall_s": wall,
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "max_ms": float(lat.max()) if len(lat) else float("nan"),
        "client_lag_p99_ms": float(np.percentile(lag, 99) * 1e3) if lag else 0.0,
        "health": health["jobs"] if health else {},
        "ids": ids,
    }


def quiet_gc() -> None:
    """The client's own collector pauses are not the server's latency: freeze start-up objects, collect rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def one_rate(rate: float, duration_s: float, workers: int, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        prof = work / "serve.prof" if profile else None
        proc, base = start(work, workers, prof)
        try:
            quiet_gc()
            res = asyncio.run(load(base, rate, duration_s))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=120)
        jobs = pd.read_csv(work / "run" / "jobs.csv")
        completed = int((jobs["status"] == "completed").sum())
        res["server_exit"] = proc.returncode
        res["recorded"] = len(jobs)
        res["completed"] = completed
        res["lost"] = res["requests"] - completed
        res["job_latency_p99_ms"] = float(jobs["latency_s"].quantile(0.99) * 1e3)
        summary = json.loads((work / "run" / "summary.json").read_text())
        res["server_gc"] = summary["live"]["serve"].get("gc", {})
        if prof is not None and prof.is_file():
            stats = pstats.Stats(str(prof))
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(30)
        res.pop("ids")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--rates", type=str, default="", help="comma-separated rates to run in turn")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--p99-ms", type=float, default=50.0)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r] or [args.rate]
    results = []
    for rate in rates:
        r = one_rate(rate, args.duration, args.workers, args.profile)
        r["rate"] = rate
        results.append(r)
        print(
            f"rate {rate:6.0f}/s for {args.duration:.0f}s: achieved {r['achieved_rate']:7.1f}/s, "
            f"API p50 {r['p50_ms']:6.2f} ms p99 {r['p99_ms']:6.2f} ms max {r['max_ms']:7.1f} ms, "
            f"client lag p99 {r['client_lag_p99_ms']:.1f} ms; jobs sent {r['requests']}, answered {r['answered']}, "
            f"recorded {r['recorded']}, completed {r['completed']}, lost {r['lost']}; exit {r['server_exit']}",
            flush=True,
        )
        print(f"  server GC pauses: {r['server_gc']}", flush=True)
    good = [r["rate"] for r in results if r["lost"] == 0 and r["p99_ms"] < args.p99_ms]
    if len(rates) > 1:
        print(f"highest rate with nothing lost and API p99 < {args.p99_ms:g} ms: {max(good) if good else 'none'}/s")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
