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
    WeeklyArrivals,
    read_text_file,
)
from simserve.traceformats import NATIVE_FORMAT, read_formatted_trace


@dataclass(frozen=True)
class Jobs:
    """The workload of one run: sorted arrival times and matching service times (seconds); with an LLM
    service, each request's input and output token counts (int64) instead of a meaningful service time."""

    arrival_s: np.ndarray
    service_s: np.ndarray
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrival_s)


#: most arrival times drawn at once: generation (and a streamed run's memory) stays bounded; runs with
#: fewer arrivals than this draw exactly what one draw of the whole horizon gives
DRAW_CHUNK = 1 << 20


def poisson_chunks(
    rate: float, horizon_s: float, rng: np.random.Generator, start_s: float = 0.0
) -> Iterator[np.ndarray]:
    """Arrival times of a homogeneous Poisson process on [start_s, horizon_s), in sorted chunks of at most
    ``DRAW_CHUNK`` draws."""
    if rate <= 0 or horizon_s <= start_s:
        return
    t = start_s
    while t < horizon_s:
        expect = rate * (horizon_s - t)
        n = min(int(expect + 6 * math.sqrt(expect) + 16), DRAW_CHUNK)
        times = t + np.cumsum(rng.exponential(1.0 / rate, n))
        t = float(times[-1])
        yield times[times < horizon_s] if t >= horizon_s else times


