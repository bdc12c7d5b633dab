"""Warnings about a valid scenario whose results a user may misread: the ``warnings`` of a summary.

Owns ``scenario_warnings``: pure checks of a resolved ``Scenario`` (no simulation), each one
line of plain text, that end up in ``summary.json`` (key ``warnings``), on the terminal and in
``report.html``. A scenario that cannot run at all is an error of ``simserve.scenario``, not a
warning. Covered here:

- ``endpoint.max_workers`` lowered by the ``account_balance_usd`` cap (the platform's balance
  table, ``simserve.catalog.balance_cap``), at the start and after a timeline ``events[].set``;
- an offered load (mean arrival rate x mean service time) at or above what the endpoint can
  serve at once (max workers after the cap x concurrency): the queue then grows without bound
  (a ``per_request`` endpoint rejects instead); for diurnal traffic, also at the peak.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simserve import catalog
from simserve.scenario import (
    BurstyArrivals,
    DiurnalArrivals,
    Endpoint,
    PerRequestScaler,
    PoissonArrivals,
    Scenario,
    TraceArrivals,
    WeeklyArrivals,
)
from simserve.traceformats import NATIVE_FORMAT


@dataclass(frozen=True)
class Load:
    """Offered load of a workload: mean arrival rate (1/s) and mean service time (s)."""

    rate: float
    service_s: float
    how: str  # where the rate comes from, for the message

    @property
    def workers(self) -> float:
        """Workers kept busy on average (rate x service time)."""
        return self.rate * self.service_s


@dataclass(frozen=True)
class Epoch:
    """A stretch of the run with one set of endpoint settings."""

    start_s: float
    end_s: float
    endpoint: Endpoint
    event_at: float | None  # the ``set`` event that began it; None for the scenario's own settings


def _num(v: float) -> str:
    """A number for a message: 3 significant figures, no trailing noise."""
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _usd(v: float) -> str:
    return f"${v:,.2f}".replace(".00", "")


def _epochs(sc: Scenario) -> list[Epoch]:
    """The endpoint settings in force over [0, horizon), one entry per ``set`` event that changes them."""
    endpoint = sc.endpoint.model_dump()
    out = [Epoch(0.0, sc.horizon, sc.endpoint, None)]
    for ev in sorted(sc.events, key=lambda e: e.at):
        if not ev.set or ev.at >= sc.horizon:
            continue
        for key, value in ev.set.items():
            node = endpoint
            parts = key.split(".")[1:]
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
        ep = Endpoint.model_validate(endpoint)  # the scenario checked that every step is valid
        prev = out[-1]
        if ev.at <= prev.start_s:
            out[-1] = Epoch(prev.start_s, prev.end_s, ep, ev.at)
        else:
            out[-1] = Epoch(prev.start_s, ev.at, prev.endpoint, prev.event_at)
            out.append(Epoch(ev.at, sc.horizon, ep, ev.at))
    return out


def _cap_message(ep: Endpoint) -> str | None:
    balance = ep.account_balance_usd
    if balance is None or ep.worker_cap >= ep.max_workers:
        return None
    need = catalog.balance_needed(ep.max_workers)
    more = (
        f"{_usd(need)}+ grants {ep.max_workers}"
        if need is not None
        else f"no balance grants more than {catalog.BALANCE_CAPS[0][1]}"
    )
    return (
        f"endpoint.max_workers: {ep.max_workers} asked, {ep.worker_cap} granted by "
        f"account_balance_usd={_usd(balance)} (the platform's balance table; {more})"
    )


def cap_warnings(sc: Scenario) -> list[str]:
    """Max workers lowered by the account-balance cap, at the start or after a ``set`` event."""
    out: list[str] = []
    before: tuple[int, int, float | None] | None = None
    for epoch in _epochs(sc):
        ep = epoch.endpoint
        state = (ep.max_workers, ep.worker_cap, ep.account_balance_usd)
        msg = _cap_message(ep)
        if msg is not None and state != before:
            out.append(msg if epoch.event_at is None else f"events: set at {epoch.event_at:g}s: {msg}")
        before = state
    return out


@functools.lru_cache(maxsize=16)
def _trace_stats(path: str, mtime_ns: int, size: int, horizon: float) -> tuple[int, float, float | None]:
    """(jobs before the horizon, span they cover, mean service_s or None) of a trace file."""
    from simserve.workload import read_trace

    del mtime_ns, size  # cache keys: a changed file is read again
    times, service = read_trace(Path(path))
    keep = times < horizon
    t = times[keep]
    n = len(t)
    span = float(t[-1] - t[0]) * n / (n - 1) if n > 1 else 0.0  # first to last arrival, plus one mean gap
    mean_service = float(np.mean(service[keep])) if service is not None and n else None
    return n, span, mean_service


def offered_load(sc: Scenario) -> Load | None:
    """Mean arrival rate and mean service time of the workload over the run; None when unknown."""
    a = sc.workload.arrivals
    llm_or_service = sc.workload.service
    if sc.workload.llm is not None or (isinstance(a, TraceArrivals) and a.format != NATIVE_FORMAT):
        return None  # a batching engine's capacity is no single service time; named formats: not read here
    service = llm_or_service.mean_s()  # type: ignore[union-attr]
    if isinstance(a, PoissonArrivals):
        return Load(a.rate, service, "")
    if isinstance(a, DiurnalArrivals):
        # mean of mean_rate * (1 + amp cos(2 pi (t - phase) / period)) over [0, horizon)
        amp = (a.peak_to_trough - 1.0) / (a.peak_to_trough + 1.0)
        w = 2 * math.pi / a.period
        avg_cos = (math.sin(w * (sc.horizon - a.phase)) - math.sin(-w * a.phase)) / (w * sc.horizon)
        return Load(a.mean_rate * (1.0 + amp * avg_cos), service, "diurnal mean over the run")
    if isinstance(a, BurstyArrivals):
        rate = (a.base_rate * a.mean_gap + a.burst_rate * a.mean_burst) / (a.mean_gap + a.mean_burst)
        return Load(rate, service, "bursty, time-weighted mean")
    if isinstance(a, WeeklyArrivals):
        return Load(a.mean_rate, service, "weekly profile, mean over a week")
    if isinstance(a, TraceArrivals):
        path = sc.trace_path()
        try:
            st = path.stat()
            n, span, trace_service = _trace_stats(str(path), st.st_mtime_ns, st.st_size, sc.horizon)
        except (OSError, ValueError):  # a bad trace is reported by the run itself, not here
            return None
        if n < 2 or span <= 0:
            return None
        return Load(n / span, service if trace_service is None else trace_service, "trace, while it runs")
    return None  # pragma: no cover - the schema admits no other type


def diurnal_peak_rate(sc: Scenario, start_s: float = 0.0, end_s: float | None = None) -> float | None:
    """Highest arrival rate a diurnal workload reaches within [start_s, end_s) (default: the run);
    None for other workloads."""
    a = sc.workload.arrivals
    if not isinstance(a, DiurnalArrivals):
        return None
    end = sc.horizon if end_s is None else end_s
    amp = (a.peak_to_trough - 1.0) / (a.peak_to_trough + 1.0)
    w = 2 * math.pi / a.period
    # cos peaks only at phase + k*period; elsewhere its maximum on an interval is at an end
    next_peak = a.phase + math.ceil((start_s - a.phase) / a.period) * a.period
    best = 1.0 if next_peak < end else max(math.cos(w * (start_s - a.phase)), math.cos(w * (end - a.phase)))
    return a.mean_rate * (1.0 + amp * best)


def _capacity(ep: Endpoint) -> tuple[int, str]:
    cap = ep.worker_cap * ep.concurrency
    return cap, f"max workers x concurrency = {ep.worker_cap} x {ep.concurrency} = {cap}"


def _consequence(ep: Endpoint) -> str:
    """What an overload does: per_request endpoints reject at the cap, the others queue."""
    return "requests beyond it are rejected" if isinstance(ep.scaler, PerRequestScaler) else "the queue grows"


def load_warnings(sc: Scenario) -> list[str]:
    """Offered load at or above the endpoint's capacity (the queue grows), overall and at a diurnal peak."""
    load = offered_load(sc)
    if load is None or load.workers <= 0:
        return []
    epochs = _epochs(sc)
    how = f", {load.how}" if load.how else ""
    figure = f"offered load {_num(load.workers)} workers ({_num(load.rate)} req/s x {_num(load.service_s)} s{how})"
    over = [e for e in epochs if load.workers >= _capacity(e.endpoint)[0]]
    out: list[str] = []
    if len(over) == len(epochs):
        caps = sorted({_capacity(e.endpoint)[0] for e in epochs})
        limit = (
            _capacity(epochs[0].endpoint)[1] if len(caps) == 1 else f"max workers x concurrency = {caps[-1]} at most"
        )
        when = "while the trace runs" if isinstance(sc.workload.arrivals, TraceArrivals) else "for the whole run"
        out.append(f"overload: {figure} exceeds {limit}; {_consequence(epochs[0].endpoint)} {when}")
    else:
        for e in over:
            out.append(
                f"overload from {e.start_s:g}s to {e.end_s:g}s: {figure} exceeds {_capacity(e.endpoint)[1]}; "
                f"{_consequence(e.endpoint)} while these settings last"
            )
    if isinstance(sc.workload.arrivals, DiurnalArrivals) and not over:
        for e in epochs:
            peak = diurnal_peak_rate(sc, e.start_s, e.end_s) or 0.0
            cap, limit = _capacity(e.endpoint)
            if peak * load.service_s >= cap:
                when = "" if len(epochs) == 1 else f" from {e.start_s:g}s to {e.end_s:g}s"
                out.append(
                    f"overload at the diurnal peak{when}: {_num(peak * load.service_s)} workers ({_num(peak)} req/s x "
                    f"{_num(load.service_s)} s) exceeds {limit}; {_consequence(e.endpoint)} around each peak"
                )
    return out


