"""Arrival processes and service times, generated up front as arrays.

Owns Poisson, diurnal (thinned sinusoidal NHPP), bursty (two-state MMPP) and trace replay.
``generate(scenario, streams)`` returns arrival times in [0, horizon) and one service time
per job, drawn from separate named streams so every configuration compared under the same
seed sees the same jobs (common random numbers). SimPy-free, clock-free.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simserve.rng import RandomStreams
from simserve.scenario import (
    BurstyArrivals,
    DiurnalArrivals,
    PoissonArrivals,
    Scenario,
    ScenarioError,
    TraceArrivals,
    read_text_file,
)


@dataclass(frozen=True)
class Jobs:
    """The workload of one run: sorted arrival times and matching service times (seconds)."""

    arrival_s: np.ndarray
    service_s: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)


def poisson_times(rate: float, horizon_s: float, rng: np.random.Generator, start_s: float = 0.0) -> np.ndarray:
    """Arrival times of a homogeneous Poisson process on [start_s, horizon_s)."""
    if rate <= 0 or horizon_s <= start_s:
        return np.empty(0)
    span = horizon_s - start_s
    chunks: list[np.ndarray] = []
    t = start_s
    while t < horizon_s:
        expect = rate * (horizon_s - t)
        n = int(expect + 6 * math.sqrt(expect) + 16)
        times = t + np.cumsum(rng.exponential(1.0 / rate, n))
        chunks.append(times)
        t = float(times[-1])
    out = np.concatenate(chunks)
    del span
    return out[out < horizon_s]


def diurnal_times(a: DiurnalArrivals, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """Thinning of a sinusoidal rate: mean_rate * (1 + amp * cos(2 pi (t - phase) / period))."""
    amp = (a.peak_to_trough - 1.0) / (a.peak_to_trough + 1.0)
    peak = a.mean_rate * (1.0 + amp)
    cand = poisson_times(peak, horizon_s, rng)
    rate = a.mean_rate * (1.0 + amp * np.cos(2 * math.pi * (cand - a.phase) / a.period))
    keep = rng.random(len(cand)) * peak < rate
    return cand[keep]


def bursty_times(a: BurstyArrivals, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """Two-state MMPP: exponential gaps at base_rate, exponential bursts at burst_rate."""
    chunks: list[np.ndarray] = []
    t, burst = 0.0, False
    while t < horizon_s:
        length = rng.exponential(a.mean_burst if burst else a.mean_gap)
        end = min(t + length, horizon_s)
        chunks.append(poisson_times(a.burst_rate if burst else a.base_rate, end, rng, start_s=t))
        t, burst = end, not burst
    return np.concatenate(chunks) if chunks else np.empty(0)


#: a trace CSV larger than this is refused (a month of 100 requests/s fits comfortably)
MAX_TRACE_BYTES = 2 << 30


def read_trace(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``arrival_s`` (and optional ``service_s``) from a CSV.

    Bad input raises a one-line ``ScenarioError`` naming the file, the line and the column: not
    UTF-8, no or wrong header, no rows, a non-number, NaN or infinity, a negative or unsorted
    arrival, a negative service time.
    """
    field = "workload.arrivals.path"
    label = str(path)
    text = read_text_file(path, label, MAX_TRACE_BYTES)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    names = [h.strip() for h in header] if header else []
    if "arrival_s" not in names:
        raise ScenarioError(
            label,
            field,
            f"line 1: expected a CSV header with column arrival_s (and optional "
            f"service_s); got {','.join(names)[:80]!r}",
        )
    a_col = names.index("arrival_s")
    s_col = names.index("service_s") if "service_s" in names else -1
    arrivals: list[float] = []
    services: list[float] = []
    prev = 0.0
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        for col, out, name in ((a_col, arrivals, "arrival_s"), (s_col, services, "service_s")):
            if col < 0:
                continue
            cell = row[col].strip() if col < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise ScenarioError(
                    label, field, f"line {lineno}, column {name}: expected a number; got {cell[:40]!r}"
                ) from None
            if not math.isfinite(value) or value < 0:
                raise ScenarioError(
                    label, field, f"line {lineno}, column {name}: expected a finite number >= 0; got {cell[:40]!r}"
                )
            out.append(value)
        if arrivals[-1] < prev:
            raise ScenarioError(
                label,
                field,
                f"line {lineno}, column arrival_s: expected times in ascending order; got {arrivals[-1]} after {prev}",
            )
        prev = arrivals[-1]
    if not arrivals:
        raise ScenarioError(label, field, "expected at least one row after the header")
    return np.asarray(arrivals, dtype=float), (np.asarray(services, dtype=float) if s_col >= 0 else None)


