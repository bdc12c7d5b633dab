"""The ``plan:`` section of a scenario: SLOs, search space and sampling settings.

Owns ``PlanSpec``, a frozen pydantic model the scenario schema embeds as an optional field.
SLO and ``vary`` syntax is checked here so a bad plan section fails at load time with the
field path. Imports pydantic, typing and ``simserve.plan.grammar`` only (no scenario, no
simulator), so ``simserve.scenario`` can import it without a cycle.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simserve.plan.grammar import parse_slo, parse_values


class PlanSpec(BaseModel):
    """What ``simserve plan`` searches for: the cheapest configuration meeting every SLO."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slo: list[str] = Field(default_factory=list, description='objectives, e.g. ["latency_p95<=8s", "failed<=0.1%"]')
    vary: dict[str, Union[str, list[Any], int, float]] = Field(
        default_factory=dict, description='search space: dotted key -> "a..b", "x,y,z" or a list')
    replications: int = Field(3, ge=2, le=100, description="replications per candidate before sequential sampling")
    max_replications: int = Field(10, ge=2, le=200, description="most replications a close candidate may get")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="confidence level of the intervals")
    batch: int = Field(8, ge=1, le=1024,
                       description="candidates per search round (fixed so local and cluster plans match)")
    search: Literal["smart", "grid"] = Field("smart", description="smart (bisect, infer, prune) or grid (every point)")
    monotone: Optional[list[str]] = Field(
        None, description="keys where a larger value never worsens latency or failures (default: built-in list)")

    @field_validator("slo")
    @classmethod
    def _slo_syntax(cls, v: list[str]) -> list[str]:
        for text in v:
            parse_slo(text)
        return v

    @field_validator("vary")
    @classmethod
    def _vary_syntax(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, spec in v.items():
            parse_values(key, spec)
        return v

    @model_validator(mode="after")
    def _reps(self) -> "PlanSpec":
        if self.max_replications < self.replications:
            raise ValueError(f"max_replications ({self.max_replications}) must be at least "
                             f"replications ({self.replications})")
        return self
