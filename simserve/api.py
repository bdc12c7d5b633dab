"""The public Python API: ``simulate`` one run (or several replications) of a scenario.

Thin composition of workload -> engine -> result; no files and no printing, so notebooks,
the CLI and the planner all call the same function.
"""

from __future__ import annotations

from typing import Any

from simserve.result import RunResult
from simserve.scenario import Scenario, load_scenario
from simserve.sim.driver import simulate_tables
from simserve.workload import Jobs


def simulate(
    scenario: Scenario | str | dict[str, Any],
    seed: int | None = None,
    *,
    overrides: dict[str, Any] | list[str] | None = None,
    jobs: Jobs | None = None,
) -> RunResult:
    """Simulate one replication of ``scenario`` and return its ``RunResult``.

    ``scenario`` may be a ``Scenario``, a YAML path or a dict. ``seed`` defaults to the
    scenario's. ``jobs`` replays given arrival and service times instead of drawing them.
    """
    sc = (
        scenario
        if isinstance(scenario, Scenario) and not overrides
        else load_scenario(scenario.model_dump() if isinstance(scenario, Scenario) else scenario, overrides)
    )
    run_seed = sc.seed if seed is None else int(seed)
    rec = simulate_tables(sc, run_seed, jobs=jobs)
    from simserve.result import build_result

    return build_result(sc, run_seed, rec, engine="sim")
