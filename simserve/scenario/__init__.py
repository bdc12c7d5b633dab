"""The scenario file format: pydantic v2 models, loading, overrides and error messages.

Owns the YAML schema of DESIGN.md (every model ``extra="forbid"``, ``frozen=True``, with units
parsed into seconds, bytes and per-second rates) and ``load_scenario``, which turns a path or dict
plus ``dotted.key=value`` overrides into a validated ``Scenario`` or raises ``ScenarioError`` with
one line naming the file, the field path and what was expected. One module per section of the file:

- ``base``: strict frozen models and unit-parsed number types;
- ``endpoint``: workers, GPUs, timeouts, FlashBoot, the scaler;
- ``hosts``: cold-start phases, model placement, GPU host pools, other tenants;
- ``workload``: arrival processes and services (service times or an LLM engine);
- ``billing``: price overrides and billed states;
- ``dynamics``: faults and the events timeline (deploys, settings changed during a run);
- ``root``: ``Scenario``, the whole file and its cross-section checks;
- ``loading``: files, overrides, one-line errors, the JSON schema.

Imports pydantic, yaml and simserve's units/dists/catalog/planspec/traceformats only.
"""

from __future__ import annotations

from simserve.inputs import ScenarioError, read_text_file
from simserve.scenario.base import Bandwidth, Float, Int, Rate, Size, StrictModel
from simserve.scenario.billing import BILLING_PHASES, BILLING_STATES, Billing, PriceOverride
from simserve.scenario.dynamics import SETTABLE, Deploy, Event, FaultsConfig
from simserve.scenario.endpoint import Endpoint, PerRequestScaler, QueueDelayScaler, RequestCountScaler, Scaler
from simserve.scenario.hosts import ColdStart, HostPool, Model, OtherTenants
from simserve.scenario.loading import MAX_SCENARIO_BYTES, load_scenario, parse_override, scenario_json_schema
from simserve.scenario.root import Scenario
from simserve.scenario.workload import (
    HOURS_PER_WEEK,
    Arrivals,
    BurstyArrivals,
    DecodeStep,
    DiurnalArrivals,
    EngineParams,
    LlmService,
    PerGpuRate,
    PerGpuStep,
    PerGpuTokens,
    PoissonArrivals,
    PositiveFloat,
    Service,
    TokenCount,
    Tokens,
    TraceArrivals,
    WeeklyArrivals,
    Workload,
)

__all__ = [
    "BILLING_PHASES",
    "BILLING_STATES",
    "HOURS_PER_WEEK",
    "MAX_SCENARIO_BYTES",
    "SETTABLE",
    "Arrivals",
    "Bandwidth",
    "Billing",
    "BurstyArrivals",
    "ColdStart",
    "DecodeStep",
    "Deploy",
    "DiurnalArrivals",
    "Endpoint",
    "EngineParams",
    "Event",
    "FaultsConfig",
    "Float",
    "HostPool",
    "Int",
    "LlmService",
    "Model",
    "OtherTenants",
    "PerGpuRate",
    "PerGpuStep",
    "PerGpuTokens",
    "PerRequestScaler",
    "PoissonArrivals",
    "PositiveFloat",
    "PriceOverride",
    "QueueDelayScaler",
    "Rate",
    "RequestCountScaler",
    "Scaler",
    "Scenario",
    "ScenarioError",
    "Service",
    "Size",
    "StrictModel",
    "TokenCount",
    "Tokens",
    "TraceArrivals",
    "WeeklyArrivals",
    "Workload",
    "load_scenario",
    "parse_override",
    "read_text_file",
    "scenario_json_schema",
]
