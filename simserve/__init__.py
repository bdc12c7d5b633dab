"""simserve: simulate and measure GPU serverless endpoints (Runpod Serverless semantics).

Public API: ``load_scenario``, ``simulate``, ``RunResult``. See README.md.

The names are loaded on first use (PEP 562): ``import simserve.live.reaper`` or the worker
shim's helpers must not pay for pandas and scipy (~1.5 s of CPU), which ``simulate`` needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from simserve.version import __version__

if TYPE_CHECKING:
    from simserve.api import simulate
    from simserve.results.result import RunResult
    from simserve.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["RunResult", "Scenario", "ScenarioError", "__version__", "load_scenario", "simulate"]

#: each public name and the module that defines it
_HOME = {
    "simulate": "simserve.api",
    "RunResult": "simserve.results.result",
    "Scenario": "simserve.scenario",
    "ScenarioError": "simserve.scenario",
    "load_scenario": "simserve.scenario",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'simserve' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
