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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simserve import limits
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


def _checked_rows(reader: Any, label: str, field: str) -> Iterator[list[str]]:
    """The rows of a ``csv.reader``; a one-line ``ScenarioError`` where the csv module gives up (a field
    over its size limit, a NUL byte, an unclosed quote)."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ScenarioError(label, field, f"line {reader.line_num}: expected CSV of numbers ({exc})") from None
        yield row


def _csv_numbers(
    path: Path, field: str, columns: tuple[str, ...], optional: tuple[str, ...], header_hint: str, nonneg: bool
) -> Iterator[tuple[int, dict[str, float]]]:
    """``(line number, {column: value})`` for each data row of a CSV of numbers; a one-line
    ``ScenarioError`` naming the file, the line and the column on a missing header column, a cell
    that is not a number, NaN or infinity (or a negative number with ``nonneg``)."""
    label = str(path)
    reader = _checked_rows(csv.reader(io.StringIO(read_text_file(path, label, MAX_TRACE_BYTES))), label, field)
    names = [h.strip() for h in next(reader, None) or []]
    if any(c not in names for c in columns):
        raise ScenarioError(
            label, field, f"line 1: expected a CSV header with {header_hint}; got {','.join(names)[:80]!r}"
        )
    cols = {c: names.index(c) for c in (*columns, *(o for o in optional if o in names))}
    expected = "a finite number >= 0" if nonneg else "a finite number"
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        values: dict[str, float] = {}
        for name, col in cols.items():
            cell = row[col].strip() if col < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise ScenarioError(
                    label, field, f"line {lineno}, column {name}: expected a number; got {cell[:40]!r}"
                ) from None
            if not math.isfinite(value) or (nonneg and value < 0):
                raise ScenarioError(
                    label, field, f"line {lineno}, column {name}: expected {expected}; got {cell[:40]!r}"
                )
            values[name] = value
        yield lineno, values


def read_trace(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``arrival_s`` (and optional ``service_s``) from a CSV.

    Bad input raises a one-line ``ScenarioError`` naming the file, the line and the column: not
    UTF-8, no or wrong header, no rows, a non-number, NaN or infinity, a negative or unsorted
    arrival, a negative service time.
    """
    field = "workload.arrivals.path"
    hint = "column arrival_s (and optional service_s)"
    arrivals: list[float] = []
    services: list[float] = []
    for lineno, v in _csv_numbers(path, field, ("arrival_s",), ("service_s",), hint, nonneg=True):
        if arrivals and v["arrival_s"] < arrivals[-1]:
            raise ScenarioError(
                str(path),
                field,
                f"line {lineno}, column arrival_s: expected times in ascending order; "
                f"got {v['arrival_s']} after {arrivals[-1]}",
            )
        arrivals.append(v["arrival_s"])
        if "service_s" in v:
            services.append(v["service_s"])
    if not arrivals:
        raise ScenarioError(str(path), field, "expected at least one row after the header")
    return np.asarray(arrivals, dtype=float), (np.asarray(services, dtype=float) if services else None)


def read_utilization_csv(path: Path) -> list[tuple[float, float]]:
    """Rows ``(time_s, utilization)`` of an ``other_tenants`` CSV, sorted by time (utilization clipped to
    [0, 1]); a one-line ``ScenarioError`` naming the file, line and column on bad input."""
    rows = _csv_numbers(
        path, "hosts[].other_tenants.csv", ("time_s", "utilization"), (), "columns time_s, utilization", nonneg=False
    )
    return sorted((v["time_s"], min(max(v["utilization"], 0.0), 1.0)) for _, v in rows)


def trace_repeats(times: np.ndarray, horizon_s: float, loop: bool) -> tuple[int, float]:
    """``(repeats, span_s)`` of a trace over the horizon: looped, it repeats every ``span_s`` (its last
    arrival plus its mean gap) until the horizon; not looped, once."""
    if not loop or not len(times):
        return 1, 0.0
    span = max(float(times[-1]), 1e-9) + (float(np.mean(np.diff(times))) if len(times) > 1 else 1.0)
    return max(1, math.ceil(horizon_s / span)), span


def check_trace_size(scenario: Scenario, times: np.ndarray) -> None:
    """A one-line ``ScenarioError`` when replaying the trace (looped if asked) would draw more than the
    scenario's ``max_arrivals``."""
    a = scenario.workload.arrivals
    assert isinstance(a, TraceArrivals)
    repeats, span = trace_repeats(times, scenario.horizon, a.loop)
    implied = len(times) * repeats
    if implied > scenario.max_arrivals:
        how = f"{len(times)} rows repeated every {span:g} s" if a.loop else f"{len(times)} rows"
        raise ScenarioError(
            str(scenario.trace_path()),
            "workload.arrivals.path",
            f"the trace implies about {limits.format_count(implied)} arrivals over the horizon ({how}), more than "
            f"max_arrivals = {limits.format_count(scenario.max_arrivals)}; shorten the horizon or raise the limit "
            f"(--set max_arrivals=N)",
        )


def check_files(scenario: Scenario) -> None:
    """Read every file the scenario names (trace, tenants CSVs) the way a run will, so ``validate`` finds
    their problems (and a trace too large to replay); raises ``ScenarioError``."""
    if isinstance(scenario.workload.arrivals, TraceArrivals):
        check_trace_size(scenario, read_trace(scenario.trace_path())[0])
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
        check_trace_size(scenario, times)
        reps, span = trace_repeats(times, horizon, a.loop)
        if reps > 1:
            times = (times[None, :] + span * np.arange(reps)[:, None]).ravel()
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
