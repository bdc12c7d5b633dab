"""The scenario file format: pydantic v2 models, loading, overrides and error messages.

Owns the YAML schema of DESIGN.md (every model ``extra="forbid"``, ``frozen=True``, with
units parsed into seconds, bytes and per-second rates) and ``load_scenario``, which turns a
path or dict plus ``dotted.key=value`` overrides into a validated ``Scenario`` or raises
``ScenarioError`` with one line naming the file, the field path and what was expected.
Imports pydantic, yaml and simserve's units/dists/catalog/planspec only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from simserve import catalog, limits
from simserve.dists import Constant, Dist, Duration
from simserve.planspec import PlanSpec
from simserve.records import COLD_PHASES
from simserve.safe_yaml import YamlInputError, load_yaml
from simserve.units import parse_bandwidth, parse_rate, parse_size

Size = Annotated[float, BeforeValidator(parse_size)]
Rate = Annotated[float, BeforeValidator(parse_rate)]
Bandwidth = Annotated[float, BeforeValidator(parse_bandwidth)]


def _not_bool(v: Any) -> Any:
    """``count: true`` is not a count: YAML booleans are refused where a number is expected."""
    if isinstance(v, bool):
        raise ValueError(f"expected a number; got {v!r}")
    return v


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- scalers
class QueueDelayScaler(_Model):
    """Add workers when a request has waited longer than ``value`` (checked every tick)."""

    type: Literal["queue_delay"]
    value: Duration = Field(4.0, description="seconds a request may wait before a worker is added")


class RequestCountScaler(_Model):
    """Target workers = ceil((in_queue + in_progress) / value); idle timeout not applied."""

    type: Literal["request_count"]
    value: Int = Field(4, ge=1, description="requests per worker")


class PerRequestScaler(_Model):
    """Lambda-style: a request with no free worker starts one at once; reject at the cap."""

    type: Literal["per_request"]


Scaler = Annotated[QueueDelayScaler | RequestCountScaler | PerRequestScaler, Field(discriminator="type")]


def _gpu_name(v: Any) -> Any:
    """GPU names YAML reads as numbers (``4090``) are names all the same."""
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _gpu_list(v: Any) -> Any:
    v = _gpu_name(v)
    return [v] if isinstance(v, str) else [_gpu_name(x) for x in v] if isinstance(v, list) else v


class Endpoint(_Model):
    """Endpoint settings (Runpod console defaults)."""

    gpu: Annotated[list[str], BeforeValidator(_gpu_list)] = Field(
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


class Model(_Model):
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


class ColdStart(_Model):
    """Cold-start phases: pull, container start, model load, handler init; FlashBoot resume."""

    image_size: Size = Field(8e9, description="container image size")
    registry_bandwidth: Bandwidth = Field(200e6, description="image pull bandwidth")
    container_start: Dist = Field(default_factory=lambda: Constant(value=2.0))
    model: Model = Field(default_factory=Model)
    handler_init: Dist = Field(default_factory=lambda: Constant(value=3.0))
    flashboot_resume: Dist = Field(default_factory=lambda: Constant(value=1.0))
    flashboot_window: Duration = Field(600.0, description="how long after scale-down FlashBoot can resume")


def _tenants_shorthand(v: Any) -> Any:
    return {"csv": v} if isinstance(v, str) else v


class OtherTenants(_Model):
    """Other tenants' GPU use on a host pool, the cause of throttling (simserve.sim.tenants)."""

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


class Host(_Model):
    """A pool of identical GPU hosts."""

    gpu: Annotated[str, BeforeValidator(_gpu_name)] = Field(description="catalog GPU name")
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


# ----------------------------------------------------------------------------- workload
class PoissonArrivals(_Model):
    type: Literal["poisson"]
    rate: Rate = Field(description="mean arrival rate")


class DiurnalArrivals(_Model):
    """Sinusoidal non-homogeneous Poisson process."""

    type: Literal["diurnal"]
    mean_rate: Rate
    peak_to_trough: Float = Field(4.0, ge=1.0, le=1e6, description="peak rate / trough rate")
    period: Duration = Field(86400.0, gt=0, description="length of one cycle")
    phase: Duration = Field(0.0, description="time of the peak within the period")


