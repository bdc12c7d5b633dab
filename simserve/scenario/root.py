"""``Scenario``: the whole file, its cross-section checks and bounds, and the paths it names."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from simserve import catalog, limits
from simserve.dists import Duration
from simserve.inputs import not_a_regular_file
from simserve.planspec import PlanSpec
from simserve.scenario.base import Int, StrictModel, gpu_name
from simserve.scenario.billing import Billing, PriceOverride
from simserve.scenario.dynamics import Event, FaultsConfig
from simserve.scenario.endpoint import Endpoint
from simserve.scenario.hosts import ColdStart, HostPool
from simserve.scenario.workload import BurstyArrivals, PoissonArrivals, TraceArrivals, WeeklyArrivals, Workload


class Scenario(StrictModel):
    """A complete, validated scenario. Times in seconds, sizes in bytes, rates per second."""

    name: str = "scenario"
    seed: Int = Field(0, ge=0)
    horizon: Duration = Field(7200.0, description="simulated time")
    warmup: Duration = Field(0.0, description="excluded from statistics")
    replications: Int = Field(1, ge=1, le=limits.MAX_REPLICATIONS)
    endpoint: Endpoint = Field(default_factory=Endpoint)
    cold_start: ColdStart = Field(default_factory=ColdStart)
    hosts: list[HostPool] = Field(default_factory=list)
    workload: Workload
    pricing: dict[str, PriceOverride] = Field(default_factory=dict)
    billing: Billing = Field(default_factory=Billing)
    faults: FaultsConfig | None = Field(None, description="worker faults; absent: workers never fail")
    events: list[Event] = Field(default_factory=list, description="timeline of deploys and setting changes")
    plan: PlanSpec | None = Field(
        None, exclude=True, description="capacity-planner SLOs and search space (read by `simserve plan`)"
    )
    base_dir: str = Field(".", description="directory trace paths are relative to (set by the loader)")
    max_arrivals: Int = Field(
        limits.DEFAULT_MAX_ARRIVALS, ge=1, description="refuse a run that implies more arrivals than this"
    )

    @field_validator("pricing", mode="before")
    @classmethod
    def _gpu_keys(cls, v: Any) -> Any:
        return {gpu_name(k): x for k, x in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if self.horizon <= 0:
            raise ValueError("horizon: expected a duration greater than zero")
        if self.warmup >= self.horizon:
            raise ValueError(f"warmup ({self.warmup}s) must be shorter than horizon ({self.horizon}s)")
        for name in self.pricing:
            try:
                catalog.lookup(name)
            except KeyError:
                raise ValueError(f"pricing: unknown GPU {name!r}") from None
        arrivals = self.workload.arrivals
        if isinstance(arrivals, TraceArrivals) and (kind := not_a_regular_file(self.trace_path())):
            raise ValueError(f"workload.arrivals.path: {_missing('trace file', kind)}: {self.trace_path()}")
        if (
            isinstance(arrivals, WeeklyArrivals)
            and arrivals.csv is not None
            and (kind := not_a_regular_file(self.data_path(arrivals.csv)))
        ):
            raise ValueError(
                f"workload.arrivals.csv: {_missing('weekly profile', kind)}: {self.data_path(arrivals.csv)}"
            )
        if self.hosts and not any(h.gpu.upper() in {g.upper() for g in self.endpoint.gpu} for h in self.hosts):
            raise ValueError(
                f"endpoint.gpu: no host pool in hosts serves {', '.join(self.endpoint.gpu)}; expected a hosts entry "
                f"with one of these GPUs (pools: {', '.join(sorted({h.gpu for h in self.hosts}))})"
            )
        self._check_bounds()
        llm = self.workload.llm
        if llm is not None:
            for gpu in self.endpoint.gpu:
                try:
                    params = llm.engine(gpu)
                except KeyError as exc:
                    raise ValueError(
                        f"workload.service.{exc.args[0]}; expected one value, a {gpu} row in its table, or a "
                        f"model with catalog defaults for {gpu}"
                    ) from None
                if params.gpus_needed > self.endpoint.gpus_per_worker:
                    raise ValueError(
                        f"workload.service.model: {llm.model} on {gpu} needs {params.gpus_needed} GPUs per worker; "
                        f"expected endpoint.gpus_per_worker >= {params.gpus_needed}"
                    )
        for host in self.hosts:
            if host.gpus_per_host < self.endpoint.gpus_per_worker:
                raise ValueError(
                    f"hosts: a {host.gpu} host has {host.gpus_per_host} GPUs, fewer than gpus_per_worker "
                    f"({self.endpoint.gpus_per_worker})"
                )
        self._check_timeline()
        return self

    def _check_bounds(self) -> None:
        """How much work the scenario implies, against ``simserve.limits``: arrivals, autoscaler ticks,
        bursty periods, tenant changes and hosts (a trace's arrivals are checked when it is read)."""
        horizon = self.horizon
        a = self.workload.arrivals
        if not isinstance(a, TraceArrivals):
            rate = a.rate if isinstance(a, PoissonArrivals) else a.mean_rate
            expected = rate * horizon
            if expected > self.max_arrivals:
                raise ValueError(
                    f"workload.arrivals: the scenario implies about {limits.format_count(expected)} arrivals "
                    f"({rate:g}/s over a {horizon:g} s horizon), more than max_arrivals = "
                    f"{limits.format_count(self.max_arrivals)}; shorten the horizon or raise the limit "
                    f"(--set max_arrivals=N)"
                )
        if isinstance(a, BurstyArrivals) and horizon / (a.mean_burst + a.mean_gap) > limits.MAX_BURSTY_PERIODS:
            raise ValueError(
                f"workload.arrivals.mean_gap: {limits.format_count(horizon / (a.mean_burst + a.mean_gap))} burst "
                f"cycles over the horizon, more than {limits.format_count(limits.MAX_BURSTY_PERIODS)}; expected "
                f"mean_burst + mean_gap of at least {horizon / limits.MAX_BURSTY_PERIODS:g} s"
            )
        ticks = horizon / self.endpoint.scaler_interval
        if ticks > limits.MAX_SCALER_TICKS:
            raise ValueError(
                f"endpoint.scaler_interval: {limits.format_count(ticks)} autoscaler ticks over the horizon, more "
                f"than {limits.format_count(limits.MAX_SCALER_TICKS)}; expected an interval of at least "
                f"{horizon / limits.MAX_SCALER_TICKS:g} s"
            )
        n_hosts = sum(h.count for h in self.hosts)
        if n_hosts > limits.MAX_HOSTS:
            raise ValueError(f"hosts: {n_hosts:,} hosts in all pools, more than {limits.MAX_HOSTS:,}")
        changes = sum(
            h.count * horizon / h.other_tenants.time_scale
            for h in self.hosts
            if h.other_tenants is not None and h.other_tenants.csv is None
        )
        if changes > limits.MAX_TENANT_CHANGES:
            raise ValueError(
                f"hosts: other_tenants.time_scale implies {limits.format_count(changes)} demand changes over the "
                f"horizon, more than {limits.format_count(limits.MAX_TENANT_CHANGES)}; expected a longer time_scale"
            )

    def _check_timeline(self) -> None:
        """Each ``set`` event, applied in time order, must leave a valid endpoint; CSV tenant files must exist."""
        for pool in self.hosts:
            if pool.other_tenants is not None and pool.other_tenants.csv is not None:
                p = Path(pool.other_tenants.csv)
                kind = not_a_regular_file(p if p.is_absolute() else Path(self.base_dir) / p)
                if kind:
                    raise ValueError(f"hosts: {_missing('other_tenants CSV', kind)}: {pool.other_tenants.csv}")
        endpoint = self.endpoint.model_dump()
        for ev in sorted(self.events, key=lambda e: e.at):
            for key, value in (ev.set or {}).items():
                node = endpoint
                parts = key.split(".")[1:]
                for part in parts[:-1]:
                    node = node[part]
                node[parts[-1]] = value
            if ev.set:
                try:
                    Endpoint.model_validate(endpoint)
                except ValidationError as err:
                    e = err.errors(include_url=False)[0]
                    raise ValueError(f"events: set at {ev.at:g}s: {e['msg'].removeprefix('Value error, ')}") from None

    def data_path(self, path: str) -> Path:
        """A file the scenario names (relative paths against ``base_dir``)."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def trace_path(self) -> Path:
        """The trace file of ``workload.arrivals`` (relative paths against ``base_dir``)."""
        arrivals = self.workload.arrivals
        if not isinstance(arrivals, TraceArrivals):
            raise TypeError(f"workload.arrivals is {arrivals.type!r}, not a trace: no trace file")
        p = Path(arrivals.path)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def digest(self) -> str:
        """Short hash of the resolved scenario, for provenance in results."""
        data = self.model_dump(mode="json", exclude={"base_dir", "max_arrivals"})  # a guard, not the model
        for key in ("faults", "events"):  # absent dynamics sections leave digests of older scenarios unchanged
            if not data.get(key):
                data.pop(key, None)
        for pool in data.get("hosts", []):
            if pool.get("other_tenants") is None:
                pool.pop("other_tenants", None)
        for section, key in (
            ("workload", "low_priority_share"),
            ("workload", "refresh_share"),
            ("cold_start", "flashboot_miss_prob"),
        ):  # fields added at 0 (#23): an older scenario keeps its digest
            if data.get(section, {}).get(key) == 0:
                data[section].pop(key)
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _missing(what: str, kind: str) -> str:
    """``"trace file not found"``, or ``"expected a file, got a named pipe"`` (``kind``: ``not_a_regular_file``)."""
    return f"{what} not found" if kind == "not found" else f"expected a file, got {kind}"