def diurnal_chunks(a: DiurnalArrivals, horizon_s: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Thinning of a sinusoidal rate: mean_rate * (1 + amp * cos(2 pi (t - phase) / period)), chunk by chunk."""
    amp = (a.peak_to_trough - 1.0) / (a.peak_to_trough + 1.0)
    peak = a.mean_rate * (1.0 + amp)
    for cand in poisson_chunks(peak, horizon_s, rng):
        rate = a.mean_rate * (1.0 + amp * np.cos(2 * math.pi * (cand - a.phase) / a.period))
        keep = rng.random(len(cand)) * peak < rate
        yield cand[keep]


def bursty_chunks(a: BurstyArrivals, horizon_s: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Two-state MMPP: exponential gaps at base_rate, exponential bursts at burst_rate, period by period."""
    t, burst = 0.0, False
    while t < horizon_s:
        length = rng.exponential(a.mean_burst if burst else a.mean_gap)
        end = min(t + length, horizon_s)
        yield from poisson_chunks(a.burst_rate if burst else a.base_rate, end, rng, start_s=t)
        t, burst = end, not burst


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


def trace_repeats(times: np.ndarray, horizon_s: float, loop: bool, period_s: float | None = None) -> tuple[int, float]:
    """``(repeats, span_s)`` of a trace over the horizon: looped, it repeats every ``span_s`` (``period_s``
    when given and longer than the trace, else its last arrival plus its mean gap) until the horizon;
    not looped, once."""
    if not loop or not len(times):
        return 1, 0.0
    span = max(float(times[-1]), 1e-9) + (float(np.mean(np.diff(times))) if len(times) > 1 else 1.0)
    if period_s is not None and period_s > float(times[-1]):
        span = float(period_s)
    return max(1, math.ceil(horizon_s / span)), span


def check_trace_size(scenario: Scenario, times: np.ndarray) -> None:
    """A one-line ``ScenarioError`` when replaying the trace (looped if asked) would draw more than the
    scenario's ``max_arrivals``, or when a ``period`` is not longer than the trace."""
    a = scenario.workload.arrivals
    assert isinstance(a, TraceArrivals)
    if a.period is not None and len(times) and a.period <= float(times[-1]):
        raise ScenarioError(
            str(scenario.trace_path()),
            "workload.arrivals.period",
            f"expected a period longer than the trace's last arrival ({float(times[-1]):g} s), got {a.period:g} s",
        )
    repeats, span = trace_repeats(times, scenario.horizon, a.loop, a.period)
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


def read_weekly_csv(path: Path) -> list[float]:
    """The 168 levels of a weekly profile CSV (columns ``hour_of_week, rate``; every hour 0..167 once);
    a one-line ``ScenarioError`` naming the file, line and column on bad input."""
    field = "workload.arrivals.csv"
    levels: dict[int, float] = {}
    rows = _csv_numbers(path, field, ("hour_of_week", "rate"), (), "columns hour_of_week, rate", nonneg=True)
    for lineno, v in rows:
        h = v["hour_of_week"]
        if h != int(h) or not 0 <= h < 168 or int(h) in levels:
            raise ScenarioError(
                str(path), field, f"line {lineno}, column hour_of_week: expected each hour 0..167 once; got {h:g}"
            )
        levels[int(h)] = v["rate"]
    if len(levels) != 168 or not any(levels.values()):
        raise ScenarioError(str(path), field, f"expected 168 rows (hours 0..167), not all zero; got {len(levels)}")
    return [levels[h] for h in range(168)]


def weekly_rates(scenario: Scenario, a: WeeklyArrivals) -> np.ndarray:
    """Arrivals per second in each hour of the week (Monday 00:00 first), with the week's mean ``mean_rate``."""
    if a.hourly is not None:
        levels = np.asarray(a.hourly, dtype=float)
    elif a.csv is not None:
        levels = np.asarray(read_weekly_csv(scenario.data_path(a.csv)), dtype=float)
    else:
        levels = np.asarray(a.default_levels(), dtype=float)
    return levels * (a.mean_rate / float(np.mean(levels)))


def weekly_chunks(
    a: WeeklyArrivals, rates: np.ndarray, horizon_s: float, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Thinning of the hour-of-week rate (piecewise constant, looped over the horizon), chunk by chunk."""
    peak = float(np.max(rates))
    for cand in poisson_chunks(peak, horizon_s, rng):
        hour = ((cand / 3600.0 + a.start_hour) % 168).astype(np.int64)
        keep = rng.random(len(cand)) * peak < rates[np.minimum(hour, 167)]
        yield cand[keep]


def check_files(scenario: Scenario) -> None:
    """Read every file the scenario names (trace, tenants CSVs) the way a run will, so ``validate`` finds
    their problems (and a trace too large to replay); raises ``ScenarioError``."""
    a = scenario.workload.arrivals
    if isinstance(a, TraceArrivals):
        check_trace_size(scenario, read_any_trace(scenario, np.random.default_rng(0))[0])
    if isinstance(a, WeeklyArrivals) and a.csv is not None:
        read_weekly_csv(scenario.data_path(a.csv))
    for pool in scenario.hosts:
        if pool.other_tenants is not None and pool.other_tenants.csv is not None:
            p = Path(pool.other_tenants.csv)
            read_utilization_csv(p if p.is_absolute() else Path(scenario.base_dir) / p)


#: a chunk of the arrival process: arrival times, and the trace's service times and token counts (or None)
Chunk = tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]


def read_any_trace(
    scenario: Scenario, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """``(arrival_s, service_s, input_tokens, output_tokens)`` of the scenario's trace, whatever its format."""
    a = scenario.workload.arrivals
    assert isinstance(a, TraceArrivals)
    if a.format == NATIVE_FORMAT:
        times, service = read_trace(scenario.trace_path())
        return times, service, None, None

    t = read_formatted_trace(scenario.trace_path(), a.format, function=a.function, top=a.top, rng=rng)
    return t.arrival_s, t.service_s, t.input_tokens, t.output_tokens


def _arrival_chunks(scenario: Scenario, streams: RandomStreams) -> Iterator[Chunk]:
    """Chunks of the scenario's arrival process, in order (see ``Chunk``)."""
    a = scenario.workload.arrivals
    horizon = scenario.horizon
    rng = streams.get("arrivals")
    if isinstance(a, TraceArrivals):
        times, trace_service, tin, tout = read_any_trace(scenario, rng)
        check_trace_size(scenario, times)
        reps, span = trace_repeats(times, horizon, a.loop, a.period)
        for k in range(reps):
            shifted = times + span * k if k else times
            keep = shifted < horizon
            yield (
                shifted[keep],
                trace_service[keep] if trace_service is not None else None,
                tin[keep] if tin is not None else None,
                tout[keep] if tout is not None else None,
            )
            if not keep.all():
                break
        return
    if isinstance(a, PoissonArrivals):
        chunks = poisson_chunks(a.rate, horizon, rng)
    elif isinstance(a, DiurnalArrivals):
        chunks = diurnal_chunks(a, horizon, rng)
    elif isinstance(a, BurstyArrivals):
        chunks = bursty_chunks(a, horizon, rng)
    elif isinstance(a, WeeklyArrivals):
        chunks = weekly_chunks(a, weekly_rates(scenario, a), horizon, rng)
    else:  # pragma: no cover - the schema admits no other type
        raise TypeError(type(a).__name__)
    for c in chunks:
        yield c, None, None, None


def draw_tokens(dist: Any, rng: np.random.Generator, n: int, least: int) -> np.ndarray:
    """``n`` token counts from ``dist`` (a ``simserve.dists`` spec), rounded to integers of at least ``least``."""
    return np.maximum(np.rint(dist.sample(rng, n)), least).astype(np.int64)


def job_blocks(scenario: Scenario, streams: RandomStreams, block: int) -> Iterator[Jobs]:
    """The run's jobs in blocks of exactly ``block`` (the last one shorter): arrival times and service
    times (LLM: token counts), drawn chunk by chunk from the ``arrivals``, ``service`` and ``tokens``
    streams, so a streamed run holds one block at a time. Concatenated, the blocks are ``generate``'s
    jobs, whatever ``block`` is."""
    svc_rng = streams.get("service")
    llm = scenario.workload.llm
    tokens = scenario.workload.tokens
    tok_rng = streams.get("tokens") if llm is not None else None
    service = scenario.workload.service
    pend: list[list[np.ndarray]] = [[], [], [], []]  # arrival, service, input tokens, output tokens
    n_pend = 0

    def cut(n: int) -> Jobs:
        nonlocal n_pend
        cols: list[np.ndarray | None] = []
        for k, parts in enumerate(pend):
            if not parts:
                cols.append(None)
                continue
            c = np.concatenate(parts) if len(parts) > 1 else parts[0]
            pend[k] = [c[n:]]
            cols.append(c[:n])
        n_pend -= n
        t, sv, tin, tout = cols
        assert t is not None and sv is not None
        return Jobs(
            np.ascontiguousarray(t, dtype=float),
            np.ascontiguousarray(sv, dtype=float),
            None if tin is None else np.ascontiguousarray(tin, dtype=np.int64),
            None if tout is None else np.ascontiguousarray(tout, dtype=np.int64),
        )

    for times, trace_service, trace_in, trace_out in _arrival_chunks(scenario, streams):
        n = len(times)
        tin, tout = trace_in, trace_out
        if not n:
            continue
        pend[0].append(times)
        if llm is not None:
            pend[1].append(np.zeros(n))  # the engine's steps, not a drawn time, decide how long a request runs
            if tin is None or tout is None:
                assert tokens is not None and tok_rng is not None
                tin = draw_tokens(tokens.input, tok_rng, n, 0)
                tout = draw_tokens(tokens.output, tok_rng, n, 1)
            pend[2].append(np.maximum(tin, 0).astype(np.int64))
            pend[3].append(np.maximum(tout, 1).astype(np.int64))  # a reply has at least one token
        else:
            pend[1].append(trace_service if trace_service is not None else service.sample(svc_rng, n))  # type: ignore[union-attr]
        n_pend += n
        while n_pend >= block:
            yield cut(block)
    if n_pend:
        yield cut(n_pend)


def generate(scenario: Scenario, streams: RandomStreams) -> Jobs:
    """All jobs of one run: arrival times in [0, horizon) and their service times (LLM: token counts)."""
    blocks = list(job_blocks(scenario, streams, DRAW_CHUNK))
    if not blocks:
        empty = np.empty(0, dtype=np.int64) if scenario.workload.llm is not None else None
        return Jobs(np.empty(0), np.empty(0), empty, empty)
    if len(blocks) == 1:
        return blocks[0]

    def cat(name: str) -> Any:
        parts = [getattr(b, name) for b in blocks]
        return None if parts[0] is None else np.concatenate(parts)

    return Jobs(cat("arrival_s"), cat("service_s"), cat("input_tokens"), cat("output_tokens"))
