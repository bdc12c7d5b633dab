"""simserve: simulate and measure GPU serverless endpoints (Runpod Serverless semantics).

Public API: ``load_scenario``, ``simulate``, ``RunResult``. See README.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

from simserve.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from simserve.result import RunResult  # noqa: E402
from simserve.api import simulate  # noqa: E402

__all__ = ["RunResult", "Scenario", "ScenarioError", "__version__", "load_scenario", "simulate"]
