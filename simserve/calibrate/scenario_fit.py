"""Calibrate a scenario from a run: fit its distributions and bandwidths, write valid YAML.

Owns the mapping from what a run measured to scenario fields: cold-start phases (``pull`` ->
``cold_start.registry_bandwidth`` given the image size, ``model_download`` ->
``model.download_bandwidth``, ``model_load`` -> ``model.bandwidth`` given the model size,
``container_start``/``handler_init``/``flashboot_resume`` -> fitted distributions), service
time (completed jobs' ``execution_s``, plus the measured pickup delay when overheads are
folded, since the simulator has no dispatch/polling delay of its own), seed and horizon.
The base scenario's own YAML is kept and only those keys change.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simserve.calibrate.fit import Fit, fit_duration
from simserve.calibrate.measure import cold_start_episodes, overhead_summary, phase_samples, pickup_delays
from simserve.calibrate.replay import requested_service
from simserve.outputs import check_out_file, read_run
from simserve.scenario import Scenario, TraceArrivals, load_scenario

#: cold-start phases fitted as distributions, and the scenario key each one sets
DIST_PHASES = {
    "container_start": "cold_start.container_start",
    "handler_init": "cold_start.handler_init",
    "flashboot_resume": "cold_start.flashboot_resume",
}


@dataclass
class Calibration:
    """A calibrated scenario (``data``: the YAML mapping) and how each figure was obtained."""

    data: dict[str, Any]
    fits: dict[str, Fit] = field(default_factory=dict)  # scenario key -> fitted distribution
    rates: dict[str, tuple[float, int]] = field(default_factory=dict)  # key -> (bytes/s, samples)
    overheads: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = ""

    def header(self) -> str:
        """YAML comment block recording the calibration."""
        lines = [f"Calibrated by `simserve calibrate` from {self.source}."]
        for key, f in self.fits.items():
            lines.append(f"{key}: {f.describe()} (n={f.n}; {f.reason})")
        for key, (bw, n) in self.rates.items():
            lines.append(f"{key}: {bw / 1e6:.4g} MB/s (from {n} samples)")
        for kind, o in self.overheads.items():
            what = "execution_s minus requested service" if kind == "in_execution" else f"pickup delay [{kind}]"
            lines.append(f"{what}: mean {o['mean_s']:.4g} s, p95 {o['p95_s']:.4g} s (n={o['n']})")
        lines += self.notes
        return "".join(f"# {line}\n" for line in lines)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    keys = dotted.split(".")
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value


def _raw(base: str | Path | dict[str, Any]) -> tuple[dict[str, Any], Scenario]:
    if isinstance(base, dict):
        return copy.deepcopy(base), load_scenario(base)
    sc = load_scenario(base)
    data = yaml.safe_load(Path(base).read_text())
    arrivals = sc.workload.arrivals
    if isinstance(arrivals, TraceArrivals):  # keep the trace findable from wherever the output goes
        _set(data, "workload.arrivals.path", str(sc.trace_path().resolve()))
    return data, sc


def _rate(cal: Calibration, key: str, size_bytes: float, durations: np.ndarray | None, what: str) -> None:
    if durations is None or len(durations) == 0:
        return
    mean = float(np.mean(durations))
    if size_bytes <= 0 or mean <= 0:
        cal.notes.append(f"{what}: measured mean {mean:.4g} s but the scenario's size is 0; not fitted")
        return
    bw = size_bytes / mean
    _set(cal.data, key, f"{bw / 1e6:.6g}MB/s")
    cal.rates[key] = (bw, len(durations))


def _missing_phases(cal: Calibration, sc: Scenario, workers: Any) -> None:
    """Switch off what the scenario models but the run never did (FlashBoot, model download)."""
    if workers is None or workers.empty:
        return
    ep = cold_start_episodes(workers)
    if ep.empty:
        return
    restarts = ep[ep["restart"] & ~ep["pull"]]
    if sc.endpoint.flashboot and len(restarts) and not ep["flashboot_resume"].any():
        _set(cal.data, "endpoint.flashboot", False)
        cal.notes.append(
            f"endpoint.flashboot: false: the run restarted workers {len(restarts)} times, never with a FlashBoot resume"
        )
    model = sc.cold_start.model
    if model.placement == "cached" and model.size > 0 and ep["pull"].any() and not ep["model_download"].any():
        _set(cal.data, "cold_start.model.download_bandwidth", f"{model.size / 1e-3 / 1e6:.6g}MB/s")
        cal.notes.append(
            "cold_start.model.download_bandwidth: the run never downloaded the model on a first "
            "start; the download is made negligible (1 ms)"
        )


def calibrate_run(
    run_dir: str | Path,
    base: str | Path | dict[str, Any],
    *,
    fold_overheads: bool = True,
    set_horizon: bool = True,
    **fit_options: Any,
) -> Calibration:
    """Fit ``base`` (a scenario path or dict) to the run in ``run_dir``.

    ``fold_overheads`` adds each completed job's pickup delay to its service sample (the
    simulator starts a job the instant a worker is free). ``set_horizon`` copies the run's
    horizon and seed. ``fit_options`` go to ``fit_duration``.
    """
    run = read_run(run_dir)
    data, sc = _raw(base)
    cal = Calibration(data=data, source=str(run_dir))
    summary, jobs, workers = run["summary"], run["jobs"], run["workers"]
    horizon = float(summary.get("horizon_s") or sc.horizon)
    phases = phase_samples(workers, horizon) if workers is not None else {}
    cs = sc.cold_start
    image_bytes = cs.image_size + (cs.model.size if cs.model.placement == "baked" else 0.0)
    _rate(cal, "cold_start.registry_bandwidth", image_bytes, phases.get("pull"), "pull")
    _rate(cal, "cold_start.model.download_bandwidth", cs.model.size, phases.get("model_download"), "model_download")
    _rate(cal, "cold_start.model.bandwidth", cs.model.size, phases.get("model_load"), "model_load")
    _missing_phases(cal, sc, workers)
    for phase, key in DIST_PHASES.items():
        f = fit_duration(phases.get(phase, []), **fit_options)
        if f is not None:
            cal.fits[key] = f
            _set(cal.data, key, f.spec)
    if jobs is not None and not jobs.empty:
        delays = pickup_delays(jobs, workers)
        cal.overheads = overhead_summary(delays)
        done = jobs[(jobs["status"].astype(str) == "completed") & jobs["execution_s"].notna()]
        requested = requested_service(Path(run_dir), jobs)
        if requested is not None and len(done):  # what the handler was asked for vs what was measured
            extra = done["execution_s"].to_numpy(float) - requested[done.index.to_numpy()]
            cal.overheads["in_execution"] = {
                "n": len(extra),
                "mean_s": float(extra.mean()),
                "p50_s": float(np.percentile(extra, 50)),
                "p95_s": float(np.percentile(extra, 95)),
            }
        service = done["execution_s"].to_numpy(float)
        if fold_overheads and len(delays):
            d = delays.set_index("job_id")["delay_s"].reindex(done["job_id"]).fillna(0.0).to_numpy(float)
            service = service + d
            if cal.overheads.get("all", {}).get("mean_s", 0.0) > 0:
                cal.notes.append("service includes each job's pickup delay (the simulator has no dispatch delay)")
        f = fit_duration(service, **fit_options)
        if f is not None:
            cal.fits["workload.service"] = f
            _set(cal.data, "workload.service", f.spec)
    if set_horizon:
        if horizon > 0 and not math.isclose(horizon, sc.horizon):
            _set(cal.data, "horizon", float(f"{horizon:.9g}"))
            if sc.warmup >= horizon:
                _set(cal.data, "warmup", 0.0)
        if summary.get("seed") is not None:
            _set(cal.data, "seed", int(summary["seed"]))
    cal.data["name"] = f"{sc.name}-calibrated" if not sc.name.endswith("-calibrated") else sc.name
    cal.data.pop("base_dir", None)
    return cal


def write_calibrated(cal: Calibration, out_path: str | Path) -> Scenario:
    """Write the calibrated YAML and return it validated (``ScenarioError`` if it is not).

    ``OutPathError`` (one line) when ``out_path`` cannot be written; nothing is left behind when
    writing or validating fails."""
    out = check_out_file(out_path)
    text = cal.header() + yaml.safe_dump(cal.data, sort_keys=False, default_flow_style=None, width=100)
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        sc = load_scenario(tmp)
        tmp.replace(out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return sc


__all__ = ["DIST_PHASES", "Calibration", "calibrate_run", "write_calibrated"]
