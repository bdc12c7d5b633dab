"""Accuracy of the simulator against live runs, after calibration (issue #8's targets).

For each example scenario (shortened to a bounded wall-clock horizon): run it live with the
sleep handler on CPU (process runtime), calibrate the scenario from the live run, then simulate
(a) the uncalibrated scenario, (b) the calibrated one with the same seed (same arrivals and
service draws as the live run) and (c) the calibrated one replaying the live run's exact
arrivals and measured service times plus pickup overheads. Prints a table of p50/p95 latency,
cold-start fraction and billed cost with each simulation's error against live, and checks the
targets: p50/p95 within 10%, cold-start fraction within 5 points, cost within 5%.

    .venv/bin/python benchmarks/bench_accuracy.py [--horizon 120] [--speed 1] [--only quickstart]

Exit code 1 when a target is missed for the replayed calibrated simulation. Writes the runs,
calibrated scenarios, ``results.json`` and a ``compare.html`` per scenario under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    # name -> (scenario file, overrides applied before the live run)
    "quickstart": ("scenarios/quickstart.yaml", {}),
    "lambda-style": ("scenarios/lambda-style.yaml", {"endpoint.idle_timeout": "20s", "endpoint.max_workers": 8}),
}
TARGETS = {"latency_s.p50": 0.10, "latency_s.p95": 0.10, "cost_usd.total": 0.05}
COLD_POINTS = 0.05


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *head, last = dotted.split(".")
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value


def write_base(name: str, horizon_s: float, work: Path) -> Path:
    """The example scenario with the benchmark's overrides, as a YAML file in ``work``."""
    from simserve.scenario import TraceArrivals, load_scenario

    rel, overrides = SCENARIOS[name]
    src = ROOT / rel
    data = yaml.safe_load(src.read_text())
    for k, v in {**overrides, "horizon": f"{horizon_s:g}s", "warmup": "0s", "replications": 1}.items():
        _set(data, k, v)
    sc = load_scenario(src, [f"{k}={v}" for k, v in overrides.items()])
    if isinstance(sc.workload.arrivals, TraceArrivals):
        _set(data, "workload.arrivals.path", str(sc.trace_path().resolve()))
    out = work / "base.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    load_scenario(out)
    return out