class BurstyArrivals(_Model):
    """Two-state Markov-modulated Poisson process."""

    type: Literal["bursty"]
    base_rate: Rate
    burst_rate: Rate
    mean_burst: Duration = Field(description="mean length of a burst")
    mean_gap: Duration = Field(description="mean time between bursts")

    @model_validator(mode="after")
    def _cycle(self) -> BurstyArrivals:
        if self.mean_burst + self.mean_gap <= 0:
            raise ValueError("mean_burst: expected mean_burst + mean_gap greater than zero (time would stand still)")
        return self

    @property
    def mean_rate(self) -> float:
        """Long-run arrivals per second."""
        return limits.bursty_mean_rate(self.base_rate, self.burst_rate, self.mean_burst, self.mean_gap)


HOURS_PER_WEEK = 168


class WeeklyArrivals(_Model):
    """A non-homogeneous Poisson process whose rate follows the hour of the week, looped over the horizon.

    The shape is ``hourly`` (168 relative levels, Monday 00:00 first), or a ``csv`` with columns
    ``hour_of_week, rate``, or else a daily cosine (``peak_to_trough``, ``peak_hour``) scaled by
    ``weekend_level`` on Saturday and Sunday. It is scaled so that the week's mean is ``mean_rate``.
    """

    type: Literal["weekly"]
    mean_rate: Rate = Field(description="mean arrival rate over a week")
    hourly: list[Float] | None = Field(None, description="168 relative levels, one per hour of the week")
    csv: str | None = Field(None, description="CSV with columns hour_of_week, rate (relative to the YAML)")
    peak_to_trough: Float = Field(4.0, ge=1.0, le=1e6, description="daily peak / trough (no hourly or csv)")
    peak_hour: Float = Field(14.0, ge=0.0, lt=24.0, description="hour of the day of the daily peak")
    weekend_level: Float = Field(0.6, ge=0.0, le=1e6, description="weekend days' level relative to weekdays")
    start_hour: Float = Field(0.0, ge=0.0, lt=HOURS_PER_WEEK, description="hour of the week at t = 0")

    @model_validator(mode="after")
    def _shape(self) -> WeeklyArrivals:
        if self.hourly is not None and self.csv is not None:
            raise ValueError("hourly: expected hourly or csv, not both")
        if self.hourly is not None:
            if len(self.hourly) != HOURS_PER_WEEK:
                raise ValueError(f"hourly: expected {HOURS_PER_WEEK} levels (one per hour); got {len(self.hourly)}")
            if any(v < 0 for v in self.hourly) or not any(v > 0 for v in self.hourly):
                raise ValueError("hourly: expected levels >= 0, not all zero")
        return self

    def default_levels(self) -> list[float]:
        """The cosine-with-weekends shape (when neither ``hourly`` nor ``csv`` is given), 168 levels."""
        amp = (self.peak_to_trough - 1.0) / (self.peak_to_trough + 1.0)
        out = []
        for h in range(HOURS_PER_WEEK):
            day, hour = divmod(h, 24)
            level = self.weekend_level if day >= 5 else 1.0
            out.append(level * (1.0 + amp * math.cos(2 * math.pi * (hour + 0.5 - self.peak_hour) / 24.0)))
        return out


#: trace formats whose rows carry token counts (``simserve.traceformats``)
TOKEN_FORMATS = ("azure-llm", "burstgpt", "mooncake")
TRACE_FORMATS = ("simserve", *TOKEN_FORMATS, "azure-functions-2021", "azure-functions-2019")


class TraceArrivals(_Model):
    """Replay arrival times (and service times or token counts, where the format has them) from a file."""

    type: Literal["trace"]
    path: str = Field(description="the trace file, relative to the YAML")
    format: Literal["simserve", "azure-llm", "burstgpt", "mooncake", "azure-functions-2021", "azure-functions-2019"] = (
        Field(
            "simserve",
            description="simserve: CSV with arrival_s (and optional service_s); the others are public traces by name "
            "(docs/traces.md)",
        )
    )
    function: str | None = Field(None, description="azure-functions-2019: the HashFunction to replay")
    top: Int | None = Field(
        None, ge=1, le=100_000, description="azure-functions-2019: merge the N busiest functions (default 1)"
    )
    loop: bool = Field(False, description="repeat the trace until the horizon")
    period: Duration | None = Field(
        None,
        gt=0,
        description="with loop: repeat every this many seconds (a recording's length, its idle tail included); "
        "default: the last arrival plus the mean gap",
    )

    @model_validator(mode="after")
    def _options(self) -> TraceArrivals:
        if self.period is not None and not self.loop:
            raise ValueError("period applies with loop: true only")
        if self.format != "azure-functions-2019" and (self.function is not None or self.top is not None):
            raise ValueError("function and top apply to format azure-functions-2019 only")
        if self.function is not None and self.top is not None:
            raise ValueError("give function or top, not both")
        return self


