"""simserve: simulate and measure GPU serverless endpoints (Runpod Serverless semantics).

Public API: ``load_scenario``, ``simulate``, ``RunResult``. See README.md.
"""

from __future__ import annotations

from simserve.api import simulate
from simserve.results.result import RunResult
from simserve.scenario import Scenario, ScenarioError, load_scenario
from simserve.version import __version__

__all__ = ["RunResult", "Scenario", "ScenarioError", "__version__", "load_scenario", "simulate"]
