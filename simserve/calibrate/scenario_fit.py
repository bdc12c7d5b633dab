"""Calibrate a scenario from a run: fit its distributions and bandwidths, write valid YAML.

Owns the mapping from what a run measured to scenario fields: cold-start phases (``pull`` ->
``cold_start.registry_bandwidth`` given the image size, ``model_download`` ->
``model.download_bandwidth``, ``model_load`` -> ``model.bandwidth`` given the model size,
``container_start``/``handler_init``/``flashboot_resume`` -> fitted distributions), service
time (completed jobs' ``execution_s``, plus the measured pickup delay when overheads are
folded, since the simulator has no dispatch/polling delay of its own), seed and horizon.
The base scenario's own YAML is kept and only those keys change. An LLM scenario keeps its
``service: {type: llm}``: its engine's ``decode_step`` and ``prefill_tokens_per_s`` are fitted
instead (``llm_fit``; the row of the run's GPU where the scenario gives a table by GPU).
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
from simserve.calibrate.llm_fit import EngineFit, fit_engine, prefill_prior
from simserve.calibrate.measure import cold_start_episodes, overhead_summary, phase_samples, pickup_delays
from simserve.calibrate.replay import requested_service
from simserve.checks import incomplete_note
from simserve.results.outputs import TOKEN_TIMES_FILE, check_out_file, read_csv_checked, read_run
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
    engine: EngineFit | None = None  # an LLM scenario's engine figures

    def header(self) -> str:
        """YAML comment block recording the calibration."""
        lines = [f"Calibrated by `simserve calibrate` from {self.source}."]
        for key, f in self.fits.items():
            lines.append(f"{key}: {f.describe()} (n={f.n}; {f.reason})")
        for key, (bw, n) in self.rates.items():
            lines.append(f"{key}: {bw / 1e6:.4g} MB/s (from {n} samples)")
        if self.engine is not None:
            lines.append(f"workload.service engine: {self.engine.describe()} ({self.engine.source()})")
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


def _run_gpu(sc: Scenario, workers: Any) -> str:
    """The GPU type the run's workers had (the most frequent), else the endpoint's first."""
    if workers is not None and "gpu" in workers.columns:
        gpus = workers["gpu"].astype(str)
        gpus = gpus[gpus != ""]
        if len(gpus):
            return str(gpus.value_counts().index[0])
    return sc.endpoint.gpu[0]


def _set_per_gpu(data: dict[str, Any], dotted: str, gpu: str, value: Any, fields: set[str]) -> None:
    """Set ``dotted`` to ``value``, or only ``gpu``'s row when it holds a table by GPU name."""
    node: Any = data
    for k in dotted.split("."):
        node = node.get(k) if isinstance(node, dict) else None
    if isinstance(node, dict) and not (fields & set(node)):
        row = next((k for k in node if str(k).upper() == gpu.upper()), gpu)
        _set(data, f"{dotted}.{row}", value)
    else:
        _set(data, dotted, value)


def _fit_engine(cal: Calibration, sc: Scenario, run_dir: Path, jobs: Any, workers: Any) -> None:
    """``workload.service.decode_step`` and ``prefill_tokens_per_s`` of an LLM scenario (and
    ``step_cost.per_kv_token`` when its engine pays for context), fitted to the run's chunk times
    (``token_times.csv``) or, without them, to its jobs' first tokens and ends."""
    llm = sc.workload.llm
    assert llm is not None
    gpu = _run_gpu(sc, workers)
    prior = None
    with contextlib.suppress(KeyError):
        p = llm.engine(gpu)
        prior = (p.base_s, p.per_sequence_s, prefill_prior(p.prefill_tokens_per_s), p.per_kv_token_s)
    path = run_dir / TOKEN_TIMES_FILE
    tt = read_csv_checked(path, {"job_id": "id", "t_s": "num"}) if path.is_file() else None
    fit = fit_engine(jobs, tt, prior)
    if fit is None:
        cal.notes.append("workload.service: too few completed requests with token times to fit the engine; kept")
        return
    cal.engine = fit
    step = {"base": f"{fit.base_s * 1e3:.6g}ms", "per_sequence": f"{fit.per_sequence_s * 1e3:.6g}ms"}
    _set_per_gpu(cal.data, "workload.service.decode_step", gpu, step, {"base", "per_sequence"})
    if fit.prefill_tokens_per_s is not None:
        rate = float(f"{min(fit.prefill_tokens_per_s, 1e12):.6g}")
        _set_per_gpu(cal.data, "workload.service.prefill_tokens_per_s", gpu, rate, set())
    else:
        cal.notes.append("workload.service.prefill_tokens_per_s: prefill took no measurable time; kept")
    if fit.per_kv_token_s > 0:  # the engine paid for its decodes' context (the catalog's physics, or a step_cost)
        _set(cal.data, "workload.service.step_cost.per_kv_token", float(f"{fit.per_kv_token_s:.6g}"))


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
    incomplete = incomplete_note(summary, str(run_dir))
    if incomplete is not None:
        cal.notes.append(f"{incomplete}; fitted from the samples it has")
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
    llm = sc.workload.llm
    if llm is not None and jobs is not None and not jobs.empty:
        _fit_engine(cal, sc, Path(run_dir), jobs, workers)
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
        if llm is not None:  # an LLM's times come from its engine (fitted above), not a service distribution
            service = service[:0]
        if fold_overheads and len(delays) and len(service):
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