Arrivals = Annotated[
    PoissonArrivals | DiurnalArrivals | BurstyArrivals | WeeklyArrivals | TraceArrivals, Field(discriminator="type")
]


class DecodeStep(_Model):
    """One engine step of a batching LLM worker lasts ``base + per_sequence x sequences`` (plus prefill)."""

    base: Duration = Field(ge=0, le=3600, description="fixed time of one step")
    per_sequence: Duration = Field(0.0, ge=0, le=3600, description="added per sequence in the step")


PositiveFloat = Annotated[float, Field(gt=0, le=1e12), BeforeValidator(_not_bool)]
TokenCount = Annotated[int, Field(ge=1, le=10**12), BeforeValidator(_not_bool)]


def _per_gpu_kind(v: Any) -> str:
    """A mapping whose keys are not DecodeStep's fields is a table by GPU; anything else is one value."""
    if isinstance(v, dict) and not ({"base", "per_sequence"} & set(v)):
        return "per-gpu:table"
    return "per-gpu:one"


PerGpuRate = Annotated[
    Annotated[PositiveFloat, Tag("per-gpu:one")] | Annotated[dict[str, PositiveFloat], Tag("per-gpu:table")],
    Discriminator(_per_gpu_kind),
]
PerGpuStep = Annotated[
    Annotated[DecodeStep, Tag("per-gpu:one")] | Annotated[dict[str, DecodeStep], Tag("per-gpu:table")],
    Discriminator(_per_gpu_kind),
]
PerGpuTokens = Annotated[
    Annotated[TokenCount, Tag("per-gpu:one")] | Annotated[dict[str, TokenCount], Tag("per-gpu:table")],
    Discriminator(_per_gpu_kind),
]


class LlmService(_Model):
    """A continuous-batching LLM worker (vLLM-like): engine steps over the sequences in flight.

    Each of ``prefill_tokens_per_s``, ``decode_step`` and ``kv_cache_tokens`` is one value or a table by
    GPU name (the worker's GPU picks the row); with ``model`` the catalog's defaults for that model size
    fill what is not given (``simserve.llm_catalog``)."""

    type: Literal["llm"]
    model: str | None = Field(None, description="catalog model size (e.g. 8b) whose per-GPU defaults fill gaps")
    prefill_tokens_per_s: PerGpuRate | None = Field(None, description="prompt tokens a worker processes per second")
    decode_step: PerGpuStep | None = Field(None, description="time of one engine step")
    max_batch: Int = Field(64, ge=1, le=100_000, description="sequences in flight on one worker")
    max_concurrency: Int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="requests one worker takes from the queue (the platform's vLLM worker: MAX_CONCURRENCY); "
        "those beyond max_batch wait in its engine for a place in the batch. Default: max_batch",
    )
    kv_cache_tokens: PerGpuTokens | None = Field(
        None, description="input + output tokens of the sequences in flight (absent: unlimited)"
    )

    @model_validator(mode="after")
    def _take_covers_batch(self) -> LlmService:
        if self.max_concurrency is not None and self.max_concurrency < self.max_batch:
            raise ValueError(
                f"max_concurrency: expected at least max_batch ({self.max_batch}), got {self.max_concurrency}"
            )
        return self

    @property
    def take(self) -> int:
        """Requests one worker holds at once (in its batch or waiting in its engine)."""
        return self.max_batch if self.max_concurrency is None else self.max_concurrency

    @field_validator("prefill_tokens_per_s", "decode_step", "kv_cache_tokens", mode="before")
    @classmethod
    def _gpu_keys(cls, v: Any) -> Any:
        if isinstance(v, dict) and not ({"base", "per_sequence"} & set(v)):
            return {_gpu_name(k): x for k, x in v.items()}
        return v

    def engine(self, gpu: str) -> EngineParams:
        """The engine's figures on ``gpu`` (a catalog name); ``KeyError`` naming the field that has none."""

        def pick(value: Any, field: str) -> Any:
            if isinstance(value, dict) and not isinstance(value, DecodeStep):
                for k, v in value.items():
                    if k.upper() == gpu.upper():
                        return v
                return None
            return value

        prof = None
        if self.model is not None:
            from simserve import llm_catalog

            try:
                prof = llm_catalog.profile(self.model, gpu)
            except KeyError:
                prof = None
        prefill = pick(self.prefill_tokens_per_s, "prefill_tokens_per_s")
        step = pick(self.decode_step, "decode_step")
        kv = pick(self.kv_cache_tokens, "kv_cache_tokens")
        if prefill is None:
            if prof is None:
                raise KeyError(f"prefill_tokens_per_s: no value for GPU {gpu}")
            prefill = prof.prefill_tokens_per_s
        if step is None:
            if prof is None:
                raise KeyError(f"decode_step: no value for GPU {gpu}")
            step = DecodeStep(base=prof.decode_base_s, per_sequence=prof.decode_per_sequence_s)
        if kv is None and prof is not None and self.kv_cache_tokens is None:
            kv = prof.kv_cache_tokens
        elif kv is None and isinstance(self.kv_cache_tokens, dict):
            raise KeyError(f"kv_cache_tokens: no value for GPU {gpu}")
        return EngineParams(
            gpus_needed=prof.gpus_per_worker if prof is not None else 1,
            prefill_tokens_per_s=float(prefill),
            base_s=float(step.base),
            per_sequence_s=float(step.per_sequence),
            max_batch=self.max_batch,
            kv_cache_tokens=int(kv) if kv is not None else None,
        )


