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
from simserve.records import JOB_COLUMNS, STATES, WORKER_COLUMNS, Recorder
from simserve.results.jobstats import JobStats, StartupFigures
from simserve.results.summary import job_stats, minute_frame, summarize, worker_stats
from simserve.results.workerstats import WorkerStats
from simserve.scenario import Scenario
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
    #: per-minute series (``summary.minute_frame``); kept for every run, the only job data of a streamed one
    minutes: pd.DataFrame | None = None
    #: False for a streamed run: ``jobs`` is empty, the job records went to ``JobStats`` (and parquet)
    has_jobs: bool = True
    #: False for a streamed run: ``workers`` is empty, the intervals went to ``WorkerStats`` (and parquet)
    has_workers: bool = True
    #: a streamed run's first cold start: the jobs that waited for it, the latency percentiles without them
    #: (None with a jobs table, which has them all, or when no job started)
    startup: StartupFigures | None = None

    def cost_by_state(self) -> pd.Series:
        """USD by worker state over the statistics window."""
        return pd.Series(self.summary["cost_usd"]["by_state"], name="cost_usd").reindex(list(STATES))


def statistics_warmup(scenario: Scenario, horizon_s: float) -> float:
    """The warmup the statistics leave out: the scenario's, kept short of a (stopped run's) horizon."""
    return min(scenario.warmup, horizon_s * 0.999)


def build_result(
    scenario: Scenario,
    seed: int,
    rec: Recorder,
    *,
    engine: str = "sim",
    horizon_s: float | None = None,
    stats: JobStats | None = None,
    wstats: WorkerStats | None = None,
) -> RunResult:
    """Turn a recorder into a ``RunResult`` (billing applied, summary computed). With ``stats`` the run was
    streamed: the request figures come from them and the result has no jobs table."""
    horizon = scenario.horizon if horizon_s is None else horizon_s
    warmup = statistics_warmup(scenario, horizon)
    jobs = rec.jobs_frame() if stats is None else pd.DataFrame({c: [] for c in JOB_COLUMNS})
    gpus_per_worker = scenario.endpoint.gpus_per_worker
    if wstats is None:
        table = billing_table(scenario.billing.preset, scenario.billing.states)
        workers = apply_billing(rec.intervals_frame(), table, gpus_per_worker, scenario.pricing)
        wstats = worker_stats(workers, horizon_s=horizon, warmup_s=warmup, gpus_per_worker=gpus_per_worker)
        has_workers = True
    else:  # a streamed run: its intervals were billed and folded into wstats as it went
        workers = pd.DataFrame({c: [] for c in WORKER_COLUMNS})
        has_workers = False
    if stats is None:
        stats = job_stats(jobs, horizon_s=horizon, warmup_s=warmup)
        table_jobs: pd.DataFrame | None = jobs
    else:
        table_jobs = None
    summary = summarize(
        table_jobs,
        workers,
        horizon_s=horizon,
        warmup_s=warmup,
        gpus_per_worker=scenario.endpoint.gpus_per_worker,
        counters=rec.notes,
        stats=stats,
        wstats=wstats,
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
    return RunResult(
        scenario,
        int(seed),
        engine,
        summary,
        jobs,
        workers,
        rec.actions_frame(),
        dict(rec.notes),
        minutes=minute_frame(stats, wstats),
        has_jobs=table_jobs is not None,
        has_workers=has_workers,
        startup=stats.startup.figures(stats.sketches["latency"])
        if table_jobs is None and stats.startup is not None
        else None,
    )
