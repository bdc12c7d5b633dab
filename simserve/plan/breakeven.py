"""The flex vs active break-even sweep: the scenario re-simulated with 0..max always-on workers.

Owns ``candidate_active_workers`` (0 .. the worker cap, thinned to a few values) and
``break_even``, which simulates the scenario once per number of active workers with the same
seed (common random numbers: every candidate sees the same jobs) on a local process pool and
returns the table the monthly cost view draws (``simserve.report.monthly``); the report
takes it as data and never simulates. ``break_even_point`` (in the report) picks the row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simserve.parallel import ordered_map
from simserve.plan.executors import Task, run_task
from simserve.scenario import Scenario, load_scenario
from simserve.units import HOURS_PER_MONTH

#: the columns of a break-even table, in order
COLUMNS = ("active_workers", "cost_per_hour", "cost_per_month", "per_1k_requests", "p95_s", "cold_start_fraction")


def candidate_active_workers(scenario: Scenario, limit: int = 9) -> list[int]:
    """0 .. the worker cap, thinned to at most ``limit`` evenly spaced values."""
    cap = int(scenario.endpoint.worker_cap)
    if cap + 1 <= limit:
        return list(range(cap + 1))
    return sorted({round(float(x)) for x in np.linspace(0, cap, limit)})


def _row(active_workers: int, summary: dict[str, Any]) -> dict[str, Any]:
    per_hour = float(summary["cost_usd"]["per_hour"])
    return {
        "active_workers": active_workers,
        "cost_per_hour": per_hour,
        "cost_per_month": per_hour * HOURS_PER_MONTH,
        "per_1k_requests": summary["cost_usd"]["per_1k_requests"],
        "p95_s": summary["latency_s"]["p95"],
        "cold_start_fraction": float(summary["cold_start"]["fraction"]),
    }


def break_even(
    scenario: Scenario | str | dict[str, Any],
    active_workers: Sequence[int] | None = None,
    *,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    processes: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Simulate ``scenario`` once per number of active workers (same seed for all).

    Returns one row per candidate with the columns of ``COLUMNS``, in the order of
    ``active_workers`` (default ``candidate_active_workers``). ``overrides`` apply to every
    run; ``seed`` defaults to the scenario's. Runs on ``processes`` local processes (default:
    all cores, at most one per candidate); ``on_done(index)`` is called as each run finishes.
    """
    if isinstance(scenario, Scenario):  # re-validate with the overrides applied
        sc = load_scenario(scenario.model_dump(), dict(overrides)) if overrides else scenario
    else:
        sc = load_scenario(scenario, dict(overrides or {}))
    counts = [int(n) for n in active_workers] if active_workers is not None else candidate_active_workers(sc)
    run_seed = sc.seed if seed is None else int(seed)
    data = sc.model_dump()
    tasks: list[Task] = [(data, {"endpoint.active_workers": n}, run_seed) for n in counts]
    summaries = ordered_map(run_task, tasks, processes=processes, on_done=on_done)
    return pd.DataFrame([_row(n, s) for n, s in zip(counts, summaries, strict=True)], columns=list(COLUMNS))
