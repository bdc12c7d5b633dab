"""Turning a finished live run into the simulator's result and run directory.

Owns ``save_live_run``: ``build_result(..., engine="live")`` over the measured recorder, a
``live`` section in summary.json (protocol, runtime, speed, slots, retries, faults with
their log tails, measured cold-start phases), ``write_run``, ``trace.csv`` (arrival and
service times in scenario seconds) so the simulator can replay exactly these jobs, and
``job_errors.csv``: every job run that did not complete (``outcome`` failed, timed_out or
crashed; a crashed run is retried or failed by the core) with the handler's or the runtime's
error, which ``jobs.csv`` (the simulator's columns) has no place for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from simserve.outputs import write_frame, write_json, write_run
from simserve.result import RunResult, build_result
from simserve.scenario import Scenario

#: columns of ``job_errors.csv`` (times in scenario seconds)
JOB_ERROR_COLUMNS = ("job_id", "worker_id", "time_s", "outcome", "error")


def measured_phases(workers: pd.DataFrame) -> dict[str, Any]:
    """Per cold-start phase: count, mean and max duration (scenario seconds) of the measured intervals."""
    init = workers[workers["state"] == "initializing"]
    out: dict[str, Any] = {}
    for phase, g in init.groupby("phase", observed=True):
        d = g["end_s"] - g["start_s"]
        out[str(phase)] = {"n": len(d), "mean_s": float(d.mean()), "max_s": float(d.max())}
    return out


def save_live_run(scenario: Scenario, seed: int, run: Any, out_dir: Path) -> RunResult:
    """Write summary.json, jobs.csv, workers.csv, actions.csv and trace.csv for a live run."""
    result = build_result(scenario, seed, run.recorder, engine="live", horizon_s=max(run.horizon_s, 1e-9))
    live = dict(run.notes)
    live["cold_start_phases"] = measured_phases(result.workers)
    result.summary["live"] = live
    result.notes.update(live)
    write_run(out_dir, result)
    n = len(run.recorder.arrival_s)
    write_frame(
        out_dir / "trace.csv", pd.DataFrame({"arrival_s": run.jobs.arrival_s[:n], "service_s": run.jobs.service_s[:n]})
    )
    errors = getattr(run, "job_errors", [])
    write_frame(out_dir / "job_errors.csv", pd.DataFrame(errors, columns=list(JOB_ERROR_COLUMNS)))
    write_json(out_dir / "summary.json", result.summary)
    return result
