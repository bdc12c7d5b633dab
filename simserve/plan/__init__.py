"""Capacity planner: the cheapest endpoint configuration that meets every SLO.

``plan(scenario, spec)`` searches a grid of dotted-key overrides with common random numbers,
sequential sampling and a monotone/bound-pruned search, on a local process pool or a Dask
cluster. Submodules: grammar (SLO/vary syntax), spec (the ``plan:`` section), space (grid,
bounds), verdict (intervals, feasibility), search (rounds), executors, report (tables, plot).
This package imports lazily so ``simserve.scenario`` can import ``simserve.plan.spec``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PlanError", "PlanResult", "PlanSpec", "pareto_figure", "plan", "write_plan"]


def __getattr__(name: str) -> Any:
    if name == "PlanError":
        from simserve.plan.grammar import PlanError
        return PlanError
    if name == "PlanSpec":
        from simserve.plan.spec import PlanSpec
        return PlanSpec
    if name in ("plan", "PlanResult"):
        from simserve.plan import search
        return getattr(search, name)
    if name in ("pareto_figure", "write_plan"):
        from simserve.plan import report
        return getattr(report, name)
    raise AttributeError(name)
