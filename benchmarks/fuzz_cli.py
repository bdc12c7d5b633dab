"""Fuzz the command line as a user meets it: generated malformed and extreme scenarios through
``simserve validate`` and ``simserve run`` in real subprocesses, each under a wall-clock and an
address-space bound, with the figures the closing note of #12 quotes.

    python benchmarks/fuzz_cli.py --cases 500 --seed 1 [--jobs 2] [--timeout-s 60] [--memory-gb 6]

Cases come from ``tests/fuzz/fuzz_inputs.py`` (half schema-level, half file-level mutations of
the quickstart). Each accepted scenario runs with ``--set max_arrivals=N`` (default 100,000) so
that a run that does not end is a hang, not a large legitimate job. Prints one line per failure
(a traceback, an exit code other than 0 or 2, an error of more than one line, a bound hit, or
``validate`` and ``run`` disagreeing) and a summary; exits 1 when there was any failure.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import importlib.util
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fuzz_inputs", ROOT / "tests" / "fuzz" / "fuzz_inputs.py")
assert _spec is not None and _spec.loader is not None
fuzz_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_inputs)
dump, file_cases, schema_cases = fuzz_inputs.dump, fuzz_inputs.file_cases, fuzz_inputs.schema_cases


def draw_cases(n: int, seed: int) -> list[tuple[str, bytes]]:
    """``n`` cases, alternating schema-level and file-level, reproducible from ``seed``."""
    out: list[tuple[str, bytes]] = []
    for kind, strategy in (("schema", schema_cases().map(dump)), ("file", file_cases())):
        got: list[bytes] = []

        @settings(
            max_examples=(n + 1) // 2,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(case: bytes) -> None:
            got.append(case)  # noqa: B023 - collect runs before the loop moves on

        random.seed(seed)
        collect()
        out += [(kind, c) for c in got]
    return out[:n]


def _limit(memory_b: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_b, memory_b))


def run_case(
    index: int, kind: str, content: bytes, timeout_s: float, memory_b: int, max_arrivals: int
) -> dict[str, Any]:
    """Validate then run one case in subprocesses; what happened, as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"case{index}.yaml"
        path.write_bytes(content)
        result: dict[str, Any] = {"index": index, "kind": kind, "problems": []}
        cmds = {
            "validate": ["validate", str(path)],
            "run": [
                "run",
                str(path),
                "-r",
                "1",
                "-q",
                "--no-plots",
                "--out",
                f"{tmp}/out",
                "--set",
                f"max_arrivals={max_arrivals}",
            ],
        }
        for name, args in cmds.items():
            t0 = time.perf_counter()
            try:
                p = subprocess.run(
                    [sys.executable, "-m", "simserve", *args],
                    check=False,
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=timeout_s,
                    preexec_fn=lambda: _limit(memory_b),
                    cwd=ROOT,
                )
            except subprocess.TimeoutExpired:
                result[name] = "hang"
                result["problems"].append(f"{name}: no exit within {timeout_s:g} s")
                break
            result[name] = p.returncode
            result[f"{name}_s"] = time.perf_counter() - t0
            err = p.stderr.strip()
            if "Traceback" in err or "Exception ignored" in err:
                result["problems"].append(f"{name}: traceback: {err.splitlines()[-1][:160]}")
            if p.returncode not in (0, 2):
                result["problems"].append(f"{name}: exit {p.returncode}")
            if p.returncode == 2 and len(err.splitlines()) != 1:
                result["problems"].append(f"{name}: {len(err.splitlines())} lines on stderr")
            if p.returncode == 2:
                result[f"{name}_error"] = err.splitlines()[-1][:200] if err else ""
        if result.get("validate") == 0 and result.get("run") == 2 and "max_arrivals" not in result.get("run_error", ""):
            result["problems"].append(f"validate accepted, run refused: {result.get('run_error')}")
        if result.get("validate") == 2 and result.get("run") == 0:
            result["problems"].append("validate refused, run succeeded")
        return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout-s", type=float, default=60.0)
    ap.add_argument("--memory-gb", type=float, default=6.0)
    ap.add_argument("--max-arrivals", type=int, default=100_000)
    ap.add_argument("--save-failures", type=Path, default=None, help="directory to keep failing cases in")
    a = ap.parse_args()
    cases = draw_cases(a.cases, a.seed)
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futures = [
            pool.submit(run_case, i, kind, c, a.timeout_s, int(a.memory_gb * 2**30), a.max_arrivals)
            for i, (kind, c) in enumerate(cases)
        ]
        for f in concurrent.futures.as_completed(futures):
            r = f.result()
            results.append(r)
            for p in r["problems"]:
                print(f"case {r['index']} ({r['kind']}): {p}", flush=True)
                if a.save_failures:
                    a.save_failures.mkdir(parents=True, exist_ok=True)
                    (a.save_failures / f"case{r['index']}.yaml").write_bytes(cases[r["index"]][1])
    codes = collections.Counter((r.get("validate"), r.get("run")) for r in results)
    tracebacks = sum(any("traceback" in p for p in r["problems"]) for r in results)
    hangs = sum(any("no exit" in p for p in r["problems"]) for r in results)
    failures = sum(bool(r["problems"]) for r in results)
    slowest = max((r.get("run_s", 0.0) for r in results), default=0.0)
    print(
        f"{len(results)} cases ({sum(r['kind'] == 'schema' for r in results)} schema, "
        f"{sum(r['kind'] == 'file' for r in results)} file) in {time.perf_counter() - t0:.0f} s; "
        f"(validate, run) exit codes: {dict(sorted(codes.items(), key=str))}; "
        f"tracebacks: {tracebacks}; hangs: {hangs}; failures: {failures}; slowest run {slowest:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
