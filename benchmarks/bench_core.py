"""Issue #11 "Speed is kept": simserve's CPU time against a heapq yardstick and against a git ref.

Cases (bench_sim.py's, same parameters; ``--quick`` scales them by 0.1):
  A  per_request on SimFaaS's workload: lambda 0.9/s, 1.99 s exponential service, 0.02 s cold
     start, 600 s idle timeout, horizon 1e6 s (~900k arrivals)
  B  per_request with ~1000 workers alive: lambda 500/s, 2 s service, 0.5 s cold start, 60 s
     idle timeout, horizon 2000 s (~1M arrivals)
  C  M/M/8 at rho 0.8, active workers only, 1M jobs

Two ratios, CPU time (``time.process_time``), ``--repeat`` paired runs, median reported:
  simserve / heapq   in this process: ``simserve.simulate(sc, seed=1)`` timed as bench_sim.py
                     times it (draws, engine, tables, billing, summary) against the loop of the
                     same model in ``heapq_model.py`` (jobs drawn by simserve's generator before
                     the clock starts; the loop records per-job columns and computes the same
                     three figures). Target: <= 1.5. The first run of each case also checks the
                     loop against simserve job for job (start, end, status, worker, cold flag).
  current / baseline with ``--baseline REF``: the same simserve timing in fresh subprocesses, one
                     with the simserve under test on PYTHONPATH, one with a ``git worktree`` of
                     REF at /tmp/simserve-base; each repeat runs both, in alternating order
                     (ABBA). Target: <= 1.3. Also reports each side's peak RSS per case (VmHWM,
                     reset before each case) and whether the two runs' figures agree.

The simserve under test is this working tree, or ``--current REF`` (a worktree at
/tmp/simserve-current). Scenario files are read from the tree under test for both sides.

Usage: python benchmarks/bench_core.py [--quick] [--repeat N] [--cases ABC] [--current REF]
                                       [--baseline REF] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKTREES = {
    "current": Path("/tmp/simserve-current"),  # noqa: S108 - scratch git worktrees of this benchmark
    "baseline": Path("/tmp/simserve-base"),  # noqa: S108
}
CASE_NAMES = {"A": "per_request, SimFaaS workload", "B": "per_request, ~1000 workers", "C": "M/M/8, active only"}


# ------------------------------------------------------------------------------ cases (need simserve)
def scenario(case: str, k: float, root: Path) -> Any:
    """Case ``case`` at scale ``k``, built exactly as bench_sim.py builds it."""
    import simserve

    if case in "AB":
        rate, service, horizon, expiration, cold = (
            (0.9, 1.99, 1e6 * k, 600, 0.02) if case == "A" else (500, 2.0, 400 * k * 5, 60, 0.5)
        )
        return simserve.load_scenario(
            str(root / "scenarios" / "lambda-style.yaml"),
            {
                "horizon": horizon,
                "workload.arrivals": {"type": "poisson", "rate": rate},
                "workload.service": {"dist": "exponential", "mean": service},
                "endpoint.idle_timeout": expiration,
                "cold_start.handler_init": cold,
                "endpoint.max_workers": 5000,
            },
        )
    n_jobs, c, rho = int(1_000_000 * k), 8, 0.8
    lam = rho * c
    return simserve.load_scenario(
        {
            "name": "mmc",
            "horizon": n_jobs / lam,
            "endpoint": {
                "gpu": "A4000",
                "active_workers": c,
                "max_workers": c,
                "extra_workers": 0,
                "scaler": {"type": "queue_delay", "value": 1e9},
                "scaler_interval": 1e9,
            },
            "cold_start": {"image_size": 0, "container_start": 0, "handler_init": 0},
            "workload": {"arrivals": {"type": "poisson", "rate": lam}, "service": {"dist": "exponential", "mean": 1.0}},
        }
    )


def figures(summary: dict[str, Any]) -> dict[str, float]:
    return {
        "p_cold": summary["cold_start"]["fraction"],
        "mean_latency_s": summary["latency_s"]["mean"],
        "mean_alive": summary["workers"]["mean_alive"],
        "arrived": summary["requests"]["arrived"],
    }


ENGINE_ONLY = False  # --engine: time the engine and its recorder only (jobs drawn beforehand), no tables


def time_simserve(sc: Any) -> tuple[float, Any]:
    import simserve

    if ENGINE_ONLY:
        from simserve.results.result import build_result
        from simserve.rng import RandomStreams
        from simserve.sim import simulate_tables
        from simserve.workload import generate

        jobs = generate(sc, RandomStreams(1))
        t = time.process_time()
        rec = simulate_tables(sc, 1, jobs=jobs)
        dt = time.process_time() - t
        return dt, build_result(sc, 1, rec)
    t = time.process_time()
    r = simserve.simulate(sc, seed=1)
    return time.process_time() - t, r


def peak_rss_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def use_simserve(root: Path) -> None:
    """Import simserve from ``root`` (ahead of the venv's editable install) and check that it did."""
    sys.path.insert(0, str(root))
    import simserve

    got = Path(simserve.__file__).resolve()
    if not got.is_relative_to(root.resolve()):
        raise SystemExit(f"simserve imported from {got}, not from {root}")


# ------------------------------------------------------------------------------------ worker mode
def worker_main(args: argparse.Namespace) -> None:
    """One subprocess run: time simserve on each case once, print JSON on the last line."""
    global ENGINE_ONLY  # noqa: PLW0603 - set once from the command line
    ENGINE_ONLY = args.engine
    use_simserve(Path(args.root))
    scen_root = Path(args.scenario_root)
    # a small run first, untimed: the imports and first-call set-up that simulate() does once a process (pandas,
    # the sketches, lazily imported modules) would otherwise be charged to the first case timed, on each side
    time_simserve(scenario(args.cases[0], 0.001, scen_root))
    out: dict[str, Any] = {}
    for case in args.cases:
        sc = scenario(case, args.scale, scen_root)
        peak_rss_reset()
        cpu, r = time_simserve(sc)
        out[case] = {"cpu_s": cpu, "peak_rss_mb": peak_rss_mb(), **figures(r.summary)}
        del r
    print(json.dumps(out))


def run_worker(root: Path, scen_root: Path, cases: str, k: float) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--root",
        str(root),
        "--scenario-root",
        str(scen_root),
        "--cases",
        cases,
        "--scale",
        repr(k),
        *(["--engine"] if ENGINE_ONLY else []),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(root), check=False)
    if out.returncode:
        raise SystemExit(f"worker for {root} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def worktree(ref: str, path: Path) -> Path:
    """A detached worktree of ``ref`` at ``path`` (reused and moved to ``ref`` if it exists)."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if (path / ".git").exists():
        subprocess.run(["git", "-C", str(path), "checkout", "--quiet", "--detach", sha], check=True)
    else:
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--quiet", "--detach", str(path), sha], check=True)
    return path


# ---------------------------------------------------------------------------------- measurements
def yardstick(case: str, sc: Any, rows: bool = False) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    """The heapq loop of ``case`` and its parameters; ``rows``: the variant that also writes the worker
    state intervals simserve writes (the fair yardstick)."""
    import heapq_model as hm

    if case in "AB":
        if rows:
            return hm.per_request_loop_rows, hm.per_request_row_params(sc)
        return hm.per_request_loop, hm.per_request_params(sc)
    return (hm.mmc_loop_rows if rows else hm.mmc_loop), hm.mmc_params(sc)


def same_intervals(r: Any, h: dict[str, Any]) -> bool:
    """Whether the yardstick's rows are simserve's worker intervals (worker, state, phase, start, end)."""
    import numpy as np

    w = r.workers
    mine = np.column_stack(
        [
            w["worker_id"].to_numpy(dtype=float),
            w["state"].cat.codes.to_numpy(dtype=float),
            w["phase"].cat.codes.to_numpy(dtype=float),
            w["start_s"].to_numpy(),
            w["end_s"].to_numpy(),
        ]
    )
    return bool(np.array_equal(mine, h["intervals"][:, :5]))


def check_jobs(r: Any, h: dict[str, Any]) -> dict[str, Any]:
    """Job-for-job comparison of simserve's jobs table with the yardstick's columns; figure gaps."""
    import numpy as np

    jobs, hj = r.jobs, h["jobs"]
    same = {}
    for col in ("start_s", "end_s", "worker_id", "cold_start"):
        a, b = jobs[col].to_numpy(), hj[col]
        same[col] = bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    same["status"] = bool(np.array_equal(jobs["status"].cat.codes.to_numpy(), hj["status"].astype(np.int8)))
    fs = figures(r.summary)
    rel = {
        k: abs(fs[k] - h[k]) / abs(fs[k]) if fs[k] else abs(h[k]) for k in ("p_cold", "mean_latency_s", "mean_alive")
    }
    return {
        "identical_columns": same,
        "rel_diff": rel,
        "simserve": fs,
        "heapq": {k: h[k] for k in ("p_cold", "mean_latency_s", "mean_alive", "arrived")},
    }


def vs_heapq(case: str, k: float, root: Path, repeat: int) -> dict[str, Any]:
    sc = scenario(case, k, root)
    import heapq_model as hm

    t = time.process_time()
    arr, svc = hm.draw_jobs(sc, 1)
    draw_s = time.process_time() - t
    loop, params = yardstick(case, sc)
    loop_rows, params_rows = yardstick(case, sc, rows=True)
    sims, loops, rowloops, ratios, ratios_rows, check = [], [], [], [], [], None
    for i in range(repeat):
        order = ("sim", "heapq", "rows") if i % 2 == 0 else ("rows", "heapq", "sim")
        got: dict[str, Any] = {}
        for side in order:
            if side == "sim":
                got["sim"] = time_simserve(sc)
            else:
                fn, kw = (loop, params) if side == "heapq" else (loop_rows, params_rows)
                t = time.process_time()
                h = fn(arr, svc, **kw)
                got[side] = (time.process_time() - t, h)
        if check is None:
            check = check_jobs(got["sim"][1], got["heapq"][1])
            check["rows_jobs_same"] = check_jobs(got["sim"][1], got["rows"][1])["identical_columns"]
            check["rows_intervals_same"] = same_intervals(got["sim"][1], got["rows"][1])
        sims.append(got["sim"][0])
        loops.append(got["heapq"][0])
        rowloops.append(got["rows"][0])
        ratios.append(got["sim"][0] / got["heapq"][0])
        ratios_rows.append(got["sim"][0] / got["rows"][0])
        got.clear()
    n = len(arr)
    return {
        "jobs": n,
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "ratio_rows": statistics.median(ratios_rows),
        "ratios_rows": ratios_rows,
        "simserve_cpu_s": statistics.median(sims),
        "heapq_cpu_s": statistics.median(loops),
        "heapq_rows_cpu_s": statistics.median(rowloops),
        "simserve_us_per_job": statistics.median(sims) / n * 1e6,
        "heapq_us_per_job": statistics.median(loops) / n * 1e6,
        "heapq_rows_us_per_job": statistics.median(rowloops) / n * 1e6,
        "draw_cpu_s": draw_s,
        "check": check,
    }


def vs_baseline(cur: Path, base: Path, scen_root: Path, cases: str, k: float, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"current": [], "baseline": []}
    for i in range(repeat):
        order = (("current", cur), ("baseline", base)) if i % 2 == 0 else (("baseline", base), ("current", cur))
        for side, root in order:
            runs[side].append(run_worker(root, scen_root, cases, k))
    out: dict[str, Any] = {}
    for case in cases:
        c = [r[case] for r in runs["current"]]
        b = [r[case] for r in runs["baseline"]]
        ratios = [x["cpu_s"] / y["cpu_s"] for x, y in zip(c, b, strict=True)]
        same = all(
            math.isclose(c[0][f], b[0][f], rel_tol=1e-9, abs_tol=1e-12)
            for f in ("p_cold", "mean_latency_s", "mean_alive", "arrived")
        )
        out[case] = {
            "ratio": statistics.median(ratios),
            "ratios": ratios,
            "current_cpu_s": statistics.median(x["cpu_s"] for x in c),
            "baseline_cpu_s": statistics.median(y["cpu_s"] for y in b),
            "current_us_per_job": statistics.median(x["cpu_s"] for x in c) / c[0]["arrived"] * 1e6,
            "baseline_us_per_job": statistics.median(y["cpu_s"] for y in b) / b[0]["arrived"] * 1e6,
            "current_peak_rss_mb": max(x["peak_rss_mb"] for x in c),
            "baseline_peak_rss_mb": max(y["peak_rss_mb"] for y in b),
            "same_figures": same,
            "current_figures": {f: c[0][f] for f in ("p_cold", "mean_latency_s", "mean_alive")},
            "baseline_figures": {f: b[0][f] for f in ("p_cold", "mean_latency_s", "mean_alive")},
        }
    return out


def git_desc(root: Path) -> str:
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "simserve"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return head + ("+dirty simserve/" if dirty else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="cases 10x smaller")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cases", default="ABC")
    ap.add_argument("--current", metavar="REF", help="measure simserve at REF (worktree) instead of this working tree")
    ap.add_argument("--baseline", metavar="REF", help="also measure current / REF in paired subprocesses")
    ap.add_argument("--no-heapq", action="store_true", help="skip the simserve / heapq ratios")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument(
        "--engine", action="store_true", help="time the engine and recorder only (jobs drawn first), not the tables"
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--scenario-root", help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    global ENGINE_ONLY  # noqa: PLW0603 - set once from the command line
    ENGINE_ONLY = args.engine
    if args.worker:
        worker_main(args)
        return
    k = 0.1 if args.quick else 1.0
    t0 = time.monotonic()
    cur = worktree(args.current, WORKTREES["current"]) if args.current else REPO
    use_simserve(cur)
    out: dict[str, Any] = {
        "scale": k,
        "repeat": args.repeat,
        "current": {"root": str(cur), "rev": git_desc(cur)},
        "python": sys.version.split()[0],
        "cases": {},
    }
    if not args.no_heapq:
        for case in args.cases:
            out["cases"].setdefault(case, {})["vs_heapq"] = vs_heapq(case, k, cur, args.repeat)
    if args.baseline:
        base = worktree(args.baseline, WORKTREES["baseline"])
        out["baseline"] = {"ref": args.baseline, "root": str(base), "rev": git_desc(base)}
        for case, v in vs_baseline(cur, base, cur, args.cases, k, args.repeat).items():
            out["cases"].setdefault(case, {})["vs_baseline"] = v
    out["wall_s"] = time.monotonic() - t0
    print_table(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")


def print_table(out: dict[str, Any]) -> None:
    base = out.get("baseline")
    print(
        f"simserve {out['current']['rev']} ({out['current']['root']}), scale {out['scale']}, "
        f"{out['repeat']} paired repeats, CPU time, medians"
        + (f"; baseline {base['ref']} = {base['rev']}" if base else "")
    )
    head = (
        f"{'case':<32} {'jobs':>8} {'sim us/job':>10} {'heapq us/job':>12} {'sim/heapq':>9} {'(<=1.5)':>7} {'exact':>5}"
        f" {'+rows us/job':>12} {'sim/+rows':>9} {'rows exact':>10}"
    )
    if base:
        head += (
            f" {'base us/job':>11} {'cur/base':>8} {'(<=1.3)':>7} {'min-max':>11} {'RSS cur/base MB':>16} {'same':>4}"
        )
    print(head)
    for case, v in out["cases"].items():
        h, b = v.get("vs_heapq"), v.get("vs_baseline")
        line = f"{case + ' ' + CASE_NAMES[case]:<32}"
        if h:
            exact = all(h["check"]["identical_columns"].values())
            rows_exact = h["check"]["rows_intervals_same"] and all(h["check"]["rows_jobs_same"].values())
            line += (
                f" {h['jobs']:>8} {h['simserve_us_per_job']:>10.2f} {h['heapq_us_per_job']:>12.2f} "
                f"{h['ratio']:>9.2f} {'ok' if h['ratio'] <= 1.5 else 'MISS':>7} {'yes' if exact else 'NO':>5}"
                f" {h['heapq_rows_us_per_job']:>12.2f} {h['ratio_rows']:>9.2f} {'yes' if rows_exact else 'NO':>10}"
            )
        else:
            line += f" {'':>8} {'':>10} {'':>12} {'':>9} {'':>7} {'':>5} {'':>12} {'':>9} {'':>10}"
        if b:
            line += (
                f" {b['baseline_us_per_job']:>11.2f} {b['ratio']:>8.3f} "
                f"{'ok' if b['ratio'] <= 1.3 else 'MISS':>7} "
                f"{min(b['ratios']):>5.2f}-{max(b['ratios']):<5.2f} "
                f"{b['current_peak_rss_mb']:>7.0f}/{b['baseline_peak_rss_mb']:<8.0f} "
                f"{'yes' if b['same_figures'] else 'NO':>4}"
            )
        print(line)
    print(f"wall {out['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