def priority_warnings(sc: Scenario) -> list[str]:
    """Every job low priority and no worker that stays: nothing ever starts a worker for them
    (a low-priority job never triggers a scale-up), so they wait out their TTL."""
    if sc.workload.low_priority_share >= 1.0 and sc.endpoint.active_workers == 0 and not sc.events:
        return [
            "workload.low_priority_share: every job is low priority and endpoint.active_workers is 0: no job ever "
            "starts a worker, so every job waits until its TTL (give the endpoint an active worker, or lower the share)"
        ]
    return []


def scenario_warnings(sc: Scenario) -> list[str]:
    """Every warning of a scenario, one line each, in a stable order ([] when none)."""
    return cap_warnings(sc) + load_warnings(sc) + priority_warnings(sc)


def summary_warnings(summary: dict[str, Any]) -> list[str]:
    """The ``warnings`` list of a summary (older run directories have none)."""
    value = summary.get("warnings")
    return [str(w) for w in value] if isinstance(value, list) else []


def incomplete_note(summary: dict[str, Any], label: str) -> str | None:
    """One line saying that the run ``label`` was recovered from a crashed executor's journal (``simserve
    recover``: ``summary["incomplete"]``), so its figures cover only its first ``until_s`` seconds; None for a
    run that ended normally."""
    inc = summary.get("incomplete")
    if not isinstance(inc, dict):
        return None
    until = inc.get("until_s")
    upto = f"its first {float(until):.1f} s" if isinstance(until, (int, float)) else "part of the run"
    return (
        f"{label} is incomplete (its executor died; recovered from its journal): its figures cover {upto}, "
        f"with {inc.get('jobs_in_flight', '?')} jobs in flight then"
    )


__all__ = [
    "Load",
    "cap_warnings",
    "diurnal_peak_rate",
    "incomplete_note",
    "load_warnings",
    "offered_load",
    "priority_warnings",
    "scenario_warnings",
    "summary_warnings",
]
