"""The search space: every candidate configuration, its order and its cost lower bound.

Owns expanding ``vary`` into candidates (the cartesian product, in a fixed order), checking
each against the scenario schema (an invalid one, e.g. active > max workers, is reported and
never run), the partial order of monotone keys (a larger value never worsens latency or
failures) inside a *slice* (fixed values of the other keys), and ``cost_floor_usd_per_hour``:
a lower bound on a candidate's expected cost from its active workers and the offered load.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simserve import catalog, limits
from simserve.billing import least_cost_usd_per_s
from simserve.planspec import PlanError, order_key
from simserve.results.replicate import replication_seed
from simserve.rng import RandomStreams
from simserve.scenario import Scenario, ScenarioError, load_scenario
from simserve.workload import generate

# keys where a larger value never raises latency, queue wait, cold starts or failures
MONOTONE_KEYS = (
    "endpoint.active_workers",
    "endpoint.max_workers",
    "endpoint.idle_timeout",
    "endpoint.extra_workers",
    "endpoint.account_balance_usd",
)
# safety margins of the cost floor: active workers are billed all the time; the offered load
# must be billed on flex workers beyond the active ones (horizon effects take a little off)
ACTIVE_MARGIN, LOAD_MARGIN = 0.99, 0.8


@dataclass(frozen=True)
class Dim:
    """One search dimension: a dotted key and its values (ascending when monotone)."""

    key: str
    values: tuple[Any, ...]
    monotone: bool


@dataclass(frozen=True)
class Candidate:
    """One configuration: overrides, its slice and monotone rank, validity and cost floor."""

    index: int
    overrides: dict[str, Any]
    slice_key: tuple[int, ...]
    rank: tuple[int, ...]
    error: str | None
    floor_usd_per_hour: float

    def below(self, other: Candidate, free: tuple[bool, ...] | None = None) -> bool:
        """True when ``other`` has at least as much of every monotone key in the same slice;
        with ``free``, monotone keys marked False must be equal."""
        if self.slice_key != other.slice_key:
            return False
        if free is None:
            return all(a <= b for a, b in zip(self.rank, other.rank, strict=True))
        return all(a <= b if f else a == b for a, b, f in zip(self.rank, other.rank, free, strict=True))


def build_dims(vary: dict[str, list[Any]], monotone: list[str] | None = None) -> list[Dim]:
    """Dimensions in the given key order; monotone keys with numeric values are sorted."""
    keys = MONOTONE_KEYS if monotone is None else tuple(monotone)
    size = math.prod(len(v) for v in vary.values())
    if size > limits.MAX_PLAN_CANDIDATES:
        shape = " x ".join(f"{len(v)} {k}" for k, v in vary.items())
        raise PlanError(
            f"--vary: {size:,} candidates ({shape}), expected at most {limits.MAX_PLAN_CANDIDATES:,}; "
            "narrow a range or vary fewer keys"
        )
    dims: list[Dim] = []
    for key, given in vary.items():
        values, mono = given, key in keys
        if mono:
            try:
                values = sorted(given, key=order_key)
            except ValueError:
                mono = False  # not an ordered axis after all (e.g. names): a plain slice key
        dims.append(Dim(key, tuple(values), mono))
    return dims


def offered_load(sc: Scenario, seeds: list[int]) -> float:
    """Mean busy worker-seconds per second the workload brings (service / concurrency)."""
    loads = []
    window = max(sc.horizon - sc.warmup, 1e-9)
    for seed in seeds:
        jobs = generate(sc, RandomStreams(seed))
        keep = jobs.arrival_s >= sc.warmup
        loads.append(float(np.sum(jobs.service_s[keep])) / window / sc.endpoint.concurrency)
    return float(np.mean(loads)) if loads else 0.0


def cost_floor_usd_per_hour(sc: Scenario, load_workers: float) -> float:
    """Lower bound on the expected $/h of ``sc`` when it serves ``load_workers`` of offered load."""
    ep = sc.endpoint
    # default host pools hold every worker on the first GPU of the priority list; explicit
    # pools may place workers on any listed GPU that has a pool, so the cheapest bounds the price
    pools = {catalog.lookup(h.gpu).pool for h in sc.hosts}
    gpus = [g for g in ep.gpu if catalog.lookup(g).pool in pools] or ep.gpu if sc.hosts else ep.gpu[:1]
    flex_busy = max(0.0, LOAD_MARGIN * load_workers - ep.active_workers)
    return least_cost_usd_per_s(sc, gpus, ACTIVE_MARGIN * ep.active_workers, flex_busy) * 3600.0


def build_space(data: dict[str, Any], dims: list[Dim], base_seed: int, replications: int) -> list[Candidate]:
    """All candidates in product order; raises ``PlanError`` when none is a valid scenario."""
    mono = [i for i, d in enumerate(dims) if d.monotone]
    other = [i for i, d in enumerate(dims) if not d.monotone]
    seeds = [replication_seed(base_seed, r) for r in range(replications)]
    loads: dict[str, float] = {}
    out: list[Candidate] = []
    first_error = ""
    for index, levels in enumerate(itertools.product(*(range(len(d.values)) for d in dims))):
        overrides = {d.key: d.values[j] for d, j in zip(dims, levels, strict=True)}
        try:
            sc = load_scenario(data, overrides)
        except ScenarioError as exc:
            error = f"{exc.path}: {exc.message}" if exc.path else exc.message
            if exc.path in overrides and "unknown key" in exc.message:
                raise PlanError(f"--vary {exc.path}: not a scenario field ({exc.message})") from None
            first_error = first_error or error
            out.append(
                Candidate(index, overrides, tuple(levels[i] for i in other), tuple(levels[i] for i in mono), error, 0.0)
            )
            continue
        wkey = json.dumps(
            [sc.workload.model_dump(mode="json"), sc.horizon, sc.warmup, sc.endpoint.concurrency], sort_keys=True
        )
        if wkey not in loads:
            loads[wkey] = offered_load(sc, seeds)
        out.append(
            Candidate(
                index,
                overrides,
                tuple(levels[i] for i in other),
                tuple(levels[i] for i in mono),
                None,
                cost_floor_usd_per_hour(sc, loads[wkey]),
            )
        )
    if out and all(c.error for c in out):
        raise PlanError(f"no candidate in the search space is a valid scenario; the first: {first_error}")
    return out
