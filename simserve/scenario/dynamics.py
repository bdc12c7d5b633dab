"""The ``faults`` and ``events`` sections: worker faults, deploys (rolling updates) and settings
changed during a run.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    model_validator,
)

from simserve import limits
from simserve.dists import Dist, Duration
from simserve.scenario.base import Float, Int, Size, StrictModel


class FaultsConfig(StrictModel):
    """Worker faults (carried out by simserve.endpoint.faults): failed or slow cold starts and crashes make
    workers unhealthy."""

    init_failure_prob: Float = Field(0.0, ge=0.0, le=1.0, description="chance a cold start fails at handler init")
    crash_rate_per_hour: Float = Field(
        0.0,
        ge=0.0,
        le=limits.MAX_CRASH_RATE_PER_HOUR,
        description="crashes per hour of a ready (running/outdated) worker",
    )
    init_timeout: Duration = Field(420.0, gt=0, description="a cold start longer than this makes the worker unhealthy")
    retry_limit: Int = Field(3, ge=0, description="times a job is requeued after its worker crashed before it fails")
    unhealthy_retry: Duration = Field(3600.0, gt=0, description="first retry of an unhealthy slot; doubles each time")
    unhealthy_give_up: Duration = Field(604800.0, gt=0, description="an unhealthy slot is dropped after this long")


class Deploy(StrictModel):
    """A new release: a new image version (a cache miss on every host), optionally resized."""

    image_size: Size | None = Field(None, description="the new image's size (default: unchanged)")
    container_start: Dist | None = None
    handler_init: Dist | None = None


#: endpoint settings an ``events[].set`` may change during a run
SETTABLE = (
    "endpoint.max_workers",
    "endpoint.active_workers",
    "endpoint.extra_workers",
    "endpoint.account_balance_usd",
    "endpoint.idle_timeout",
    "endpoint.execution_timeout",
    "endpoint.job_ttl",
    "endpoint.scaler.value",
    "endpoint.flashboot",
)


class Event(StrictModel):
    """One timeline entry: at ``at``, a ``deploy`` (rolling update) or a ``set`` of endpoint settings."""

    at: Duration = Field(description="time of the event")
    deploy: Deploy | None = None
    set: dict[str, Any] | None = Field(None, description="dotted endpoint keys -> new values")

    @model_validator(mode="after")
    def _one_kind(self) -> Event:
        if (self.deploy is None) == (self.set is None):
            raise ValueError("expected exactly one of deploy or set")
        if self.at < 0:
            raise ValueError("at: expected a time >= 0")
        for key in self.set or {}:
            if key not in SETTABLE:
                raise ValueError(f"set: cannot change {key!r} during a run; expected one of {', '.join(SETTABLE)}")
        return self
