"""Capacity-planner speed: the local pool's speed-up and the smart search's runs.

Cases (issue #5's targets):
  A  a 40-candidate plan run as a grid with a fixed 2 replications (80 tasks) on the local
     pool with 1 process and with 2: wall-clock speed-up (target >= 1.7x on 2 cores). The
     horizon is long enough (default 24 h) that each task costs ~0.2-0.5 s and overhead is
     small; both runs must give the identical ranked table.
  B  the example plans (scenarios/sdxl-bursty.yaml's plan: section; quickstart with a small
     plan): runs the smart search needs against the full grid (valid candidates x initial
     replications, target <= 1/3) and against an exhaustive grid under the same sequential-
     sampling rule, and whether all choose the same configuration.
  C  issue #26's command, `simserve plan scenarios/sdxl-bursty.yaml --set horizon=7d`, run as a
     CLI process with the bound screening off (`--set plan.screen=false`: the search as it was)
     and on, alternately in the same session (the machine is shared: compare the ratio): wall
     time, runs used, candidates screened out, and whether both recommend the same candidate; then
     each mode once more in this process on one core, timed in CPU seconds (less sensitive to the
     other users of a shared machine than wall time).

Usage: python benchmarks/bench_plan.py [--quick] [--repeat N] [--json PATH] [--skip-a|--skip-b|--skip-c]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from simserve import load_scenario
from simserve.plan.executors import LocalExecutor
from simserve.plan.report import ranked_table
from simserve.plan.search import plan
from simserve.planspec import PlanSpec

SDXL = "scenarios/sdxl-bursty.yaml"
QUICKSTART_PLAN = PlanSpec(
    slo=["latency_p95<=6s", "failed<=0.1%"],
    vary={
        "endpoint.active_workers": "0..3",
        "endpoint.max_workers": [3, 5, 10],
        "endpoint.idle_timeout": ["5s", "30s", "120s"],
    },
    replications=3,
    max_replications=9,
)


def case_a(horizon: str, repeat: int) -> dict[str, Any]:
    """Speed-up of the local pool with 2 processes over 1 on a 40-candidate, 80-task grid."""
    sc = load_scenario(SDXL, {"horizon": horizon})
    spec = PlanSpec(
        slo=["latency_p95<=8s"],
        search="grid",
        replications=2,
        max_replications=2,
        vary={
            "endpoint.active_workers": "0..4",
            "endpoint.max_workers": [5, 10],
            "endpoint.idle_timeout": ["5s", "30s", "60s", "120s"],
        },
    )
    times: dict[int, list[float]] = {1: [], 2: []}
    tables = {}
    for _ in range(repeat):
        for procs in (1, 2):
            t0 = time.perf_counter()
            with LocalExecutor(procs) as ex:
                result = plan(sc, spec, executor=ex)
            times[procs].append(time.perf_counter() - t0)
            tables[procs] = ranked_table(result)
    assert len(result.candidates) == 40 and result.runs_used == 80
    same = tables[1].equals(tables[2])
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    return {
        "candidates": 40,
        "tasks": 80,
        "horizon": horizon,
        "one_process_s": t1,
        "two_processes_s": t2,
        "speedup": t1 / t2,
        "task_s": t1 / 80,
        "identical_tables": same,
    }


def case_b(name: str, sc: Any, spec: PlanSpec) -> dict[str, Any]:
    """Runs of the smart search vs the grid on one example plan."""
    out: dict[str, Any] = {"plan": name}
    with LocalExecutor() as ex:
        for mode in ("smart", "grid"):
            t0 = time.perf_counter()
            r = plan(sc, spec.model_copy(update={"search": mode}), executor=ex)
            out[mode] = {
                "runs": r.runs_used,
                "recommended": r.recommended_overrides,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            out["full_grid_runs"] = r.full_grid_runs
    out["same_choice"] = out["smart"]["recommended"] == out["grid"]["recommended"]
    out["smart_vs_full_grid"] = out["smart"]["runs"] / out["full_grid_runs"]
    out["smart_vs_exhaustive"] = out["smart"]["runs"] / out["grid"]["runs"]
    return out


def _cli_plan(horizon: str, screen: bool) -> dict[str, Any]:
    """One `simserve plan` process on sdxl-bursty: wall seconds, runs used, screened, the choice."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "simserve", "plan", SDXL, "--set", f"horizon={horizon}", "--out", out]
        if not screen:
            cmd += ["--set", "plan.screen=false"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        doc = json.loads((Path(out) / "plan.json").read_text())
    rec = doc["recommended"]
    return {
        "seconds": wall,
        "runs": doc["runs_used"],
        "screened": len(doc.get("screened") or []),
        "recommended": None if rec is None else rec["candidate"],
        "cost_per_month": None if rec is None else rec["cost_per_month"][0],
    }


def _cpu_plan(horizon: str, screen: bool) -> dict[str, Any]:
    """The same plan in this process on one core: CPU seconds and runs used."""
    sc = load_scenario(SDXL, {"horizon": horizon})
    assert sc.plan is not None
    t0 = time.process_time()
    with LocalExecutor(1) as ex:
        r = plan(sc, sc.plan.model_copy(update={"screen": screen}), executor=ex)
    return {"cpu_seconds": time.process_time() - t0, "runs": r.runs_used, "recommended": r.recommended}


def case_c(horizon: str, repeat: int) -> dict[str, Any]:
    """The sdxl-bursty plan at ``horizon`` with screening off and on, alternately, ``repeat`` times."""
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for _ in range(repeat):
        for mode in ("off", "on"):
            runs[mode].append(_cli_plan(horizon, mode == "on"))
    out: dict[str, Any] = {"horizon": horizon, "repeat": repeat}
    for mode, rows in runs.items():
        out[mode] = {**rows[-1], "seconds": statistics.median(r["seconds"] for r in rows)}
    out["ratio"] = out["on"]["seconds"] / out["off"]["seconds"]
    out["wall_s"] = {mode: [round(r["seconds"], 1) for r in rows] for mode, rows in runs.items()}
    for mode in ("off", "on"):
        out[mode]["cpu_seconds"] = _cpu_plan(horizon, mode == "on")["cpu_seconds"]
    out["cpu_ratio"] = out["on"]["cpu_seconds"] / out["off"]["cpu_seconds"]
    out["same_choice"] = out["on"]["recommended"] == out["off"]["recommended"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter horizon in case A, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures as JSON")
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-b", action="store_true")
    ap.add_argument("--skip-c", action="store_true")
    args = ap.parse_args()
    report: dict[str, Any] = {}
    if not args.skip_a:
        a = case_a("6h" if args.quick else "24h", 1 if args.quick else args.repeat)
        report["A"] = a
        print(
            f"A  40 candidates, 80 tasks of ~{a['task_s']:.2f} s: 1 process {a['one_process_s']:.1f} s, "
            f"2 processes {a['two_processes_s']:.1f} s -> speed-up {a['speedup']:.2f}x "
            f"(target >= 1.7x); identical tables: {a['identical_tables']}"
        )
    if not args.skip_b:
        sdxl = load_scenario(SDXL)
        rows = [
            case_b("sdxl-bursty (plan: section)", sdxl, sdxl.plan),
            case_b("quickstart + small plan", load_scenario("scenarios/quickstart.yaml"), QUICKSTART_PLAN),
        ]
        report["B"] = rows
        for b in rows:
            print(
                f"B  {b['plan']}: smart {b['smart']['runs']} runs, full grid {b['full_grid_runs']} "
                f"({b['smart_vs_full_grid']:.2f}, target <= 0.33), exhaustive grid {b['grid']['runs']} "
                f"({b['smart_vs_exhaustive']:.2f}); same choice: {b['same_choice']} {b['smart']['recommended']}"
            )
    if not args.skip_c:
        c = case_c("1d" if args.quick else "7d", 1 if args.quick else args.repeat)
        report["C"] = c
        print(
            f"C  sdxl-bursty horizon={c['horizon']} (median of {c['repeat']}): screening off "
            f"{c['off']['seconds']:.1f} s, {c['off']['runs']} runs -> on {c['on']['seconds']:.1f} s, "
            f"{c['on']['runs']} runs, {c['on']['screened']} screened out (time ratio {c['ratio']:.2f}; "
            f"each run {c['wall_s']}); one core, CPU: {c['off']['cpu_seconds']:.1f} -> {c['on']['cpu_seconds']:.1f} s "
            f"(ratio {c['cpu_ratio']:.2f}); same choice: {c['same_choice']} #{c['on']['recommended']}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
