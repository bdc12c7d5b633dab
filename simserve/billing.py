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
    """Integer codes of a column against ``categories`` (works for categorical and plain columns): a value
    not among them, or missing, is -1. A categorical column's own codes are renumbered (its categories
    looked up once), not recoded value by value."""
    import pandas as pd

    wanted = pd.Index(list(categories))
    if isinstance(column.dtype, pd.CategoricalDtype):
        renumber = np.append(wanted.get_indexer(column.cat.categories), -1).astype(np.int64)  # code -1 stays -1
        return renumber[column.cat.codes.to_numpy()]  # type: ignore[no-any-return]
    return np.asarray(wanted.get_indexer(pd.Index(column)), dtype=np.int64)


def billed_lookup(table: Mapping[str, bool]) -> np.ndarray:
    """``lookup[kind, state, phase]`` (kind 0 flex, 1 active): whether that interval is billed."""
    kinds = ("flex", "active")
    return np.array(
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


def rate_table(gpus: Any, gpus_per_worker: int, overrides: Mapping[str, Any] | None = None) -> np.ndarray:
    """``rates[gpu index, kind]`` in USD per second (kind 0 flex, 1 active; an empty name costs nothing)."""
    return np.array(
        [[price_usd_per_s(g, k, gpus_per_worker, overrides) if g else 0.0 for k in ("flex", "active")] for g in gpus]
        or [[0.0, 0.0]]
    )


def session_costs(
    wid: np.ndarray,
    host: np.ndarray,
    billed: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    rate: np.ndarray,
    carried_s: np.ndarray | None = None,
    open_last: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(cost, session seconds at each row)`` of intervals sorted by (worker, start): billed time at the
    rate, and each billing session (consecutive billed intervals of one worker on one host, no gap) rounded
    up to a whole second, the remainder charged on its last interval.

    A streamed run bills its intervals a chunk at a time: ``carried_s`` adds the seconds a session already
    had in earlier chunks (at the row that continues it), and rows marked ``open_last`` may be continued by
    the next chunk, so their session is not rounded yet."""
    dur = end - start
    cost = np.where(billed, dur * rate, 0.0)
    n = len(wid)
    if not n:
        return cost, np.zeros(0)
    cont = (wid[1:] == wid[:-1]) & (host[1:] == host[:-1]) & billed[:-1] & billed[1:] & (start[1:] == end[:-1])
    prev_same = np.r_[False, cont]
    next_same = np.r_[cont, False]
    session_start = billed & ~prev_same
    if not session_start.any():
        return cost, np.zeros(n)
    # a row out of any session (not billed) counts under the session before it (or the first), adding 0 s:
    # the same sums as binning the billed rows alone, without copying them out
    session_id = np.cumsum(session_start)
    session_id -= 1
    np.maximum(session_id, 0, out=session_id)
    d = np.where(billed, dur, 0.0) if carried_s is None else np.where(billed, dur, 0.0) + carried_s * session_start
    session_secs = np.bincount(session_id, weights=d)
    last = billed & ~next_same
    if open_last is not None:
        last &= ~open_last
    remainder = np.ceil(np.round(session_secs, 9)) - session_secs
    idx = np.flatnonzero(last)
    cost[idx] += remainder[session_id[idx]] * rate[idx]
    secs_at = np.where(billed, session_secs[session_id], 0.0)
    return cost, secs_at


def apply_billing(
    frame: Any, table: Mapping[str, bool], gpus_per_worker: int, overrides: Mapping[str, Any] | None = None
) -> Any:
    """Add ``billed`` and ``cost_usd`` columns to a worker-interval frame (sorted by worker, start)."""
    import pandas as pd

    n = len(frame)
    state = _codes(frame["state"], STATES)
    phase = _codes(frame["phase"], PHASES)
    kind = _codes(frame["kind"], ("flex", "active"))
    billed = billed_lookup(table)[kind, state, phase] if n else np.zeros(0, dtype=bool)
    gpu_cat = pd.Categorical(frame["gpu"])
    rates = rate_table(gpu_cat.categories, gpus_per_worker, overrides)
    rate = np.take(rates.ravel(), gpu_cat.codes.astype(np.int64) * 2 + kind) if n else np.zeros(0)  # rates[gpu, kind]
    cost, _ = session_costs(
        frame["worker_id"].to_numpy(),
        frame["host"].to_numpy(),
        billed,
        frame["start_s"].to_numpy(),
        frame["end_s"].to_numpy(),
        rate,
    )
    out = frame.copy(deep=False)  # the columns are shared, not copied (nor consolidated: a copy of them all)
    out["billed"] = billed
    out["cost_usd"] = cost
    return out


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
