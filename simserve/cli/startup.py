"""The warning a run ends with when its first cold start sets a tail percentile of latency.

Owns the rule, once, and its two readers: ``startup_tail`` (a jobs table in memory: ``simserve run``
with CSV tables, ``simserve live``) and ``startup_tail_streamed`` (a streamed run, ``--tables parquet``
or ``none``: the jobs its ``JobStats`` kept apart as they came, ``results.jobstats.StartupWait``). The
jobs that waited for the first cold start are the completed ones (in the statistics window, as the
summary counts them) that arrived before any job started: until the first worker was ready, nothing
could serve them. A tail percentile (p95, p99) is "set by them" when they fill the tail beyond it (at
least ``1 - q`` of the completed jobs) and it is at least ``STARTUP_FACTOR`` times (and
``STARTUP_MIN_S`` more than) the same percentile without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simserve.numfmt import num, step_up
from simserve.results.jobstats import STARTUP_PERCENTILES, StartupFigures

#: a tail percentile is set by the first cold start when at least this many times what it is without the jobs
#: that waited for it (and at least STARTUP_MIN_S seconds more)
STARTUP_FACTOR = 2.0
STARTUP_MIN_S = 1.0
TAILS = tuple((f"p{q:g}", q) for q in STARTUP_PERCENTILES)  # the tails a streamed run keeps figures for


def startup_tail(jobs: Any, summary: dict[str, Any], warmup_s: float) -> str | None:
    """The warning for a jobs table (a DataFrame with the run's job columns), or None."""
    if jobs is None or len(jobs) == 0 or "start_s" not in jobs:
        return None
    start = jobs["start_s"].to_numpy(dtype=float)
    if not np.isfinite(start).any():
        return None
    first_start = float(np.nanmin(start))
    arrival = jobs["arrival_s"].to_numpy(dtype=float)
    done = (jobs["status"].astype(str) == "completed").to_numpy() & (arrival >= warmup_s)
    waited = done & (arrival < first_start)
    rest = jobs["latency_s"].to_numpy(dtype=float)[done & ~waited]
    return _judge(summary, first_start, int(waited.sum()), int(done.sum()), lambda q: float(np.percentile(rest, q)))


def startup_tail_streamed(figures: StartupFigures, summary: dict[str, Any]) -> str | None:
    """The warning for a streamed run (``--tables parquet|none``), from what its ``JobStats`` kept as the
    jobs came (``results.jobstats.StartupWait``: the waited jobs, the percentiles without them)."""
    n_done = int(summary["requests"].get("completed") or 0)

    def rest_quantile(q: float) -> float:
        return figures.rest_percentiles_s[q] or 0.0

    return _judge(summary, figures.first_start_s, figures.waited, n_done, rest_quantile)


def _judge(
    summary: dict[str, Any], first_start: float, n_waited: int, n_done: int, rest_quantile: Callable[[float], float]
) -> str | None:
    """The rule (module docstring) on the counts and ``rest_quantile(q)``, the q-th percentile (0..100) of the
    completed jobs that did not wait (asked only for a percentile their count could set)."""
    if n_waited == 0:
        return None
    if n_waited >= n_done:
        return (
            f"every completed job arrived before the first worker was ready at t = {num(first_start)} s: the "
            "latency figures are the first cold start's; a longer horizon (or a warmup past it) measures the rest"
        )
    flagged = []
    for name, q in TAILS:
        with_them = summary["latency_s"].get(name)
        if with_them is None or n_waited < (1 - q / 100) * n_done:
            continue
        without = rest_quantile(q)
        if with_them >= STARTUP_FACTOR * without and with_them - without >= STARTUP_MIN_S:
            flagged.append((name, float(with_them), without))
    if not flagged:
        return None
    names = " and ".join(name for name, _, _ in flagged)
    were = " and ".join(f"{num(w)} s" for _, w, _ in flagged)
    now = " and ".join(f"{num(wo)} s" for _, _, wo in flagged)
    verb = "are" if len(flagged) > 1 else "is"
    return (
        f"latency {names} ({were}) {verb} set by the first cold start: {n_waited:,} job{'s' if n_waited != 1 else ''} "
        f"arrived before the first worker was ready at t = {num(first_start)} s and waited for it; without them "
        f"{names} {verb} {now}. --set warmup={num(step_up(first_start))}s leaves them out of the figures; "
        "endpoint.active_workers >= 1 keeps a worker ready (and billed) from the start"
    )


__all__ = ["STARTUP_FACTOR", "STARTUP_MIN_S", "startup_tail", "startup_tail_streamed"]
