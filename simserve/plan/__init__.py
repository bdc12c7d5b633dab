"""Capacity planner: the cheapest endpoint configuration that meets every SLO.

``plan(scenario, spec)`` searches a grid of dotted-key overrides with common random numbers,
sequential sampling and a monotone/bound-pruned search, on a local process pool or a Dask
cluster. Submodules: space (grid, bounds), verdict (intervals, feasibility), search (rounds),
executors, breakeven (the flex vs active sweep the report shows), report (tables, plot). The
``plan:`` section and the SLO/vary syntax live in ``simserve.planspec``, below the scenario
schema. This package loads its submodules lazily, on first use of a name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PlanError", "PlanResult", "PlanSpec", "pareto_figure", "plan", "write_plan"]


def __getattr__(name: str) -> Any:
    if name == "PlanError":
        from simserve.planspec import PlanError

        return PlanError
    if name == "PlanSpec":
        from simserve.planspec import PlanSpec

        return PlanSpec
    if name in ("plan", "PlanResult"):
        from simserve.plan import search

        return getattr(search, name)
    if name in ("pareto_figure", "write_plan"):
        from simserve.plan import report

        return getattr(report, name)
    raise AttributeError(name)
