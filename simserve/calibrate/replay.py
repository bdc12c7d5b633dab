"""Replay a run's workload: its exact arrival times and measured service times as ``Jobs``.

Owns ``load_replay``, which ``simserve run --replay RUN_DIR`` calls. Each job keeps its
``arrival_s``; its service time is the ``execution_s`` the run measured. Jobs without a
complete measurement fall back as documented on ``replay_jobs`` (first to a live run's
``trace.csv``: the service times it asked its handler for). Imports numpy, pandas and
simserve's outputs/workload only; the run directory is checked by ``outputs.read_run`` (a bad
one is a one-line ``RunDirError``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simserve.results.outputs import read_csv_checked, read_run
from simserve.workload import Jobs


def replay_jobs(jobs: pd.DataFrame, pickup_s: np.ndarray | None = None, requested_s: np.ndarray | None = None) -> Jobs:
    """``Jobs`` from a jobs table (sorted by arrival; ties keep job order).

    Service time of a job, by what the run saw:
    - completed or failed after starting: its measured ``execution_s`` (a failed job occupied
      its worker that long; the simulator has no failure model and completes it);
    - timed out after starting: ``inf``, so the simulator times it out again at its own limit;
    - never started (rejected, timed out in the queue, in flight at the horizon), or started
      but unfinished at the horizon (live runs call those ``cancelled``): the service time the
      run asked for (``requested_s``, e.g. a live run's ``trace.csv``) when given, else the
      median measured ``execution_s`` of the run (0 when nothing was measured).
    ``pickup_s`` (per job, same order as ``jobs``) is added to the measured service times: it
    folds live platform overheads the simulator does not model into the worker's occupancy.
    An LLM run's jobs keep their token counts (``input_tokens``, ``output_tokens``): replayed
    against a scenario with ``service: {type: llm}``, its engine decides their times.
    """
    j = jobs.reset_index(drop=True)
    arrival = j["arrival_s"].to_numpy(float)
    exec_s = j["execution_s"].to_numpy(float)
    status = j["status"].astype(str).to_numpy()
    started = j["start_s"].notna().to_numpy()
    measured = started & np.isfinite(exec_s) & np.isin(status, ("completed", "failed"))
    fallback = float(np.median(exec_s[measured])) if measured.any() else 0.0
    if requested_s is not None and len(requested_s) == len(j):
        service = np.where(measured, exec_s, np.asarray(requested_s, dtype=float))
    else:
        service = np.where(measured, exec_s, fallback)
    if pickup_s is not None:
        service = np.where(measured, service + np.nan_to_num(np.asarray(pickup_s, float)), service)
    service = np.where(started & (status == "timed_out"), np.inf, service)
    order = np.argsort(arrival, kind="mergesort")
    input_tokens = output_tokens = None
    if "input_tokens" in j.columns and "output_tokens" in j.columns:  # an LLM run: its requests' token counts
        input_tokens = np.ascontiguousarray(j["input_tokens"].to_numpy(np.int64)[order])
        output_tokens = np.ascontiguousarray(j["output_tokens"].to_numpy(np.int64)[order])
    return Jobs(np.ascontiguousarray(arrival[order]), np.ascontiguousarray(service[order]), input_tokens, output_tokens)


def load_replay(run_dir: str | Path, *, fold_overheads: bool = False) -> Jobs:
    """Arrival and service times (seconds) of the run in ``run_dir`` (see ``replay_jobs``).

    ``fold_overheads`` adds each job's measured pickup delay (``measure.pickup_delays``) to
    its service time. A one-line ``RunDirError`` (``simserve.results.outputs.read_run``) when
    ``run_dir`` is not a readable run: missing, or a file in it missing or malformed.
    """
    run = read_run(run_dir)
    jobs = run["jobs"]
    pickup = None
    if fold_overheads:
        from simserve.calibrate.measure import pickup_delays

        d = pickup_delays(jobs, run["workers"]).set_index("job_id")["delay_s"]
        pickup = d.reindex(jobs["job_id"]).to_numpy(float)
    return replay_jobs(jobs, pickup, requested_service(Path(run_dir), jobs))


def requested_service(run_dir: Path, jobs: pd.DataFrame) -> np.ndarray | None:
    """Service times a live run asked its handler for (``trace.csv``), when they match the jobs.

    A ``trace.csv`` that is there but malformed is a one-line ``RunDirError``."""
    path = run_dir / "trace.csv"
    if not path.is_file():
        return None
    trace = read_csv_checked(path, {"arrival_s": "time", "service_s": "time?"}, optional=("service_s",))
    if "service_s" not in trace or len(trace) != len(jobs):
        return None
    if not np.allclose(trace["arrival_s"].to_numpy(float), jobs["arrival_s"].to_numpy(float), rtol=0, atol=1e-6):
        return None
    return trace["service_s"].to_numpy(float)


__all__ = ["load_replay", "replay_jobs", "requested_service"]
