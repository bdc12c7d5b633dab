"""Fitting the simulator to a run: replay its workload, or calibrate a scenario from it.

``load_replay(run_dir)`` gives the run's exact arrival and measured service times as
``Jobs`` (what ``simserve run --replay`` uses); ``calibrate_run`` fits a scenario's
cold-start phases, service time and pickup overheads to a run, choosing each distribution
family by goodness of fit (``fit_duration``), and ``write_calibrated`` writes it as a valid
scenario YAML. Library code only: no printing.
"""

from __future__ import annotations

from simserve.calibrate.fit import Fit, fit_duration
from simserve.calibrate.measure import overhead_summary, phase_samples, pickup_delays
from simserve.calibrate.replay import load_replay, replay_jobs
from simserve.calibrate.scenario_fit import Calibration, calibrate_run, write_calibrated

__all__ = [
    "Calibration",
    "Fit",
    "calibrate_run",
    "fit_duration",
    "load_replay",
    "overhead_summary",
    "phase_samples",
    "pickup_delays",
    "replay_jobs",
    "write_calibrated",
]
