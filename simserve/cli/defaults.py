"""Defaults that do not trap: how ``simserve run`` keeps a run's tables when ``--tables`` is not given.

Owns ``STREAM_ABOVE`` and ``default_tables``: a run whose synthetic arrivals run into the millions
streams its tables to parquet (memory stays flat; a month at 10/s is 26M job records, gigabytes in
memory as CSV rows), and the note that says so. The expected number of arrivals is the one the
scenario's bound checks use: rate x horizon, or a trace's rows times its repeats over the horizon.
"""

from __future__ import annotations

from typing import Any

from simserve.limits import format_count
from simserve.scenario import PoissonArrivals, TraceArrivals

#: expected arrivals above which a run streams its tables by default
STREAM_ABOVE = 1_000_000


def expected_arrivals(sc: Any) -> float:
    """Arrivals the scenario implies over one run's horizon: rate x horizon for a synthetic process (as the
    scenario's bound check has it), a trace's rows times its repeats (the trace is read for it)."""
    a = sc.workload.arrivals
    if isinstance(a, TraceArrivals):
        import numpy as np

        from simserve.workload import read_any_trace, trace_repeats

        times = read_any_trace(sc, np.random.default_rng(0))[0]
        return float(len(times) * trace_repeats(times, sc.horizon, a.loop, a.period)[0])
    rate = a.rate if isinstance(a, PoissonArrivals) else a.mean_rate
    return float(rate) * float(sc.horizon)


def default_tables(sc: Any, replications: int, replay: bool) -> tuple[str, str | None]:
    """``(tables, note)``: ``csv``, or for a run of millions of arrivals ``parquet`` (one run, streamed) or
    ``none`` (replications, whose tables would be kept in memory), with the line that says so."""
    if replay:
        return "csv", None
    n = expected_arrivals(sc)
    if n <= STREAM_ABOVE:
        return "csv", None
    count = f"about {format_count(n)} arrivals"
    if replications == 1:
        return "parquet", (
            f"{count}: the jobs and workers tables are streamed to parquet, not kept in memory "
            "(--tables csv keeps them in memory and draws every plot)"
        )
    return "none", (
        f"{count} a replication: summary.json, minutes.csv and replications.csv only, no job tables "
        "(--tables csv or parquet keeps each replication's tables in memory)"
    )


__all__ = ["STREAM_ABOVE", "default_tables", "expected_arrivals"]
