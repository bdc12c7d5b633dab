"""The traffic a serve run recorded, as a trace the simulator and the planner take.

Owns ``recorded_jobs`` (each job's arrival time and service time: the execution time measured
for a job that ran to its end, completed or failed; for the others, the median of the measured
ones, 0 when none was measured) — ``trace.csv`` in the run directory, ``simserve``'s trace format
(``arrival_s, service_s``), which ``simserve run --replay RUN_DIR`` and ``simserve calibrate``
read with the tables — and ``trace_scenario``: ``scenario.trace.yaml``, the run's scenario with its
workload replaced by that trace, looped (``period``: the recorded run's length, its idle time
included) over a horizon of an hour, or fewer whole recordings when an hour would exceed
``MAX_PLANNED_ARRIVALS`` (a few minutes recorded locally would otherwise be dominated by the
endpoint's first cold starts), so ``simserve plan RUN_DIR/scenario.trace.yaml`` plans the endpoint
for the traffic the clients sent. Its ``plan:`` section is the served scenario's own when it has
one; else ``default_plan``: no worse than the local run (latency p95 at most the recorded one, at
most 0.1 % failed) over active workers, max workers and idle timeout — an editable start, named
as such in the file. An LLM run's requests carry their tokens (input: the prompt's estimate;
output: the tokens its job was given, or those its handler gave) in ``trace.tokens.csv`` (the
BurstGPT layout: ``Timestamp,Request tokens,Response tokens``; simserve reads a trace of that format
with its times from the first request's), which ``scenario.trace.yaml`` reads instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from simserve.live.report import save_live_run
from simserve.live.runtime import Json
from simserve.records import JobStatus, Recorder
from simserve.results.outputs import write_frame, write_text
from simserve.results.result import RunResult
from simserve.workload import Jobs

if TYPE_CHECKING:
    from simserve.live.executor import LiveRun
    from simserve.scenario import Scenario

TRACE_SCENARIO = "scenario.trace.yaml"
#: an LLM run's requests with their tokens (the BurstGPT layout, which simserve reads by that format name)
LLM_TRACE = "trace.tokens.csv"


def save_serve_run(
    sc: Scenario, seed: int, run: LiveRun, work: Path, incomplete: dict[str, Json] | None = None
) -> RunResult:
    """A serve run's directory: ``save_live_run``'s files (its ``trace.csv`` of the recorded jobs) and
    ``scenario.trace.yaml`` to plan from (``trace_scenario``). ``incomplete``: see ``save_live_run``."""
    result = save_live_run(sc, seed, run, work, incomplete)
    resolved = yaml.safe_load((work / "scenario.resolved.yaml").read_text())
    own = sc.plan.model_dump(exclude_defaults=True) if sc.plan is not None and sc.plan.vary else None
    jobs = int(result.summary["requests"]["arrived"])
    arrivals = None
    if run.jobs.output_tokens is not None:  # an LLM run: the tokens of each request go with its arrival
        arrivals = write_token_trace(run.jobs, work)
    trace_scenario(resolved, run.horizon_s, work, own or default_plan(result.summary), jobs, arrivals)
    return result


def write_token_trace(jobs: Jobs, out_dir: Path) -> dict[str, Any]:
    """``LLM_TRACE``: each request's arrival and tokens in the BurstGPT layout (``Timestamp,Request
    tokens,Response tokens``, seconds); the trace arrivals of ``scenario.trace.yaml`` that read it."""
    assert jobs.input_tokens is not None and jobs.output_tokens is not None
    frame = pd.DataFrame(
        {
            "Timestamp": jobs.arrival_s,
            "Request tokens": np.asarray(jobs.input_tokens, dtype=np.int64),
            "Response tokens": np.asarray(jobs.output_tokens, dtype=np.int64),
        }
    )
    write_frame(out_dir / LLM_TRACE, frame)
    return {"type": "trace", "format": "burstgpt", "path": LLM_TRACE}


def recorded_jobs(rec: Recorder) -> Jobs:
    """Arrival and service times (s) of a sealed serve recorder's jobs (see the module docstring)."""
    arrival = np.asarray(rec.arrival_s, dtype=float)
    start = np.asarray(rec.start_s, dtype=float)
    end = np.asarray(rec.end_s, dtype=float)
    status = np.frombuffer(bytes(rec.status), dtype=np.uint8)
    ran = (status == JobStatus.COMPLETED) | (status == JobStatus.FAILED)
    measured = ran & np.isfinite(start) & np.isfinite(end)
    exec_s = np.where(measured, end - start, np.nan)
    fallback = float(np.median(exec_s[measured])) if measured.any() else 0.0
    service = np.where(measured, np.maximum(exec_s, 0.0), fallback)
    if not rec.llm:
        return Jobs(arrival, service)
    tin, tout = (np.asarray(t, dtype=np.int64) for t in (rec.input_tokens, rec.output_tokens))
    return Jobs(arrival, service, tin, tout)