class EngineParams(BaseModel):
    """What one batching worker on one GPU type does: resolved from ``LlmService.engine(gpu)``."""

    model_config = ConfigDict(frozen=True)

    gpus_needed: int  # GPUs per worker the catalog profile assumes (1 without one)
    prefill_tokens_per_s: float
    base_s: float
    per_sequence_s: float
    max_batch: int
    kv_cache_tokens: int | None


class Tokens(_Model):
    """Token counts of each request: prompt (input) and reply (output) lengths, drawn per request."""

    input: Dist = Field(description="prompt tokens (rounded; at least 0)")
    output: Dist = Field(description="reply tokens (rounded; at least 1)")


def _service_kind(v: Any) -> str:
    if isinstance(v, LlmService) or (isinstance(v, dict) and "type" in v):
        return "service:llm"
    return "service:dist"


Service = Annotated[
    Annotated[LlmService, Tag("service:llm")] | Annotated[Dist, Tag("service:dist")],
    Discriminator(_service_kind),
]


class Workload(_Model):
    arrivals: Arrivals
    service: Service = Field(
        description="execution time of one job on a warm worker, or {type: llm, ...}: a batching LLM engine"
    )
    tokens: Tokens | None = Field(None, description="token counts per request (LLM service; drawn)")

    @model_validator(mode="after")
    def _tokens(self) -> Workload:
        a = self.arrivals
        trace_tokens = isinstance(a, TraceArrivals) and a.format in TOKEN_FORMATS
        if isinstance(self.service, LlmService):
            if self.tokens is None and not trace_tokens:
                raise ValueError(
                    "tokens: a service of type llm needs token counts: expected workload.tokens "
                    "({input: ..., output: ...}) or a trace format with tokens (" + ", ".join(TOKEN_FORMATS) + ")"
                )
            if self.tokens is not None and trace_tokens:
                raise ValueError("tokens: the trace gives each request's token counts; remove workload.tokens")
        elif self.tokens is not None:
            raise ValueError("tokens: token counts are used by a service of type llm only")
        return self

    @property
    def llm(self) -> LlmService | None:
        return self.service if isinstance(self.service, LlmService) else None


class PriceOverride(_Model):
    flex: Float = Field(ge=0, le=1e6, description="USD per GPU per second, flex workers")
    active: Float | None = Field(None, ge=0, le=1e6, description="USD per GPU per second, active workers")


BILLING_STATES = ("initializing", "idle", "running", "throttled", "outdated", "unhealthy")
#: the phases a ``billing.states`` key may name after its state (``running.warm``)
BILLING_PHASES: dict[str, tuple[str, ...]] = {"initializing": COLD_PHASES, "running": ("busy", "warm")}


class Billing(_Model):
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


