"""Writing and reading run directories: summary.json, jobs.csv, workers.csv and friends.

Owns the on-disk layout every command shares (``simserve run``, ``live``, ``compare``,
``report``): files are written to a temporary name and renamed, so an interrupted run never
leaves a half-written table, and CSVs are byte-identical for the same seed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simserve.records import JOB_COLUMNS, WORKER_COLUMNS

FLOAT_FORMAT = "%.9g"


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    _atomic_write(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    _atomic_write(path, frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n"))


def write_run(out_dir: str | Path, result: Any, summary: dict[str, Any] | None = None) -> Path:
    """Write a run directory; ``summary`` overrides the result's (e.g. with replication CIs)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_frame(out / "jobs.csv", result.jobs[list(JOB_COLUMNS)])
    write_frame(out / "workers.csv", result.workers[list(WORKER_COLUMNS)])
    write_frame(out / "actions.csv", result.actions)
    resolved = result.scenario.model_dump(mode="json")
    resolved.pop("base_dir", None)
    arrivals = resolved.get("workload", {}).get("arrivals", {})
    if arrivals.get("type") == "trace":  # keep the resolved file runnable from anywhere
        arrivals["path"] = str(result.scenario.trace_path().resolve())
    _atomic_write(out / "scenario.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False))
    write_json(out / "summary.json", summary if summary is not None else result.summary)
    return out


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """Read a run directory: ``{"summary": dict, "jobs": DataFrame, "workers": DataFrame, "dir": Path}``."""
    d = Path(run_dir)
    summary_path = d / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{d}: not a run directory (no summary.json)")
    out: dict[str, Any] = {"dir": d, "summary": json.loads(summary_path.read_text())}
    for name in ("jobs", "workers", "actions"):
        p = d / f"{name}.csv"
        out[name] = pd.read_csv(p) if p.is_file() else None
    return out
