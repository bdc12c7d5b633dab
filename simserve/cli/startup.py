"""The warning a run ends with when its first cold start sets a tail percentile of latency.

Owns the rule, once, and its two readers: ``startup_tail`` (a jobs table in memory: ``simserve run``
with CSV tables, ``simserve live``) and ``startup_tail_parquet`` (a streamed run's ``jobs.parquet``,
read without loading it: the first start from the row groups' statistics, then only the rows that
arrived before it). The jobs that waited for the first cold start are the completed ones (in the
statistics window, as the summary counts them) that arrived before any job started: until the first
worker was ready, nothing could serve them. A tail percentile (p95, p99) is "set by them" when they
fill the tail beyond it (at least ``1 - q`` of the completed jobs) and it is at least
``STARTUP_FACTOR`` times (and ``STARTUP_MIN_S`` more than) the same percentile without them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from simserve.numfmt import num, step_up

#: a tail percentile is set by the first cold start when at least this many times what it is without the jobs
#: that waited for it (and at least STARTUP_MIN_S seconds more)
STARTUP_FACTOR = 2.0
STARTUP_MIN_S = 1.0
TAILS = (("p95", 95.0), ("p99", 99.0))


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


def startup_tail_parquet(path: Path, summary: dict[str, Any], warmup_s: float) -> str | None:
    """The warning for a streamed run's ``jobs.parquet``, or None. Reads the row groups' statistics and the
    rows that arrived before the first start; the whole latency column only when the waited jobs fill a tail
    (for a run of millions of jobs, a cold start as long as 1% of the horizon)."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    column = f.schema_arrow.get_field_index("start_s")
    if column < 0:
        return None
    stats = [f.metadata.row_group(r).column(column).statistics for r in range(f.metadata.num_row_groups)]
    mins = [float(s.min) for s in stats if s is not None and s.has_min_max and np.isfinite(s.min)]
    if not mins:
        return None
    first_start = min(mins)
    early = pq.read_table(path, columns=["arrival_s", "status"], filters=[("arrival_s", "<", first_start)])
    arrival = early.column("arrival_s").to_numpy()
    n_waited = int((_completed(early) & (arrival >= warmup_s)).sum())
    n_done = int(summary["requests"].get("completed") or 0)

    def rest_quantile(q: float) -> float:
        t = pq.read_table(
            path, columns=["status", "latency_s"], filters=[("arrival_s", ">=", max(warmup_s, first_start))]
        )
        return float(np.percentile(t.column("latency_s").to_numpy()[_completed(t)], q))

    return _judge(summary, first_start, n_waited, n_done, rest_quantile)


def _completed(table: Any) -> np.ndarray:
    """Which rows of a pyarrow table have status ``completed`` (a boolean array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return np.asarray(pc.equal(table.column("status").cast(pa.string()), "completed").to_numpy(zero_copy_only=False))


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


__all__ = ["STARTUP_FACTOR", "STARTUP_MIN_S", "startup_tail", "startup_tail_parquet"]
