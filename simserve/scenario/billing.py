"""The ``pricing`` and ``billing`` sections: price overrides and which states and phases are billed."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from simserve.records import COLD_PHASES
from simserve.scenario.base import Float, StrictModel


class PriceOverride(StrictModel):
    flex: Float = Field(ge=0, le=1e6, description="USD per GPU per second, flex workers")
    active: Float | None = Field(None, ge=0, le=1e6, description="USD per GPU per second, active workers")


BILLING_STATES = ("initializing", "idle", "running", "throttled", "outdated", "unhealthy")
#: the phases a ``billing.states`` key may name after its state (``running.warm``)
BILLING_PHASES: dict[str, tuple[str, ...]] = {"initializing": COLD_PHASES, "running": ("busy", "warm")}


class Billing(StrictModel):
    """A preset, optionally overridden per state or per ``state.phase``."""

    preset: Literal["seed", "runpod-2026-08"] = "seed"
    states: dict[str, bool] = Field(default_factory=dict, description="e.g. {running.warm: false}")

    @field_validator("states")
    @classmethod
    def _known_states(cls, v: dict[str, bool]) -> dict[str, bool]:
        for key in v:
            state, dot, phase = key.partition(".")
            if state not in BILLING_STATES:
                raise ValueError(f"unknown state {key!r}; expected one of {', '.join(BILLING_STATES)} (or state.phase)")
            phases = BILLING_PHASES.get(state, ())
            if dot and phase not in phases:
                expected = f"one of {', '.join(f'{state}.{p}' for p in phases)}" if phases else "no phase"
                raise ValueError(f"unknown phase {key!r}: {state} has {expected}")
        return v
