"""Turning a finished live run into the simulator's result and run directory.

Owns ``save_live_run``: ``build_result(..., engine="live")`` over the measured recorder, a
``live`` section in summary.json (protocol, runtime, speed, slots, retries, faults with
their log tails, measured cold-start phases), ``write_run``, ``trace.csv`` (arrival and
service times in scenario seconds) so the simulator can replay exactly these jobs,
``token_times.csv`` for an LLM run (when each completed job's handler yielded each token: what
``simserve calibrate`` fits the engine to), and ``job_errors.csv``: every job run that did not
complete (``outcome`` failed, timed_out or crashed; a crashed run is retried or failed by the
core) with the handler's or the runtime's error, which ``jobs.csv`` (the simulator's columns)
has no place for. The summary's ``live`` section says why each job that did not complete ended
so (``failed_jobs``: the first ``FAILED_JOBS_LISTED`` of them, with ``failed_jobs_total``): its
tries and the last error — for a poison job, that its worker died on each of its
``faults.retry_limit + 1`` tries.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simserve.live.journal import JOURNAL_DIR
from simserve.live.runtime import Json
from simserve.results.outputs import TOKEN_TIMES_FILE, write_frame, write_json, write_run
from simserve.results.result import RunResult, build_result
from simserve.scenario import FaultsConfig, Scenario

if TYPE_CHECKING:
    from simserve.live.executor import LiveRun

#: an LLM run whose handler streamed nothing: its TTFT and TPOT are not measured
NO_STREAM_WARNING = (
    "workload.service (llm): the handler yielded no tokens, so TTFT and TPOT were not measured; an LLM "
    "handler streams each token as a generator (examples/handlers/llm_engine.py)"
)
#: columns of ``job_errors.csv`` (times in scenario seconds)
JOB_ERROR_COLUMNS = ("job_id", "worker_id", "time_s", "outcome", "error")
#: how many failed or timed-out jobs summary.json explains one by one (job_errors.csv has them all)
FAILED_JOBS_LISTED = 100


def failed_jobs(jobs: pd.DataFrame, errors: pd.DataFrame, retry_limit: int) -> list[dict[str, Json]]:
    """Why each job that ended ``failed`` or ``timed_out`` did: ``{job_id, status, tries, reason}``, in
    job order, from the runs of it in ``errors`` (``job_errors.csv``)."""
    ended = jobs.loc[jobs["status"].isin(("failed", "timed_out")), ["job_id", "status"]]
    if not len(ended):
        return []
    runs = errors.groupby("job_id", sort=False)
    out = []
    for job_id, status in ended.itertuples(index=False):
        tries = runs.get_group(job_id) if job_id in runs.groups else errors.iloc[:0]
        last = str(tries["error"].iloc[-1]) if len(tries) else "(no run recorded)"
        if len(tries) and (tries["outcome"] == "crashed").all():
            reason = (
                f"its worker died on each of its {len(tries)} tries (faults.retry_limit {retry_limit}); last: {last}"
            )
        else:
            reason = last
        out.append({"job_id": int(job_id), "status": str(status), "tries": len(tries), "reason": reason})
    return out


def measured_phases(workers: pd.DataFrame) -> dict[str, Json]:
    """Per cold-start phase: count, mean and max duration (scenario seconds) of the measured intervals."""
    init = workers[workers["state"] == "initializing"]
    out: dict[str, Json] = {}
    for phase, g in init.groupby("phase", observed=True):
        d = g["end_s"] - g["start_s"]
        out[str(phase)] = {"n": len(d), "mean_s": float(d.mean()), "max_s": float(d.max())}
    return out


def token_times_frame(token_times: list[tuple[int, tuple[float, ...]]]) -> pd.DataFrame:
    """``job_id, t_s``: one row per chunk (token) a completed job's handler yielded, in job order."""
    rows = sorted(token_times, key=lambda r: r[0])
    job = np.repeat(np.asarray([r[0] for r in rows], dtype=np.int64), [len(r[1]) for r in rows])
    t = np.fromiter((x for r in rows for x in r[1]), dtype=float, count=len(job))
    return pd.DataFrame({"job_id": job, "t_s": t})


def save_live_run(
    scenario: Scenario, seed: int, run: LiveRun, out_dir: Path, incomplete: dict[str, Json] | None = None
) -> RunResult:
    """Write summary.json, jobs.csv, workers.csv, actions.csv and trace.csv for a live run (and, for an
    LLM run, ``token_times.csv``); the run's journal (``simserve.live.journal``) goes. ``incomplete``: a run
    recovered from what its crashed executor left (``simserve recover``): summary.json says so, and until when."""
    result = build_result(scenario, seed, run.recorder, engine="live", horizon_s=max(run.horizon_s, 1e-9))
    if incomplete is not None:
        result.summary["incomplete"] = incomplete
        warning = (
            f"incomplete: this run's executor died; recovered from its journal up to t={run.horizon_s:.1f}s "
            f"({incomplete.get('jobs_in_flight', 0)} jobs in flight then)"
        )
        result.summary["warnings"] = [*result.summary.get("warnings", []), warning]
    live = dict(run.notes)
    live["cold_start_phases"] = measured_phases(result.workers)
    errors = pd.DataFrame(run.job_errors, columns=list(JOB_ERROR_COLUMNS))
    failed = failed_jobs(result.jobs, errors, (scenario.faults or FaultsConfig()).retry_limit)
    live["failed_jobs_total"] = len(failed)
    live["failed_jobs"] = failed[:FAILED_JOBS_LISTED]
    result.summary["live"] = live
    result.notes.update(live)
    if scenario.workload.llm is not None and not run.token_times and result.summary["requests"]["completed"]:
        result.summary["warnings"] = [*result.summary.get("warnings", []), NO_STREAM_WARNING]
    write_run(out_dir, result)
    n = len(run.recorder.arrival_s)
    write_frame(
        out_dir / "trace.csv", pd.DataFrame({"arrival_s": run.jobs.arrival_s[:n], "service_s": run.jobs.service_s[:n]})
    )
    write_frame(out_dir / "job_errors.csv", errors)
    if run.token_times:
        write_frame(out_dir / TOKEN_TIMES_FILE, token_times_frame(run.token_times))
    write_json(out_dir / "summary.json", result.summary)
    shutil.rmtree(out_dir / JOURNAL_DIR, ignore_errors=True)
    return result
