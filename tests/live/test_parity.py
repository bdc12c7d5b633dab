"""Parity by construction: the live driver on a virtual clock writes the simulator's tables byte for byte.

``simserve live SCENARIO --runtime simulated`` drives ``simserve.live.driver.LiveDriver`` with a
runtime whose phases and jobs take the scenario's drawn times; the endpoint core decides in both
engines, so with the same seed ``jobs.csv`` and ``workers.csv`` must be identical to
``simserve run``'s, for every file in ``scenarios/`` and for generated scenarios with events,
faults and tenants.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import simserve
from simserve.cli import main
from simserve.live.simulated import run_simulated
from simserve.records import WORKER_COLUMNS
from simserve.results.outputs import FLOAT_FORMAT
from simserve.results.result import build_result
from tests.properties.test_dynamics_properties import dynamic_scenarios

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))


def _csv(frame: Any) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    return buf.getvalue()


def _tables(sc: Any, engine: str) -> tuple[str, str]:
    if engine == "sim":
        r = simserve.simulate(sc)
    else:
        rec, _, horizon = run_simulated(sc, sc.seed)
        r = build_result(sc, sc.seed, rec, engine="live", horizon_s=horizon)
    return _csv(r.jobs), _csv(r.workers[list(WORKER_COLUMNS)])


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_byte_identical(path: Path) -> None:
    sc = simserve.load_scenario(path)
    if sc.horizon > 4 * 3600:  # keep the suite fast: the first 4 h of the long ones (events included)
        sc = simserve.load_scenario(path, {"horizon": 4 * 3600})
    sim_jobs, sim_workers = _tables(sc, "sim")
    live_jobs, live_workers = _tables(sc, "live")
    assert live_jobs == sim_jobs
    assert live_workers == sim_workers
    assert sim_jobs.count("\n") > 1  # not vacuous: the scenario ran jobs


@settings(max_examples=60, deadline=None)
@given(dynamic_scenarios())
def test_generated_scenarios_byte_identical(raw: dict) -> None:
    sc = simserve.load_scenario(raw)
    assert _tables(sc, "live") == _tables(sc, "sim")


def test_cli_live_simulated_equals_run(tmp_path: Path) -> None:
    """The user-facing form: `simserve live --runtime simulated` (no handler) vs `simserve run`."""
    a, b = tmp_path / "live", tmp_path / "run"
    short = ["--set", "horizon=3.5h"]  # past the deploy at 3 h
    assert main(["live", "scenarios/rolling-update.yaml", "--runtime", "simulated", "--out", str(a), "-q", *short]) == 0
    assert main(["run", "scenarios/rolling-update.yaml", "--out", str(b), *short]) == 0
    for name in ("jobs.csv", "workers.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert "outdated" in (a / "workers.csv").read_text()