def read_utilization_csv(path: Path) -> list[tuple[float, float]]:
    """Rows ``(time_s, utilization)`` of an ``other_tenants`` CSV, sorted by time (utilization clipped to
    [0, 1]); a one-line ``ScenarioError`` naming the file, line and column on bad input."""
    field = "hosts[].other_tenants.csv"
    label = str(path)
    reader = csv.reader(io.StringIO(read_text_file(path, label, MAX_TRACE_BYTES)))
    names = [h.strip() for h in next(reader, None) or []]
    if "time_s" not in names or "utilization" not in names:
        raise ScenarioError(label, field, "line 1: expected a CSV header with columns time_s, utilization")
    cols = names.index("time_s"), names.index("utilization")
    rows: list[tuple[float, float]] = []
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        values = []
        for col, name in zip(cols, ("time_s", "utilization"), strict=True):
            cell = row[col].strip() if col < len(row) else ""
            try:
                v = float(cell)
            except ValueError:
                raise ScenarioError(
                    label, field, f"line {lineno}, column {name}: expected a number; got {cell[:40]!r}"
                ) from None
            if not math.isfinite(v):
                raise ScenarioError(label, field, f"line {lineno}, column {name}: expected a finite number")
            values.append(v)
        rows.append((values[0], min(max(values[1], 0.0), 1.0)))
    return sorted(rows)


def check_files(scenario: Scenario) -> None:
    """Read every file the scenario names (trace, tenants CSVs) the way a run will, so ``validate`` finds
    their problems; raises ``ScenarioError``."""
    if isinstance(scenario.workload.arrivals, TraceArrivals):
        read_trace(scenario.trace_path())
    for pool in scenario.hosts:
        if pool.other_tenants is not None and pool.other_tenants.csv is not None:
            p = Path(pool.other_tenants.csv)
            read_utilization_csv(p if p.is_absolute() else Path(scenario.base_dir) / p)


def generate(scenario: Scenario, streams: RandomStreams) -> Jobs:
    """All jobs of one run: arrival times in [0, horizon) and their service times."""
    a = scenario.workload.arrivals
    horizon = scenario.horizon
    rng = streams.get("arrivals")
    trace_service: np.ndarray | None = None
    if isinstance(a, PoissonArrivals):
        times = poisson_times(a.rate, horizon, rng)
    elif isinstance(a, DiurnalArrivals):
        times = diurnal_times(a, horizon, rng)
    elif isinstance(a, BurstyArrivals):
        times = bursty_times(a, horizon, rng)
    elif isinstance(a, TraceArrivals):
        times, trace_service = read_trace(scenario.trace_path())
        if a.loop and len(times):
            span = max(float(times[-1]), 1e-9) + (float(np.mean(np.diff(times))) if len(times) > 1 else 1.0)
            reps = math.ceil(horizon / span)
            times = np.concatenate([times + k * span for k in range(reps)])
            if trace_service is not None:
                trace_service = np.tile(trace_service, reps)
        keep = times < horizon
        times = times[keep]
        if trace_service is not None:
            trace_service = trace_service[keep]
    else:  # pragma: no cover - the schema admits no other type
        raise TypeError(type(a).__name__)
    service = scenario.workload.service.sample(streams.get("service"), len(times))
    if trace_service is not None:
        service = trace_service
    return Jobs(np.ascontiguousarray(times, dtype=float), np.ascontiguousarray(service, dtype=float))
