"""The ``cold_start`` and ``hosts`` sections: image and model placement, cold-start phases, GPU host
pools and other tenants.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
)

from simserve import catalog, limits
from simserve.dists import Constant, Dist, Duration
from simserve.scenario.base import Bandwidth, Float, Int, Size, StrictModel, gpu_name


class Model(StrictModel):
    """Where the model weights live and how fast they load."""

    size: Size = Field(0.0, description="model weights size")
    placement: Literal["cached", "baked", "network_volume", "none"] = Field(
        "none", description="cached (host model cache), baked (in the image), network_volume, none"
    )
    bandwidth: Bandwidth | None = Field(
        None, description="load bandwidth; default 2GB/s (cached, baked) or 300MB/s (network_volume)"
    )
    download_bandwidth: Bandwidth | None = Field(
        None, description="cached placement: download speed when the host lacks the model (default: registry bandwidth)"
    )

    @property
    def load_bandwidth(self) -> float:
        if self.bandwidth is not None:
            return self.bandwidth
        return 300e6 if self.placement == "network_volume" else 2e9


class ColdStart(StrictModel):
    """Cold-start phases: pull, container start, model load, handler init; FlashBoot resume."""

    image_size: Size = Field(8e9, description="container image size")
    registry_bandwidth: Bandwidth = Field(200e6, description="image pull bandwidth")
    container_start: Dist = Field(default_factory=lambda: Constant(value=2.0))
    model: Model = Field(default_factory=Model)
    handler_init: Dist = Field(default_factory=lambda: Constant(value=3.0))
    flashboot_resume: Dist = Field(default_factory=lambda: Constant(value=1.0))
    flashboot_window: Duration = Field(
        600.0, description="how long after scale-down FlashBoot can resume (its snapshot is kept on the host)"
    )
    flashboot_miss_prob: Float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="probability, 0..1, that a FlashBoot resume the model allows (same host, inside the window, "
        "snapshot not evicted by a take of the host's GPUs) misses all the same and starts cold; "
        "0 by default: misses come from the host-capacity rule (docs/platform-rules.md)",
    )


def _tenants_shorthand(v: Any) -> Any:
    return {"csv": v} if isinstance(v, str) else v


class OtherTenants(StrictModel):
    """Other tenants' GPU use on a host pool, the cause of throttling (carried out by simserve.endpoint.tenants)."""

    mean_utilization: Float = Field(
        0.0, ge=0.0, le=1.0, description="mean share of each host's GPUs other tenants want"
    )
    time_scale: Duration = Field(1800.0, gt=0, description="mean time between changes of a host's tenant demand")
    csv: str | None = Field(
        None, description="CSV with columns time_s, utilization (relative to the YAML); replaces mean_utilization"
    )
    move_after: Duration = Field(
        300.0, gt=0, description="how long a throttled worker waits for its host before the platform moves it"
    )


class HostPool(StrictModel):
    """A pool of identical GPU hosts."""

    gpu: Annotated[str, BeforeValidator(gpu_name)] = Field(description="catalog GPU name")
    count: Int = Field(ge=1, le=limits.MAX_HOSTS, description="hosts in the pool")
    gpus_per_host: Int = Field(8, ge=1, le=1024)
    disk: Size = Field(2e12, description="disk for the LRU image and model cache")
    other_tenants: Annotated[OtherTenants | None, BeforeValidator(_tenants_shorthand)] = Field(
        None, description="other tenants' GPU use: {mean_utilization, time_scale} or a CSV path"
    )

    @field_validator("gpu")
    @classmethod
    def _known(cls, v: str) -> str:
        try:
            catalog.lookup(v)
        except KeyError:
            raise ValueError(f"unknown GPU {v!r}; expected one of {', '.join(catalog.known_gpus())}") from None
        return v
