"""Billing: worker state intervals x price table x billing preset -> cost (pure).

Owns the billing presets (``seed``: the seed table's billing column; ``runpod-2026-08``: the
current docs, where image pull and cached-model download are not billed), explicit per-state
and per-phase overrides, per-GPU prices from the catalog (flex or active rate, times GPUs per
worker) and per-second billing with partial seconds rounded up per billing session (billed time of one worker
on one host without a gap; the
rounding remainder is charged on the session's last interval, so total = sum of cost_usd).
Active workers are billed in every state except throttled, unhealthy and idle (an active worker
is idle only once removed: a `set` event lowering active workers, or a slot given up).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from simserve import catalog
from simserve.records import PHASES, STATES

PRESETS: dict[str, dict[str, bool]] = {
    "seed": {
        "initializing": True,
        "idle": False,
        "running": True,
        "throttled": False,
        "outdated": True,
        "outdated.warm": False,
        "unhealthy": False,
    },
    "runpod-2026-08": {
        "initializing": True,
        "initializing.pull": False,
        "initializing.model_download": False,
        "idle": False,
        "running": True,
        "throttled": False,
        "outdated": True,
        "outdated.warm": False,
        "unhealthy": False,
    },
}
NEVER_BILLED_ACTIVE = frozenset({"throttled", "unhealthy", "idle"})


def billing_table(preset: str, overrides: Mapping[str, bool] | None = None) -> dict[str, bool]:
    """The resolved ``state`` / ``state.phase`` -> billed table."""
    table = dict(PRESETS[preset])
    table.update(overrides or {})
    return table


def is_billed(table: Mapping[str, bool], state: str, phase: str) -> bool:
    """Whether a flex worker is billed in ``state``/``phase`` (the phase entry wins).

    >>> is_billed(billing_table("runpod-2026-08"), "initializing", "pull")
    False
    """
    key = f"{state}.{phase}"
    if phase and key in table:
        return table[key]
    return table.get(state, False)


def price_usd_per_s(gpu: str, kind: str, gpus_per_worker: int, overrides: Mapping[str, Any] | None = None) -> float:
    """USD per second for one worker of ``kind`` (flex|active) on ``gpu``."""
    entry = catalog.lookup(gpu)
    flex, active = entry.flex_usd_per_s, entry.active_usd_per_s
    for name, ov in (overrides or {}).items():
        if catalog.lookup(name).pool == entry.pool:
            flex = float(ov.flex)
            active = float(ov.active) if ov.active is not None else flex
    return (active if kind == "active" else flex) * gpus_per_worker


def _codes(column: Any, categories: Any) -> np.ndarray:
    """Integer codes of a column against ``categories`` (works for categorical and plain columns)."""
    import pandas as pd

    codes: np.ndarray = np.asarray(pd.Categorical(column, categories=list(categories)).codes, dtype=np.int64)
    return codes


def apply_billing(
    frame: Any, table: Mapping[str, bool], gpus_per_worker: int, overrides: Mapping[str, Any] | None = None
) -> Any:
    """Add ``billed`` and ``cost_usd`` columns to a worker-interval frame (sorted by worker, start)."""
    import pandas as pd

    n = len(frame)
    state = _codes(frame["state"], STATES)
    phase = _codes(frame["phase"], PHASES)
    kinds = ("flex", "active")
    kind = _codes(frame["kind"], kinds)
    lookup = np.array(
        [
            [
                [
                    (STATES[s] not in NEVER_BILLED_ACTIVE) if k == "active" else is_billed(table, STATES[s], PHASES[p])
                    for p in range(len(PHASES))
                ]
                for s in range(len(STATES))
            ]
            for k in kinds
        ],
        dtype=bool,
    )
    billed = lookup[kind, state, phase] if n else np.zeros(0, dtype=bool)
    gpu_cat = pd.Categorical(frame["gpu"])
    gpu_code = gpu_cat.codes.astype(np.int64)
    rates = np.array(
        [[price_usd_per_s(g, k, gpus_per_worker, overrides) if g else 0.0 for k in kinds] for g in gpu_cat.categories]
        or [[0.0, 0.0]]
    )
    rate = rates[gpu_code, kind] if n else np.zeros(0)
    start = frame["start_s"].to_numpy()
    end = frame["end_s"].to_numpy()
    dur = end - start
    cost = np.where(billed, dur * rate, 0.0)
    if n:
        wid = frame["worker_id"].to_numpy()
        host = frame["host"].to_numpy()
        # a billing session: consecutive billed intervals of one worker on one host with no gap
        cont = (wid[1:] == wid[:-1]) & (host[1:] == host[:-1]) & billed[:-1] & billed[1:] & (start[1:] == end[:-1])
        prev_same = np.r_[False, cont]
        next_same = np.r_[cont, False]
        session_start = billed & ~prev_same
        session_id = np.cumsum(session_start) - 1
        last = billed & ~next_same
        if session_start.any():
            session_secs = np.bincount(session_id[billed], weights=dur[billed])
            remainder = np.ceil(np.round(session_secs, 9)) - session_secs
            idx = np.flatnonzero(last)
            cost[idx] += remainder[session_id[idx]] * rate[idx]
    out = frame.copy()
    out["billed"] = billed
    out["cost_usd"] = cost
    return out


def running_cost(scenario: Any, rec: Any, open_rows: list[tuple[int, int, int, float, float, int]]) -> float:
    """The bill so far of a run in progress: the recorder's closed intervals plus the ``open_rows``
    (worker, state, phase, start, now, host), billed as ``apply_billing`` bills a finished run."""
    frame = rec.intervals_frame([r for r in open_rows if r[4] > r[3]])
    if not len(frame):
        return 0.0
    table = billing_table(scenario.billing.preset, scenario.billing.states)
    billed = apply_billing(frame, table, scenario.endpoint.gpus_per_worker, scenario.pricing)
    return float(billed["cost_usd"].sum())


def least_cost_usd_per_s(scenario: Any, gpus: list[str], active_workers: float, busy_flex_workers: float) -> float:
    """The least a second can cost: ``active_workers`` at the cheapest active rate among ``gpus``, plus
    ``busy_flex_workers`` flex workers busy at the cheapest flex rate (zero when busy time is not billed).
    The capacity planner's cost floor."""
    ep = scenario.endpoint
    active = min(price_usd_per_s(g, "active", ep.gpus_per_worker, scenario.pricing) for g in gpus)
    flex = min(price_usd_per_s(g, "flex", ep.gpus_per_worker, scenario.pricing) for g in gpus)
    table = billing_table(scenario.billing.preset, scenario.billing.states)
    flex_busy = flex if is_billed(table, "running", "busy") else 0.0
    return active_workers * active + busy_flex_workers * flex_busy
