"""Arrival processes and service times, generated up front as arrays.

Owns Poisson, diurnal (thinned sinusoidal NHPP), bursty (two-state MMPP) and trace replay.
``generate(scenario, streams)`` returns arrival times in [0, horizon) and one service time
per job, drawn from separate named streams so every configuration compared under the same
seed sees the same jobs (common random numbers). SimPy-free, clock-free.
"""

from __future__ import annotations

import csv
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
    TraceArrivals,
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


def read_trace(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``arrival_s`` (and optional ``service_s``) from a CSV; ``ValueError`` on bad rows."""
    arrivals: list[float] = []
    services: list[float] = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "arrival_s" not in reader.fieldnames:
            raise ValueError(f"{path}: expected a CSV header with column arrival_s (and optional service_s)")
        has_service = "service_s" in reader.fieldnames
        for lineno, row in enumerate(reader, start=2):
            try:
                arrivals.append(float(row["arrival_s"]))
                if has_service:
                    services.append(float(row["service_s"]))
            except (TypeError, ValueError):
                raise ValueError(f"{path}: line {lineno}: expected numbers in arrival_s/service_s") from None
    arr = np.asarray(arrivals, dtype=float)
    if len(arr) and (np.any(arr < 0) or np.any(np.diff(arr) < 0)):
        raise ValueError(f"{path}: arrival_s must be non-negative and sorted ascending")
    return arr, (np.asarray(services, dtype=float) if has_service else None)


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
