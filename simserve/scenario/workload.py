"""The ``workload`` section: arrival processes (Poisson, diurnal, bursty, weekly, traces) and services
(a service-time distribution or an LLM engine).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from simserve import limits
from simserve.dists import Dist, Duration
from simserve.scenario.base import Float, Int, Rate, StrictModel, gpu_name, not_bool
from simserve.traceformats import FORMAT_NAMES, NATIVE_FORMAT, TOKEN_FORMATS


# ----------------------------------------------------------------------------- workload
class PoissonArrivals(StrictModel):
    type: Literal["poisson"]
    rate: Rate = Field(description="mean arrival rate")


class DiurnalArrivals(StrictModel):
    """Sinusoidal non-homogeneous Poisson process."""

    type: Literal["diurnal"]
    mean_rate: Rate
    peak_to_trough: Float = Field(4.0, ge=1.0, le=1e6, description="peak rate / trough rate")
    period: Duration = Field(86400.0, gt=0, description="length of one cycle")
    phase: Duration = Field(0.0, description="time of the peak within the period")


class BurstyArrivals(StrictModel):
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


class WeeklyArrivals(StrictModel):
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


def _known_format(v: Any) -> Any:
    """A trace format name from the registry (``simserve.traceformats.FORMAT_NAMES``)."""
    if v not in FORMAT_NAMES:
        raise ValueError(f"unknown trace format {v!r}; expected one of {', '.join(FORMAT_NAMES)}")
    return v


#: a name of ``simserve.traceformats``'s registry (the JSON schema lists them)
TraceFormatName = Annotated[str, BeforeValidator(_known_format), Field(json_schema_extra={"enum": list(FORMAT_NAMES)})]


class TraceArrivals(StrictModel):
    """Replay arrival times (and service times or token counts, where the format has them) from a file."""

    type: Literal["trace"]
    path: str = Field(description="the trace file, relative to the YAML")
    format: TraceFormatName = Field(
        NATIVE_FORMAT,
        description="simserve: CSV with arrival_s (and optional service_s); the others are public traces by name "
        "(docs/traces.md)",
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


class DecodeStep(StrictModel):
    """One engine step of a batching LLM worker lasts ``base + per_sequence x sequences`` (plus prefill); a
    later step of a multi-step run (``scheduler_steps`` > 1, the GPU's work modelled) ``in_run`` instead."""

    base: Duration = Field(ge=0, le=3600, description="fixed time of one step")
    per_sequence: Duration = Field(0.0, ge=0, le=3600, description="added per sequence in the step")
    in_run: Duration = Field(
        0.0,
        ge=0,
        le=3600,
        description="CPU time of each later step of a multi-step run (its launch and input update; the run's "
        "first step pays base and per_sequence for the whole run)",
    )


#: the keys of one ``DecodeStep``: a mapping with none of them is a table by GPU
_STEP_KEYS = frozenset(DecodeStep.model_fields)

PositiveFloat = Annotated[float, Field(gt=0, le=1e12), BeforeValidator(not_bool)]
TokenCount = Annotated[int, Field(ge=1, le=10**12), BeforeValidator(not_bool)]


def _per_gpu_kind(v: Any) -> str:
    """A mapping whose keys are not DecodeStep's fields is a table by GPU; anything else is one value."""
    if isinstance(v, dict) and not (_STEP_KEYS & set(v)):
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


class StepCost(StrictModel):
    """The physics of an engine step beyond the simple form (``simserve.endpoint.engine.engine_step_s``).

    Each field absent takes the catalog's figure with ``model`` (unless ``prefill_tokens_per_s`` is given:
    then the step is the simple form, ``decode_step`` + prompt tokens / rate), else 0."""

    weights: Duration | None = Field(None, ge=0, le=3600, description="streaming the weights once (per step)")
    per_token: Duration | None = Field(None, ge=0, le=3600, description="linear layers, per token in the step")
    per_sampled: Duration | None = Field(None, ge=0, le=3600, description="LM head, per sequence emitting a token")
    per_kv_token: Duration | None = Field(
        None, ge=0, le=3600, description="decode attention, per KV-cache token the decodes attend to"
    )
    per_attention_pair: Duration | None = Field(
        None, ge=0, le=3600, description="prompt attention, per (query, key) token pair of the prompt chunks"
    )
    allreduce: Duration | None = Field(None, ge=0, le=3600, description="tensor-parallel all-reduces, per step")
    allreduce_per_token: Duration | None = Field(
        None, ge=0, le=3600, description="tensor-parallel all-reduces, per token in the step"
    )


#: StepCost field -> EngineParams field
_STEP_COST_FIELDS = {
    "weights": "weights_s",
    "per_token": "per_token_s",
    "per_sampled": "per_sampled_s",
    "per_kv_token": "per_kv_token_s",
    "per_attention_pair": "per_attention_pair_s",
    "allreduce": "allreduce_s",
    "allreduce_per_token": "allreduce_per_token_s",
}


class LlmService(StrictModel):
    """A continuous-batching LLM worker (vLLM-like): engine steps over the sequences in flight.

    Each of ``prefill_tokens_per_s``, ``decode_step`` and ``kv_cache_tokens`` is one value or a table by
    GPU name (the worker's GPU picks the row); with ``model`` the catalog's defaults for that model size
    fill what is not given (``simserve.llm_catalog``): the step's physics (``step_cost``) unless a
    ``prefill_tokens_per_s`` asks for the simple form, and the ``server``'s scheduler and CPU costs."""

    type: Literal["llm"]
    model: str | None = Field(None, description="catalog model size (e.g. 8b) whose per-GPU defaults fill gaps")
    prefill_tokens_per_s: PerGpuRate | None = Field(None, description="prompt tokens a worker processes per second")
    decode_step: PerGpuStep | None = Field(
        None, description="time of one engine step (with the catalog's physics: its CPU overhead)"
    )
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
    max_batched_tokens: Int | None = Field(
        None,
        ge=1,
        le=10**9,
        description="tokens one engine step processes (vLLM max_num_batched_tokens); absent: the catalog's "
        "with model, else unlimited",
    )
    server: str = Field(
        "vllm",
        description="serving engine whose scheduler and CPU costs the catalog fills in with model "
        "(simserve.llm_catalog.ENGINES: vllm, vllm-0.6-multistep, sglang-0.3)",
    )
    chunked_prefill: bool | None = Field(
        None,
        description="prompts are split to fit the step's token budget and run beside the decodes (vLLM's "
        "default); false: prefill-only steps of whole prompts (vLLM V0, SGLang). Default: the engine's "
        "with model, else true",
    )
    step_cost: StepCost | None = Field(
        None, description="the step's physics (weights, per token, attention, all-reduce); see StepCost"
    )
    scheduler_steps: Int | None = Field(
        None,
        ge=1,
        le=64,
        description="decoding steps run back to back before the scheduler admits a request (vLLM 0.6 "
        "--num-scheduler-steps; tokens of a run come out at its end); needs chunked_prefill: false. "
        "Default: the server's with model, else 1",
    )
    async_output: bool | None = Field(
        None,
        description="a step's first tokens are processed while the next step runs and come out at its end "
        "(vLLM 0.6's asynchronous output processor). Default: the server's with model, else false",
    )
    frontend_per_request: Duration | None = Field(
        None,
        ge=0,
        le=60,
        description="API-server time per request (HTTP, tokenizing), one request at a time; requests reach "
        "the engine together when it has none left. Default: the engine's with model, else 0",
    )
    intake_per_request: Duration | None = Field(
        None,
        ge=0,
        le=60,
        description="then each request's latency on its way to the engine, every request at once (vLLM V1's "
        "engine core is a process of its own: requests and outputs cross to it and back). Default: the "
        "engine's with model, else 0",
    )
    host_cpu: PositiveFloat = Field(
        1.0,
        description="the serving engine's CPU time on this host relative to the hosts the catalog's CPU figures "
        "were fitted on (scales the server's frontend, intake, step, per-sequence and per-prompt-token figures; 2: a "
        "CPU twice as slow; docs/llm-validation.md measured Lambda's A100 hosts at 1.3 of their H100 hosts)",
    )

    @model_validator(mode="after")
    def _take_covers_batch(self) -> LlmService:
        if self.max_concurrency is not None and self.max_concurrency < self.max_batch:
            raise ValueError(
                f"max_concurrency: expected at least max_batch ({self.max_batch}), got {self.max_concurrency}"
            )
        return self

    @model_validator(mode="after")
    def _multi_step_without_chunks(self) -> LlmService:
        if (self.scheduler_steps or 1) > 1 and self.chunked_prefill:
            raise ValueError("scheduler_steps: a multi-step run (> 1) needs chunked_prefill: false")
        return self

    @field_validator("server")
    @classmethod
    def _known_server(cls, v: str) -> str:
        from simserve import llm_catalog

        if v not in llm_catalog.ENGINES:
            raise ValueError(f"unknown serving engine {v!r}; expected one of {', '.join(llm_catalog.ENGINES)}")
        return v

    @property
    def take(self) -> int:
        """Requests one worker holds at once (in its batch or waiting in its engine)."""
        return self.max_batch if self.max_concurrency is None else self.max_concurrency

    @field_validator("prefill_tokens_per_s", "decode_step", "kv_cache_tokens", mode="before")
    @classmethod
    def _gpu_keys(cls, v: Any) -> Any:
        if isinstance(v, dict) and not (_STEP_KEYS & set(v)):
            return {gpu_name(k): x for k, x in v.items()}
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

        from simserve import llm_catalog

        prof = None
        if self.model is not None:
            try:
                prof = llm_catalog.profile(self.model, gpu)
            except KeyError:
                prof = None
        sw = llm_catalog.ENGINES[self.server] if prof is not None else None
        host = self.host_cpu  # the catalog's CPU figures are their fit's hosts'; this host's speed scales them
        prefill = pick(self.prefill_tokens_per_s, "prefill_tokens_per_s")
        step = pick(self.decode_step, "decode_step")
        kv = pick(self.kv_cache_tokens, "kv_cache_tokens")
        simple = self.prefill_tokens_per_s is not None  # a prefill rate given: the simple form, no catalog physics
        physics = {f: 0.0 for f in _STEP_COST_FIELDS.values()}
        if prof is not None and not simple:
            physics.update(prof.physics())
        if self.step_cost is not None:
            for name, field in _STEP_COST_FIELDS.items():
                given = getattr(self.step_cost, name)
                if given is not None:
                    physics[field] = float(given)
        if prefill is None:
            if prof is None:
                if simple or self.step_cost is None:
                    raise KeyError(f"prefill_tokens_per_s: no value for GPU {gpu}")
                prefill = math.inf
            elif sw is not None and not simple and sw.prompt_token_s > 0:
                prefill = 1.0 / (sw.prompt_token_s * host)  # the engine's CPU per prompt token (GPU: the physics)
            else:
                prefill = prof.prefill_tokens_per_s
        if step is None:
            if prof is None:
                if simple or self.step_cost is None:
                    raise KeyError(f"decode_step: no value for GPU {gpu}")
                step = DecodeStep(base=0.0, per_sequence=0.0)  # physics alone (step_cost)
            elif sw is not None and not simple:
                step = DecodeStep(
                    base=sw.step_s * host, per_sequence=sw.per_sequence_s * host, in_run=sw.in_run_s * host
                )
            else:
                step = DecodeStep(base=prof.decode_base_s, per_sequence=prof.decode_per_sequence_s)
        budget = self.max_batched_tokens
        if budget is None and sw is not None and prof is not None:
            budget = sw.max_batched_tokens or prof.max_batched_tokens
        chunked = self.chunked_prefill
        steps = self.scheduler_steps
        frontend = self.frontend_per_request
        intake = self.intake_per_request
        async_output = self.async_output
        if sw is not None:
            async_output = sw.async_output if async_output is None else async_output
            chunked = sw.chunked_prefill if chunked is None else chunked
            steps = sw.scheduler_steps if steps is None else steps
            frontend = sw.frontend_s * host if frontend is None else frontend
            intake = sw.intake_s * host if intake is None else intake
        if kv is None and prof is not None and self.kv_cache_tokens is None:
            kv = prof.kv_cache_tokens
        elif kv is None and isinstance(self.kv_cache_tokens, dict):
            raise KeyError(f"kv_cache_tokens: no value for GPU {gpu}")
        return EngineParams(
            gpus_needed=prof.gpus_per_worker if prof is not None else 1,
            prefill_tokens_per_s=float(prefill),
            base_s=float(step.base),
            per_sequence_s=float(step.per_sequence),
            in_run_s=float(step.in_run),
            max_batch=self.max_batch,
            kv_cache_tokens=int(kv) if kv is not None else None,
            max_batched_tokens=budget,
            chunked_prefill=True if chunked is None else chunked,
            scheduler_steps=1 if steps is None else steps,
            frontend_s=float(frontend or 0.0),
            intake_s=float(intake or 0.0),
            async_output=bool(async_output),
            **physics,
        )


class EngineParams(BaseModel):
    """What one batching worker on one GPU type does: resolved from ``LlmService.engine(gpu)``. The step
    time rule is ``simserve.endpoint.engine.engine_step_s`` (seconds; the physics terms default to 0, the
    simple form)."""

    model_config = ConfigDict(frozen=True)

    gpus_needed: int  # GPUs per worker the catalog profile assumes (1 without one)
    prefill_tokens_per_s: float  # inf: prompt tokens cost only through the physics terms
    base_s: float
    per_sequence_s: float
    max_batch: int
    kv_cache_tokens: int | None
    in_run_s: float = 0.0  # CPU time of a later step of a multi-step run (when the physics model the GPU)
    max_batched_tokens: int | None = None  # tokens per step (None: unlimited)
    chunked_prefill: bool = True
    scheduler_steps: int = 1  # decoding steps per multi-step run
    frontend_s: float = 0.0  # serial API-server time per request before the engine
    intake_s: float = 0.0  # then each request's latency to the engine, beside the others (V1's engine core)
    async_output: bool = False  # a step's first tokens come out with the next step (vLLM 0.6's output processor)
    weights_s: float = 0.0
    per_token_s: float = 0.0
    per_sampled_s: float = 0.0
    per_kv_token_s: float = 0.0
    per_attention_pair_s: float = 0.0
    allreduce_s: float = 0.0
    allreduce_per_token_s: float = 0.0

    def handler_figures(self, speed: float = 1.0) -> dict[str, float | int | bool | None]:
        """The figures a worker's engine (``examples/handlers/llm_engine.py``) runs by, in wall seconds at
        ``speed`` (times divided, rates multiplied)."""
        times = {
            "base_s": self.base_s,
            "per_sequence_s": self.per_sequence_s,
            "in_run_s": self.in_run_s,
            **{f: getattr(self, f) for f in _STEP_COST_FIELDS.values()},
        }
        return {
            **{k: v / speed for k, v in times.items()},
            "prefill_tokens_per_s": self.prefill_tokens_per_s * speed,
            "max_batch": self.max_batch,
            "kv_cache_tokens": self.kv_cache_tokens,
            "max_batched_tokens": self.max_batched_tokens,
            "chunked_prefill": self.chunked_prefill,
            "scheduler_steps": self.scheduler_steps,
            "frontend_s": self.frontend_s / speed,
            "intake_s": self.intake_s / speed,
            "async_output": self.async_output,
        }


class Tokens(StrictModel):
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


class Workload(StrictModel):
    arrivals: Arrivals
    service: Service = Field(
        description="execution time of one job on a warm worker, or {type: llm, ...}: a batching LLM engine"
    )
    tokens: Tokens | None = Field(None, description="token counts per request (LLM service; drawn)")
    low_priority_share: Float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of jobs sent low priority (the API's policy.lowPriority), 0..1, drawn per job: "
        "they run on free workers but never trigger a scale-up",
    )
    refresh_share: Float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of jobs after which their worker refreshes (the SDK's refresh_worker), 0..1, drawn "
        "per job: the worker restarts once job-free, a cold start without FlashBoot; 1 = after every job",
    )

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
