"""Throughput of ``simserve live`` with and without its live view (the terminal table, 4 refreshes/s).

Runs the echo handler (examples/handlers/echo.py) on warm active workers under Poisson arrivals at
``--rate`` jobs/s for ``--duration`` wall seconds, once with ``--quiet`` and once with the live
view drawn to a terminal that discards its output (rich, forced to render), alternating
``--rounds`` times, and prints per mode: jobs arrived, completed per wall second, p50 and p99
latency (scenario seconds = wall seconds here) and the mean time of one ``status()`` call. The view
reads running aggregates, so its cost must not grow with the number of jobs.
Usage: python benchmarks/bench_live_view.py [--rate 1600] [--duration 10] [--rounds 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

import simserve  # noqa: E402
import simserve.cli.live as cli_live  # noqa: E402
from simserve.live.executor import LiveExecutor, LiveOptions  # noqa: E402
from simserve.live.report import save_live_run  # noqa: E402


def scenario(rate: float, duration_s: float, workers: int) -> Any:
    return simserve.load_scenario(
        {
            "name": "bench-live-view",
            "seed": 1,
            "horizon": duration_s + 5.0,
            "endpoint": {
                "gpu": ["A100"],
                "active_workers": workers,
                "max_workers": workers,
                "extra_workers": 0,
                "concurrency": 4,
                "scaler": {"type": "queue_delay", "value": 4.0},
            },
            "cold_start": {"image_size": 0, "model": {"size": 0, "placement": "cached"}},
            "workload": {"arrivals": {"type": "poisson", "rate": rate}, "service": {"dist": "constant", "value": 0.0}},
        }
    )


def one(rate: float, duration_s: float, workers: int, view: bool) -> dict[str, float]:
    sc = scenario(rate, duration_s, workers)
    with tempfile.TemporaryDirectory() as d:
        opts = LiveOptions(handler=ROOT / "examples" / "handlers" / "echo.py", out_dir=Path(d), duration_s=duration_s)
        ex = LiveExecutor(sc, opts)
        calls: list[float] = []
        status = ex.status

        def timed_status() -> dict[str, Any]:
            t = time.perf_counter()
            out = status()
            calls.append(time.perf_counter() - t)
            return out

        ex.status = timed_status  # type: ignore[method-assign]
        cli_live.console = Console(file=io.StringIO(), force_terminal=True, width=120)
        t0 = time.monotonic()
        run, _ = asyncio.run(cli_live._drive(ex, quiet=not view))
        wall = time.monotonic() - t0
        s = save_live_run(sc, ex.seed, run, Path(d)).summary
    return {
        "arrived": s["requests"]["arrived"],
        "completed_per_s": s["requests"]["completed"] / duration_s,
        "p50_ms": 1e3 * (s["latency_s"]["p50"] or 0.0),
        "p99_ms": 1e3 * (s["latency_s"]["p99"] or 0.0),
        "status_ms": 1e3 * statistics.fmean(calls) if calls else 0.0,
        "status_calls": len(calls),
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=1600.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"quiet": [], "view": []}
    for _ in range(args.rounds):
        for mode in ("quiet", "view"):
            rows[mode].append(one(args.rate, args.duration, args.workers, mode == "view"))
            print(mode, json.dumps({k: round(v, 3) for k, v in rows[mode][-1].items()}), flush=True)
    for mode, rs in rows.items():
        med = {k: round(statistics.median(r[k] for r in rs), 3) for k in rs[0]}
        print(f"median {mode}: {json.dumps(med)}")


if __name__ == "__main__":
    main()