#: the horizon of ``scenario.trace.yaml`` (the recorded traffic loops to fill it) ...
PLAN_HORIZON_S = 3600.0
#: ... unless that many arrivals would be drawn: then as many whole recordings as fit (one at least)
MAX_PLANNED_ARRIVALS = 200_000

#: the search space of ``default_plan`` (24 candidates)
DEFAULT_VARY: dict[str, Any] = {
    "endpoint.active_workers": "0..2",
    "endpoint.max_workers": [1, 2, 3, 5],
    "endpoint.idle_timeout": ["5s", "60s"],
}


def default_plan(summary: dict[str, Any]) -> dict[str, Any]:
    """A ``plan:`` section asking for an endpoint no worse than the recorded run (see the module docstring)."""
    p95 = (summary.get("latency_s") or {}).get("p95")
    slo = ["failed<=0.1%"]
    if p95 is not None and np.isfinite(p95) and p95 > 0:
        ms = float(np.ceil(p95 * 1000.0))  # whole milliseconds, rounded up: the recorded run meets it
        slo.insert(0, f"latency_p95<={ms:g}ms")
    return {"slo": slo, "vary": dict(DEFAULT_VARY), "replications": 2, "max_replications": 4}


def plan_horizon_s(recorded_s: float, jobs: int) -> float:
    """The horizon of ``scenario.trace.yaml`` for ``jobs`` recorded over ``recorded_s`` (module docstring)."""
    recorded_s = max(float(recorded_s), 1.0)
    fit = max(1, MAX_PLANNED_ARRIVALS // max(jobs, 1)) * recorded_s
    return max(recorded_s, min(PLAN_HORIZON_S, fit))


def trace_scenario(
    resolved: dict[str, Any],
    horizon_s: float,
    out_dir: Path,
    plan: dict[str, Any] | None = None,
    jobs: int = 0,
    arrivals: dict[str, Any] | None = None,
) -> Path:
    """Write ``scenario.trace.yaml`` beside ``trace.csv``: ``resolved`` (the run's resolved scenario) with
    the ``jobs`` recorded over ``horizon_s`` as its workload (``arrivals``: the trace to read, default
    ``trace.csv``) and ``plan`` as its ``plan:`` section."""
    sc = dict(resolved)
    workload = dict(sc.get("workload") or {})
    trace = arrivals or {"type": "trace", "path": "trace.csv"}
    workload["arrivals"] = {**trace, "loop": True, "period": float(horizon_s)}
    if arrivals is not None:
        workload.pop("tokens", None)  # the trace gives each request's tokens
    sc["workload"] = workload
    sc["name"] = f"{sc.get('name', 'serve')}-trace"
    sc["horizon"] = plan_horizon_s(horizon_s, jobs)
    header = (
        "# The traffic `simserve serve` recorded (trace.csv: arrival_s, service_s measured per job), as the\n"
        "# workload of the run's scenario; `simserve plan` plans the endpoint for it.\n"
    )
    if plan is not None:
        sc["plan"] = plan
        header += "# plan: the SLOs and search space of `simserve plan` (edit them, or override with --slo / --vary)\n"
    path = out_dir / TRACE_SCENARIO
    write_text(path, header + yaml.safe_dump(sc, sort_keys=False))
    return path
