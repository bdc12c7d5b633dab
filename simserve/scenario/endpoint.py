"""The ``endpoint`` section: workers (active, max, extra), GPUs, idle and execution timeouts, FlashBoot, the scaler."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from simserve import catalog, limits
from simserve.dists import Duration
from simserve.scenario.base import Float, Int, StrictModel, gpu_list


# ----------------------------------------------------------------------------- scalers
class QueueDelayScaler(StrictModel):
    """Add workers when a request has waited longer than ``value`` (checked every tick)."""

    type: Literal["queue_delay"]
    value: Duration = Field(4.0, description="seconds a request may wait before a worker is added")


class RequestCountScaler(StrictModel):
    """Target workers = ceil((in_queue + in_progress) / value); idle timeout not applied."""

    type: Literal["request_count"]
    value: Int = Field(4, ge=1, description="requests per worker")


class PerRequestScaler(StrictModel):
    """Lambda-style: a request with no free worker starts one at once; reject at the cap."""

    type: Literal["per_request"]


Scaler = Annotated[QueueDelayScaler | RequestCountScaler | PerRequestScaler, Field(discriminator="type")]


class Endpoint(StrictModel):
    """Endpoint settings (Runpod console defaults)."""

    gpu: Annotated[list[str], BeforeValidator(gpu_list)] = Field(
        default_factory=lambda: ["H100"], description="GPU priority list, 1 to 3 catalog names"
    )
    gpus_per_worker: Int = Field(1, ge=1, le=8, description="GPUs per worker")
    active_workers: Int = Field(0, ge=0, description="always-on workers, billed 24/7 at the active rate")
    max_workers: Int = Field(3, ge=0, le=limits.MAX_WORKERS, description="maximum workers (flex + active)")
    account_balance_usd: Float | None = Field(None, ge=0, description="caps max workers by the balance table")
    extra_workers: Int = Field(
        2, ge=0, le=limits.MAX_WORKERS, description="image-cached standby slots beyond max workers"
    )
    idle_timeout: Duration = Field(5.0, description="seconds a worker stays warm (billed) after its last job")
    execution_timeout: Duration = Field(600.0, description="a job running longer ends timed_out")
    job_ttl: Duration = Field(86400.0, description="a job older than this (queue + run) ends timed_out")
    concurrency: Int = Field(1, ge=1, le=limits.MAX_CONCURRENCY, description="jobs per worker at once")
    flashboot: bool = Field(True, description="resume recently scaled-down workers on the same host fast")
    scaler: Scaler = Field(default_factory=lambda: QueueDelayScaler(type="queue_delay", value=4.0))
    scaler_interval: Duration = Field(1.0, description="seconds between autoscaler checks")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="environment variables every worker gets (the endpoint template's; simserve live passes "
        "these, RUNPOD_* and the GPU selection to a handler, nothing of its own environment)",
    )

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r}: expected a variable name (letters, digits, _; not a digit first)")
            if "\0" in value:
                raise ValueError(f"{name}: expected a value without NUL characters")
        return v

    @field_validator("gpu")
    @classmethod
    def _known_gpus(cls, v: list[str]) -> list[str]:
        if not 1 <= len(v) <= 3:
            raise ValueError(f"expected a priority list of 1 to 3 GPU names; got {len(v)}")
        if len({name.upper() for name in v}) < len(v):
            raise ValueError(f"expected each GPU once in the priority list; got {v}")
        for name in v:
            try:
                catalog.lookup(name)
            except KeyError:
                raise ValueError(f"unknown GPU {name!r}; expected one of {', '.join(catalog.known_gpus())}") from None
        return v

    @field_validator("scaler_interval")
    @classmethod
    def _positive_interval(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("expected a duration greater than zero")
        return v

    @model_validator(mode="after")
    def _active_le_max(self) -> Endpoint:
        if self.active_workers > self.max_workers:
            raise ValueError(f"active_workers ({self.active_workers}) must not exceed max_workers ({self.max_workers})")
        return self

    @property
    def worker_cap(self) -> int:
        """Max workers after the account-balance cap."""
        if self.account_balance_usd is None:
            return self.max_workers
        return min(self.max_workers, catalog.balance_cap(self.account_balance_usd))
