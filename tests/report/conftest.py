"""Fixtures for the report tests: every example scenario simulated once at a short horizon."""

from __future__ import annotations

from pathlib import Path

import pytest

import simserve

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SHORT = {"horizon": 900, "warmup": 60, "replications": 1}


@pytest.fixture(scope="session")
def short_results() -> dict[str, simserve.RunResult]:
    """name -> RunResult of each scenarios/*.yaml over 15 simulated minutes (60 s warmup)."""
    return {p.stem: simserve.simulate(p, overrides=dict(SHORT)) for p in SCENARIOS}


@pytest.fixture(scope="session")
def quick_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory of quickstart.yaml (20 simulated minutes) written by `simserve run --report`."""
    from simserve.cli import main

    out = tmp_path_factory.mktemp("quick")
    rc = main(
        [
            "run",
            str(ROOT / "scenarios" / "quickstart.yaml"),
            "--out",
            str(out),
            "--quiet",
            "--report",
            "--set",
            "horizon=20min",
            "--set",
            "warmup=30s",
        ]
    )
    assert rc == 0
    return out