def run_live(base: Path, out: Path, speed: float, handler: str = "examples/handlers/sleep.py") -> float:
    """``simserve live`` with ``handler`` (default: the sleep handler); returns wall seconds."""
    t0 = time.monotonic()
    cmd = [
        sys.executable,
        "-m",
        "simserve",
        "live",
        str(base),
        "--handler",
        str(ROOT / handler),
        "--out",
        str(out),
        "--speed",
        repr(speed),
        "-q",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.monotonic() - t0


def figures(summary: dict[str, Any]) -> dict[str, float]:
    return {
        "latency_s.p50": summary["latency_s"]["p50"],
        "latency_s.p95": summary["latency_s"]["p95"],
        "cold_start.fraction": summary["cold_start"]["fraction"],
        "cost_usd.total": summary["cost_usd"]["total"],
    }


def errors(live: dict[str, float | None], sim: dict[str, float | None]) -> dict[str, float]:
    """Relative errors (sim - live) / live; cold-start fraction as a difference in points (nan: missing)."""

    def rel(a: float | None, b: float | None) -> float:
        if a is None or b is None:
            return math.nan
        return (b - a) / a if a else float(b != a) * math.inf

    out = {k: rel(live[k], sim[k]) for k in TARGETS}
    a, b = live["cold_start.fraction"], sim["cold_start.fraction"]
    out["cold_start.fraction"] = math.nan if a is None or b is None else b - a
    return out


def within(err: dict[str, float]) -> bool:
    """All targets met (a missing figure misses its target)."""
    return all(abs(err[k]) <= t for k, t in TARGETS.items()) and abs(err["cold_start.fraction"]) <= COLD_POINTS


def bench_one(
    name: str, horizon_s: float, speed: float, root: Path, handler: str = "examples/handlers/sleep.py"
) -> dict[str, Any]:
    from simserve.api import simulate
    from simserve.calibrate import calibrate_run, load_replay, write_calibrated
    from simserve.compare import write_compare
    from simserve.results.outputs import read_run, write_run

    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    base = write_base(name, horizon_s, work)
    live_dir = work / "live"
    wall = run_live(base, live_dir, speed, handler)
    live = read_run(live_dir)["summary"]
    seed, horizon = int(live["seed"]), float(live["horizon_s"])
    cal = calibrate_run(live_dir, base)
    cal_sc = write_calibrated(cal, work / "calibrated.yaml")
    variants = {
        "sim (uncalibrated)": simulate(str(base), seed=seed, overrides={"horizon": horizon}),
        "sim (calibrated)": simulate(cal_sc, seed=seed),
        "sim (calibrated, replay)": simulate(cal_sc, seed=seed, jobs=load_replay(live_dir, fold_overheads=True)),
    }
    rows: dict[str, Any] = {"live": {"figures": figures(live)}}
    for label, res in variants.items():
        write_run(work / label.replace(" ", "_").replace("(", "").replace(")", "").replace(",", ""), res)
        f = figures(res.summary)
        rows[label] = {"figures": f, "errors": errors(rows["live"]["figures"], f)}
        rows[label]["ok"] = within(rows[label]["errors"])
    write_compare(live_dir, work / "sim_calibrated_replay", work / "compare")
    return {
        "scenario": name,
        "horizon_s": horizon,
        "live_wall_s": wall,
        "jobs": live["requests"]["arrived"],
        "fits": {k: f.describe() for k, f in cal.fits.items()},
        "notes": cal.notes,
        "overheads": cal.overheads,
        "rows": rows,
    }


def _f(v: float | None, form: str) -> str:
    return "-" if v is None else form.format(v)


def print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="simulated vs live (process runtime, CPU)")
    for col in (
        "scenario",
        "run",
        "p50 s",
        "p95 s",
        "cold %",
        "cost $",
        "err p50",
        "err p95",
        "Δcold pts",
        "err cost",
        "targets",
    ):
        t.add_column(col, justify="left" if col in ("scenario", "run") else "right")
    for r in results:
        for label, row in r["rows"].items():
            f, e = row["figures"], row.get("errors")
            errs = (
                ["", "", "", ""]
                if e is None
                else [
                    f"{100 * e['latency_s.p50']:+.1f}%",
                    f"{100 * e['latency_s.p95']:+.1f}%",
                    f"{100 * e['cold_start.fraction']:+.1f}",
                    f"{100 * e['cost_usd.total']:+.1f}%",
                ]
            )
            ok = "" if e is None else ("[green]met[/green]" if row["ok"] else "[red]missed[/red]")
            t.add_row(
                r["scenario"],
                label,
                _f(f["latency_s.p50"], "{:.3f}"),
                _f(f["latency_s.p95"], "{:.3f}"),
                _f(f["cold_start.fraction"], "{:.1%}"),
                _f(f["cost_usd.total"], "{:.4f}"),
                *errs,
                ok,
            )
    Console(width=150).print(t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", type=float, default=120.0, help="scenario seconds per live run")
    ap.add_argument("--speed", type=float, default=1.0, help="scenario seconds per wall second (live)")
    ap.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="scenario(s) to run")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_accuracy")
    ap.add_argument(
        "--handler",
        default="examples/handlers/sleep.py",
        help="handler file, relative to the repository (e.g. examples/handlers/runpod_sdk.py)",
    )
    args = ap.parse_args()
    results = [bench_one(n, args.horizon, args.speed, args.out, args.handler) for n in (args.only or list(SCENARIOS))]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(results)
    for r in results:
        for note in r["notes"]:
            print(f"{r['scenario']}: {note}")
        o = r["overheads"].get("all")
        if o:
            print(
                f"{r['scenario']}: live pickup delay mean {o['mean_s']:.4f} s, p95 {o['p95_s']:.4f} s "
                f"(folded into the replayed service times)"
            )
    print(f"wrote {args.out}/results.json and <scenario>/compare/compare.html")
    return 0 if all(r["rows"]["sim (calibrated, replay)"]["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
