"""The traffic a serve run recorded, as a trace the simulator and the planner take.

Owns ``recorded_jobs`` (each job's arrival time and service time: the execution time measured
for a job that ran to its end, completed or failed; for the others, the median of the measured
ones, 0 when none was measured) — ``trace.csv`` in the run directory, ``simserve``'s trace format
(``arrival_s, service_s``), which ``simserve run --replay RUN_DIR`` and ``simserve calibrate``
read with the tables — and ``trace_scenario``: ``scenario.trace.yaml``, the run's scenario with its
workload replaced by that trace (``loop: true``, horizon the recorded span), so ``simserve plan
RUN_DIR/scenario.trace.yaml`` plans the endpoint for the traffic the clients sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simserve.outputs import write_text
from simserve.records import JobStatus, Recorder
from simserve.workload import Jobs

TRACE_SCENARIO = "scenario.trace.yaml"


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
    return Jobs(arrival, service)


def trace_scenario(resolved: dict[str, Any], horizon_s: float, out_dir: Path) -> Path:
    """Write ``scenario.trace.yaml`` beside ``trace.csv``: ``resolved`` (the run's resolved scenario) with
    the recorded trace as its workload."""
    sc = dict(resolved)
    workload = dict(sc.get("workload") or {})
    workload["arrivals"] = {"type": "trace", "path": "trace.csv", "loop": True}
    sc["workload"] = workload
    sc["name"] = f"{sc.get('name', 'serve')}-trace"
    sc["horizon"] = max(float(horizon_s), 1.0)
    header = (
        "# The traffic `simserve serve` recorded (trace.csv: arrival_s, service_s measured per job), as the\n"
        "# workload of the run's scenario; `simserve plan` plans the endpoint for it.\n"
    )
    path = out_dir / TRACE_SCENARIO
    write_text(path, header + yaml.safe_dump(sc, sort_keys=False))
    return path