class Faults(_Model):
    """Worker faults (simserve.sim.faults): failed or slow cold starts and crashes make workers unhealthy."""

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


class Deploy(_Model):
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


class Event(_Model):
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


class Scenario(_Model):
    """A complete, validated scenario. Times in seconds, sizes in bytes, rates per second."""

    name: str = "scenario"
    seed: Int = Field(0, ge=0)
    horizon: Duration = Field(7200.0, description="simulated time")
    warmup: Duration = Field(0.0, description="excluded from statistics")
    replications: Int = Field(1, ge=1, le=limits.MAX_REPLICATIONS)
    endpoint: Endpoint = Field(default_factory=Endpoint)
    cold_start: ColdStart = Field(default_factory=ColdStart)
    hosts: list[Host] = Field(default_factory=list)
    workload: Workload
    pricing: dict[str, PriceOverride] = Field(default_factory=dict)
    billing: Billing = Field(default_factory=Billing)
    faults: Faults | None = Field(None, description="worker faults; absent: workers never fail")
    events: list[Event] = Field(default_factory=list, description="timeline of deploys and setting changes")
    plan: PlanSpec | None = Field(
        None, exclude=True, description="capacity-planner SLOs and search space (read by `simserve plan`)"
    )
    base_dir: str = Field(".", description="directory trace paths are relative to (set by the loader)")
    max_arrivals: Int = Field(
        limits.DEFAULT_MAX_ARRIVALS, ge=1, description="refuse a run that implies more arrivals than this"
    )

    @field_validator("pricing", mode="before")
    @classmethod
    def _gpu_keys(cls, v: Any) -> Any:
        return {_gpu_name(k): x for k, x in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if self.horizon <= 0:
            raise ValueError("horizon: expected a duration greater than zero")
        if self.warmup >= self.horizon:
            raise ValueError(f"warmup ({self.warmup}s) must be shorter than horizon ({self.horizon}s)")
        for name in self.pricing:
            try:
                catalog.lookup(name)
            except KeyError:
                raise ValueError(f"pricing: unknown GPU {name!r}") from None
        arrivals = self.workload.arrivals
        if isinstance(arrivals, TraceArrivals) and not self.trace_path().is_file():
            raise ValueError(f"workload.arrivals.path: trace file not found: {self.trace_path()}")
        if (
            isinstance(arrivals, WeeklyArrivals)
            and arrivals.csv is not None
            and not self.data_path(arrivals.csv).is_file()
        ):
            raise ValueError(f"workload.arrivals.csv: weekly profile not found: {self.data_path(arrivals.csv)}")
        if self.hosts and not any(h.gpu.upper() in {g.upper() for g in self.endpoint.gpu} for h in self.hosts):
            raise ValueError(
                f"endpoint.gpu: no host pool in hosts serves {', '.join(self.endpoint.gpu)}; expected a hosts entry "
                f"with one of these GPUs (pools: {', '.join(sorted({h.gpu for h in self.hosts}))})"
            )
        self._check_bounds()
        llm = self.workload.llm
        if llm is not None:
            for gpu in self.endpoint.gpu:
                try:
                    params = llm.engine(gpu)
                except KeyError as exc:
                    raise ValueError(
                        f"workload.service.{exc.args[0]}; expected one value, a {gpu} row in its table, or a "
                        f"model with catalog defaults for {gpu}"
                    ) from None
                if params.gpus_needed > self.endpoint.gpus_per_worker:
                    raise ValueError(
                        f"workload.service.model: {llm.model} on {gpu} needs {params.gpus_needed} GPUs per worker; "
                        f"expected endpoint.gpus_per_worker >= {params.gpus_needed}"
                    )
        for host in self.hosts:
            if host.gpus_per_host < self.endpoint.gpus_per_worker:
                raise ValueError(
                    f"hosts: a {host.gpu} host has {host.gpus_per_host} GPUs, fewer than gpus_per_worker "
                    f"({self.endpoint.gpus_per_worker})"
                )
        self._check_timeline()
        return self

    def _check_bounds(self) -> None:
        """How much work the scenario implies, against ``simserve.limits``: arrivals, autoscaler ticks,
        bursty periods, tenant changes and hosts (a trace's arrivals are checked when it is read)."""
        horizon = self.horizon
        a = self.workload.arrivals
        if not isinstance(a, TraceArrivals):
            rate = a.rate if isinstance(a, PoissonArrivals) else a.mean_rate
            expected = rate * horizon
            if expected > self.max_arrivals:
                raise ValueError(
                    f"workload.arrivals: the scenario implies about {limits.format_count(expected)} arrivals "
                    f"({rate:g}/s over a {horizon:g} s horizon), more than max_arrivals = "
                    f"{limits.format_count(self.max_arrivals)}; shorten the horizon or raise the limit "
                    f"(--set max_arrivals=N)"
                )
        if isinstance(a, BurstyArrivals) and horizon / (a.mean_burst + a.mean_gap) > limits.MAX_BURSTY_PERIODS:
            raise ValueError(
                f"workload.arrivals.mean_gap: {limits.format_count(horizon / (a.mean_burst + a.mean_gap))} burst "
                f"cycles over the horizon, more than {limits.format_count(limits.MAX_BURSTY_PERIODS)}; expected "
                f"mean_burst + mean_gap of at least {horizon / limits.MAX_BURSTY_PERIODS:g} s"
            )
        ticks = horizon / self.endpoint.scaler_interval
        if ticks > limits.MAX_SCALER_TICKS:
            raise ValueError(
                f"endpoint.scaler_interval: {limits.format_count(ticks)} autoscaler ticks over the horizon, more "
                f"than {limits.format_count(limits.MAX_SCALER_TICKS)}; expected an interval of at least "
                f"{horizon / limits.MAX_SCALER_TICKS:g} s"
            )
        n_hosts = sum(h.count for h in self.hosts)
        if n_hosts > limits.MAX_HOSTS:
            raise ValueError(f"hosts: {n_hosts:,} hosts in all pools, more than {limits.MAX_HOSTS:,}")
        changes = sum(
            h.count * horizon / h.other_tenants.time_scale
            for h in self.hosts
            if h.other_tenants is not None and h.other_tenants.csv is None
        )
        if changes > limits.MAX_TENANT_CHANGES:
            raise ValueError(
                f"hosts: other_tenants.time_scale implies {limits.format_count(changes)} demand changes over the "
                f"horizon, more than {limits.format_count(limits.MAX_TENANT_CHANGES)}; expected a longer time_scale"
            )

    def _check_timeline(self) -> None:
        """Each ``set`` event, applied in time order, must leave a valid endpoint; CSV tenant files must exist."""
        for pool in self.hosts:
            if pool.other_tenants is not None and pool.other_tenants.csv is not None:
                p = Path(pool.other_tenants.csv)
                if not (p if p.is_absolute() else Path(self.base_dir) / p).is_file():
                    raise ValueError(f"hosts: other_tenants CSV not found: {pool.other_tenants.csv}")
        endpoint = self.endpoint.model_dump()
        for ev in sorted(self.events, key=lambda e: e.at):
            for key, value in (ev.set or {}).items():
                node = endpoint
                parts = key.split(".")[1:]
                for part in parts[:-1]:
                    node = node[part]
                node[parts[-1]] = value
            if ev.set:
                try:
                    Endpoint.model_validate(endpoint)
                except ValidationError as err:
                    e = err.errors(include_url=False)[0]
                    raise ValueError(f"events: set at {ev.at:g}s: {e['msg'].removeprefix('Value error, ')}") from None

    def data_path(self, path: str) -> Path:
        """A file the scenario names (relative paths against ``base_dir``)."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def trace_path(self) -> Path:
        """The trace file of ``workload.arrivals`` (relative paths against ``base_dir``)."""
        arrivals = self.workload.arrivals
        if not isinstance(arrivals, TraceArrivals):
            raise TypeError(f"workload.arrivals is {arrivals.type!r}, not a trace: no trace file")
        p = Path(arrivals.path)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def digest(self) -> str:
        """Short hash of the resolved scenario, for provenance in results."""
        data = self.model_dump(mode="json", exclude={"base_dir", "max_arrivals"})  # a guard, not the model
        for key in ("faults", "events"):  # absent dynamics sections leave digests of older scenarios unchanged
            if not data.get(key):
                data.pop(key, None)
        for pool in data.get("hosts", []):
            if pool.get("other_tenants") is None:
                pool.pop("other_tenants", None)
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------- loading
#: a scenario file larger than this is refused before it is parsed
MAX_SCENARIO_BYTES = 1 << 20


def read_text_file(path: Path, label: str, max_bytes: int) -> str:
    """The text of a UTF-8 file (a BOM is allowed), or a one-line ``ScenarioError``: unreadable, too large,
    a directory, or not UTF-8 (naming the first bad byte)."""
    try:
        if path.is_dir():
            raise ScenarioError(label, "", "expected a file, got a directory")
        size = path.stat().st_size
        if size > max_bytes:
            raise ScenarioError(label, "", f"expected a file under {max_bytes // 1024} KiB; got {size} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(label, "", f"cannot read file ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            label, "", f"expected UTF-8 text; byte 0x{data[exc.start]:02x} on line {line} is not UTF-8"
        ) from None


class ScenarioError(ValueError):
    """Bad scenario input: ``str(err)`` is one line naming the file, field path and expectation."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source, self.path, self.message = source, path, message
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(where + message)


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in (
            "constant",
            "exponential",
            "lognormal",
            "gamma",
            "empirical",
            "geometric",
            "poisson",
            "diurnal",
            "bursty",
            "trace",
            "weekly",
            "queue_delay",
            "request_count",
            "per_request",
            "function-before[_coerce_dist()]",
        ) or str(item).startswith(("function-", "service:", "per-gpu:")):
            continue  # union tags and validator wrappers are not field names users wrote
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


_FIELD_PATH = re.compile(r"[A-Za-z_][\w.\[\]]*")


def _first_error(err: ValidationError) -> tuple[str, str]:
    e = err.errors(include_url=False)[0]
    msg = e["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if e["type"] == "extra_forbidden":
        msg = "unknown key (not part of the scenario format; see `simserve schema`)"
    elif e["type"] == "missing":
        msg = "required field is missing"
    elif e["type"] == "union_tag_invalid":
        msg = f"expected 'type' to be one of {e.get('ctx', {}).get('expected_tags', '')}"
    elif "input" in e and e["type"] not in ("value_error",) and "got" not in msg:
        msg = f"{msg}; got {e['input']!r}"
    path = _format_loc(tuple(e["loc"]))
    if e["type"] == "value_error":  # cross-field checks of a model name their field: "field.path: message"
        head, sep, rest = msg.partition(": ")
        if sep and _FIELD_PATH.fullmatch(head):
            return (f"{path}.{head}" if path else head), rest
    return path, msg


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {} if node.get(k) is None else node[k]
            if not isinstance(node[k], dict):
                raise ScenarioError("--set", dotted, f"{k} is not a section")
        node = node[k]
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"endpoint.max_workers=5"`` -> ``("endpoint.max_workers", 5)`` (value read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError("--set", text, "expected dotted.key=value, e.g. endpoint.max_workers=5")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except YamlInputError as exc:
        if not exc.malformed:
            raise ScenarioError("--set", key.strip(), str(exc)) from None
        value = raw
    return key.strip(), value


def load_scenario(
    source: str | Path | dict[str, Any],
    overrides: dict[str, Any] | list[str] | None = None,
) -> Scenario:
    """Load and validate a scenario from a YAML path or a dict, applying dotted overrides.

    ``overrides`` is a dict ``{"endpoint.max_workers": 5}`` or a list of ``"key=value"``
    strings. Raises ``ScenarioError`` (a ``ValueError``) on any bad input.
    """
    if isinstance(source, dict):
        label, data, base = "<scenario>", copy.deepcopy(source), Path(source.get("base_dir", "."))
    else:
        path = Path(source)
        label, base = str(path), path.parent
        try:
            data = load_yaml(read_text_file(path, label, MAX_SCENARIO_BYTES))
        except YamlInputError as exc:
            raise ScenarioError(label, "", str(exc)) from None
        if not isinstance(data, dict):
            raise ScenarioError(label, "", "expected a YAML mapping of scenario keys at the top level")
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides or [])
    for key, value in items:
        _set_dotted(data, key, value)
    data.setdefault("base_dir", str(base))
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        path_str, msg = _first_error(err)
        raise ScenarioError(label, path_str, msg) from None
    except (TypeError, ValueError) as err:  # defensive: validators that raise outside pydantic
        raise ScenarioError(label, "", str(err)) from None


def scenario_json_schema() -> dict[str, Any]:
    """JSON schema of the scenario format, for editors."""
    schema = Scenario.model_json_schema(mode="validation")
    schema.get("properties", {}).pop("base_dir", None)
    return schema
