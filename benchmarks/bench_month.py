"""Memory and time against the number of jobs: ``simserve run scenarios/month-weekly.yaml`` at several
horizons, streamed (``--tables none`` / ``parquet``) and with tables (``csv``), each in its own process
under ``/usr/bin/time`` (wall seconds, peak RSS), plus the engine alone in-process on the same run.

    python benchmarks/bench_month.py --jobs 1e6 26e6 [--tables none parquet] [--engine] [--csv-upto 3e6]
        [--plot benchmarks/month_memory.png] [--json out.json]

The scenario's mean rate is 10 requests/s, so N jobs is a horizon of N / 10 seconds (26M: 30 days).
Prints one row per run: jobs, tables, wall s, peak RSS MB, and for each size the ratio of the CLI's
time to the engine's in-process time (``--engine``) and of each size's peak RSS to the smallest's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "month-weekly.yaml"
RATE_PER_S = 10.0

ENGINE = """
import json, resource, sys, time
import simserve
from simserve.api import simulate
sc = simserve.load_scenario(sys.argv[1], {"horizon": float(sys.argv[2])})
t0 = time.perf_counter()
r = simulate(sc, tables=False)
print(json.dumps({"engine_s": time.perf_counter() - t0, "jobs": r.summary["requests"]["arrived"],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MB, stdout) of a command under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", tf.name, *cmd], capture_output=True, text=True, check=False
        )
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr[-500:]}")
        wall, kb = Path(tf.name).read_text().split()[-2:]
    return float(wall), float(kb) / 1024, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=float, nargs="+", default=[1e6, 26e6])
    ap.add_argument("--tables", nargs="+", default=["none"])
    ap.add_argument("--engine", action="store_true", help="also time the engine alone in-process")
    ap.add_argument("--csv-upto", type=float, default=0.0, help="also run --tables csv up to this many jobs")
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--from-json", type=Path, help="only redraw --plot from an earlier --json")
    a = ap.parse_args()
    rows: list[dict[str, Any]] = []
    if a.from_json:
        rows = json.loads(a.from_json.read_text())
        a.jobs = sorted({r["n"] for r in rows})
    for n in sorted(a.jobs) if not a.from_json else []:
        horizon = n / RATE_PER_S
        modes = list(a.tables) + (["csv"] if n <= a.csv_upto else [])
        for tables in modes:
            with tempfile.TemporaryDirectory() as out:
                cmd = [sys.executable, "-m", "simserve", "run", str(SCENARIO), "--set", f"horizon={horizon}"]
                cmd += ["--tables", tables, "-q", "--no-plots", "--out", out]
                t0 = time.perf_counter()
                wall, rss, _ = timed(cmd)
                summary = json.loads((Path(out) / "summary.json").read_text())
            rows.append(
                {"jobs": summary["requests"]["arrived"], "tables": tables, "wall_s": wall, "rss_mb": rss, "n": n}
            )
            print(f"{rows[-1]['jobs']:>11,} jobs  --tables {tables:<8} {wall:8.1f} s  {rss:8.0f} MB", flush=True)
            del t0
        if a.engine:
            wall, rss, out_text = timed([sys.executable, "-c", ENGINE, str(SCENARIO), str(horizon)])
            e = json.loads(out_text.strip().splitlines()[-1])
            rows.append({"jobs": e["jobs"], "tables": "engine", "wall_s": e["engine_s"], "rss_mb": rss, "n": n})
            print(f"{e['jobs']:>11,} jobs  engine in-process {e['engine_s']:8.1f} s  {rss:8.0f} MB", flush=True)
    by = {(r["n"], r["tables"]): r for r in rows}
    smallest = min(a.jobs)
    for n in sorted(a.jobs):
        for tables in a.tables:
            r = by.get((n, tables))
            if r is None:
                continue
            parts = [f"{r['jobs']:,} jobs --tables {tables}"]
            if (n, "engine") in by:
                parts.append(f"CLI / engine time {r['wall_s'] / by[(n, 'engine')]['wall_s']:.2f}")
            if (smallest, tables) in by:
                base = by[(smallest, tables)]
                parts.append(f"peak RSS / at {base['jobs']:,} jobs {r['rss_mb'] / base['rss_mb']:.2f}")
            print("; ".join(parts))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    if a.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
        for tables in sorted({r["tables"] for r in rows}):
            pts = sorted((r["jobs"], r["rss_mb"], r["wall_s"]) for r in rows if r["tables"] == tables)
            label = "engine alone" if tables == "engine" else f"--tables {tables}"
            ax1.plot([p[0] / 1e6 for p in pts], [p[1] for p in pts], "o-", label=label)
            ax2.plot([p[0] / 1e6 for p in pts], [p[2] for p in pts], "o-", label=label)
        ax1.set(xlabel="jobs (millions)", ylabel="peak RSS (MB)", title="memory")
        ax1.set_ylim(bottom=0)
        ax2.set(xlabel="jobs (millions)", ylabel="wall time (s)", title="time")
        ax1.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(a.plot, dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
