"""``RunResult``: one run's tables and summary, the shape both engines return.

Owns the assembly of a run's outputs (jobs, billed worker intervals, actions, summary with
provenance keys and the scenario's ``warnings``, ``simserve.checks``) and the Python-API
conveniences notebooks use (``cost_by_state``). Both engines build their summary here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simserve.billing import apply_billing, billing_table
from simserve.checks import scenario_warnings
from simserve.records import STATES, Recorder
from simserve.scenario import Scenario
from simserve.summary import summarize
from simserve.version import __version__


@dataclass
class RunResult:
    """Tables and summary of one run (sim or live)."""

    scenario: Scenario
    seed: int
    engine: str
    summary: dict[str, Any]
    jobs: pd.DataFrame
    workers: pd.DataFrame
    actions: pd.DataFrame
    notes: dict[str, Any] = field(default_factory=dict)

    def cost_by_state(self) -> pd.Series:
        """USD by worker state over the statistics window."""
        return pd.Series(self.summary["cost_usd"]["by_state"], name="cost_usd").reindex(list(STATES))


def build_result(
    scenario: Scenario, seed: int, rec: Recorder, *, engine: str = "sim", horizon_s: float | None = None
) -> RunResult:
    """Turn a recorder into a ``RunResult`` (billing applied, summary computed)."""
    horizon = scenario.horizon if horizon_s is None else horizon_s
    jobs = rec.jobs_frame()
    table = billing_table(scenario.billing.preset, scenario.billing.states)
    workers = apply_billing(rec.intervals_frame(), table, scenario.endpoint.gpus_per_worker, scenario.pricing)
    summary = summarize(
        jobs,
        workers,
        horizon_s=horizon,
        warmup_s=min(scenario.warmup, horizon * 0.999),
        gpus_per_worker=scenario.endpoint.gpus_per_worker,
        counters=rec.notes,
    )
    summary["counters"] = dict(sorted(rec.notes.items()))
    summary["warnings"] = scenario_warnings(scenario)  # always present; [] when none
    summary.update(
        {
            "scenario": scenario.name,
            "seed": int(seed),
            "engine": engine,
            "horizon_s": float(horizon),
            "simserve_version": __version__,
            "scenario_digest": scenario.digest(),
        }
    )
    return RunResult(scenario, int(seed), engine, summary, jobs, workers, rec.actions_frame(), dict(rec.notes))
