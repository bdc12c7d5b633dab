"""The ``plan:`` section of a scenario and the planner's small languages (SLOs and ``--vary``).

Owns ``PlanSpec``, a frozen pydantic model the scenario schema embeds as an optional field,
``parse_slo("latency_p95<=8s")`` -> ``Slo`` (metric name, operator, threshold in base units:
seconds, fractions, USD), ``Slo.value(summary)`` (its figure in a run's summary dict; ``failed``
is failed + timed_out + rejected over arrived) and
``parse_vary("endpoint.max_workers=3,5,10")`` -> ``(key, values)``. Raises ``PlanError`` with
one line saying what was expected, so a bad plan section fails at load time with its field
path. Sits below ``simserve.scenario``: imports pydantic, yaml and ``simserve.units`` only
(no scenario, no simulator, no ``simserve.plan``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simserve import limits
from simserve.safe_yaml import YamlInputError, load_yaml
from simserve.units import HOURS_PER_MONTH, parse_duration


class PlanError(ValueError):
    """Bad planner input (SLO, search space, options): ``str(err)`` is one line."""


def _get(section: str, key: str) -> Callable[[dict[str, Any]], float]:
    def get(summary: dict[str, Any]) -> float:
        v = (summary.get(section) or {}).get(key)
        return math.nan if v is None else float(v)

    return get


def _failed_fraction(summary: dict[str, Any]) -> float:
    r = summary.get("requests") or {}
    arrived = r.get("arrived") or 0
    bad = sum(int(r.get(k) or 0) for k in ("failed", "timed_out", "rejected"))
    return bad / arrived if arrived else 0.0


def cost_per_month_usd(summary: dict[str, Any]) -> float:
    """Monthly cost of a run's summary: ``cost_usd.per_hour`` x 730 h (NaN when missing)."""
    return _get("cost_usd", "per_hour")(summary) * HOURS_PER_MONTH


# name -> (extractor, kind of value, unit shown in tables)
METRICS: dict[str, tuple[Callable[[dict[str, Any]], float], str, str]] = {
    **{f"latency_{q}": (_get("latency_s", q), "duration", "s") for q in ("mean", "p50", "p90", "p95", "p99", "max")},
    **{f"queue_wait_{q}": (_get("queue_wait_s", q), "duration", "s") for q in ("mean", "p50", "p95", "p99")},
    **{f"ttft_{q}": (_get("ttft_s", q), "duration", "s") for q in ("mean", "p50", "p90", "p95", "p99")},
    **{f"tpot_{q}": (_get("tpot_s", q), "duration", "s") for q in ("mean", "p50", "p90", "p95", "p99")},
    "cold_start_fraction": (_get("cold_start", "fraction"), "fraction", ""),
    "failed": (_failed_fraction, "fraction", ""),
    "gpu_utilization": (lambda s: float(s.get("gpu_utilization") or 0.0), "fraction", ""),
    "cost_per_hour": (_get("cost_usd", "per_hour"), "usd", "$/h"),
    "cost_per_month": (cost_per_month_usd, "usd", "$/month"),
    "cost_per_1k": (_get("cost_usd", "per_1k_requests"), "usd", "$/1k"),
    "cost_per_1m_output_tokens": (_get("cost_usd", "per_1m_output_tokens"), "usd", "$/1M tok"),
}
SLO_FORM = 'NAME<=VALUE (or <, >=, >), e.g. "latency_p95<=8s" or "failed<=0.1%", with NAME one of ' + ", ".join(METRICS)
VARY_FORM = (
    "dotted.key=VALUES with VALUES a..b (integers), comma-separated values or a YAML list, "
    'e.g. "endpoint.max_workers=3,5,10" or "endpoint.active_workers=0..4"'
)
_SLO_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>|=<|=>)\s*(\S.*?)\s*$")
_RANGE_RE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Slo:
    """One service-level objective: ``metric op threshold`` (threshold in base units)."""

    text: str
    metric: str
    op: str
    threshold: float

    @property
    def upper(self) -> bool:
        """True for ``<=``/``<`` objectives (the figure must stay below the threshold)."""
        return self.op.startswith("<")

    def value(self, summary: dict[str, Any]) -> float:
        """This objective's figure in one run's summary (NaN when undefined, e.g. no completions)."""
        return METRICS[self.metric][0](summary)


def _threshold(kind: str, raw: str) -> float:
    text = raw.strip()
    if kind == "duration":
        return parse_duration(text)
    if kind == "usd":
        text = text.lstrip("$").replace(",", "")
        for suffix in ("/month", "/h", "/1k", "/1M tok", "/1M"):
            text = text.removesuffix(suffix)
    scale = 1.0
    if kind == "fraction" and text.endswith("%"):
        text, scale = text[:-1], 0.01
    value = float(text) * scale
    if not math.isfinite(value) or value < 0:
        raise ValueError(raw)
    return value


def parse_slo(text: str) -> Slo:
    """Parse one SLO expression.

    >>> parse_slo("latency_p95<=8s").threshold, parse_slo("failed<=0.1%").threshold
    (8.0, 0.001)
    """
    m = _SLO_RE.match(str(text))
    if not m:
        raise PlanError(f"--slo {text!r}: expected {SLO_FORM}")
    name, op, raw = m.group(1), m.group(2).replace("=<", "<=").replace("=>", ">="), m.group(3)
    if name not in METRICS:
        raise PlanError(f"--slo {text!r}: unknown figure {name!r}; expected one of {', '.join(METRICS)}")
    kind = METRICS[name][1]
    try:
        threshold = _threshold(kind, raw)
    except ValueError:
        want = {
            "duration": 'a duration like "8s" or "500ms"',
            "fraction": 'a fraction like "0.001" or "0.1%"',
            "usd": 'a dollar amount like "500" or "$500"',
        }[kind]
        raise PlanError(f"--slo {text!r}: expected {want} after {op}; got {raw!r}") from None
    return Slo(str(text).strip(), name, op, threshold)


def _scalar(raw: str) -> Any:
    try:
        return load_yaml(raw)
    except YamlInputError as exc:
        if not exc.malformed:
            raise PlanError(f"--vary {raw[:40]!r}: {exc}") from None
        return raw


def parse_values(key: str, spec: Any) -> list[Any]:
    """The candidate values of one search dimension from ``a..b``, ``x,y,z`` or a list."""
    if isinstance(spec, list):
        values = list(spec)
    elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
        values = [spec]
    elif isinstance(spec, str):
        m = _RANGE_RE.match(spec)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise PlanError(f"--vary {key}={spec}: empty range (expected a..b with a <= b)")
            if hi - lo >= limits.MAX_VARY_VALUES:
                raise PlanError(
                    f"--vary {key}={spec}: {hi - lo + 1:,} values, expected at most {limits.MAX_VARY_VALUES:,} per key"
                )
            values = list(range(lo, hi + 1))
        elif spec.strip().startswith("["):
            values = _scalar(spec)
            if not isinstance(values, list):
                raise PlanError(f"--vary {key}={spec}: expected {VARY_FORM}")
        else:
            values = [_scalar(v.strip()) for v in spec.split(",")]
    else:
        raise PlanError(f"--vary {key}={spec!r}: expected {VARY_FORM}")
    if len(values) > limits.MAX_VARY_VALUES:
        raise PlanError(f"--vary {key}: {len(values):,} values, expected at most {limits.MAX_VARY_VALUES:,} per key")
    if not values or any(v is None or v == "" for v in values):
        raise PlanError(f"--vary {key}={spec}: empty value; expected {VARY_FORM}")
    if len({repr(v) for v in values}) != len(values):
        raise PlanError(f"--vary {key}={spec}: repeated value")
    return values


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``"endpoint.max_workers=3,5,10"`` -> ``("endpoint.max_workers", [3, 5, 10])``."""
    key, sep, spec = str(text).partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip() or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", key):
        raise PlanError(f"--vary {text!r}: expected {VARY_FORM}")
    return key, parse_values(key, spec.strip())


def order_key(value: Any) -> float:
    """Numeric position of a value on an ordered axis (numbers, durations); ValueError if none."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return float(value)
    return parse_duration(value)


# ----------------------------------------------------------------------------- the plan: section
class PlanSpec(BaseModel):
    """What ``simserve plan`` searches for: the cheapest configuration meeting every SLO."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    slo: list[str] = Field(default_factory=list, description='objectives, e.g. ["latency_p95<=8s", "failed<=0.1%"]')
    vary: dict[str, str | list[Any] | int | float] = Field(
        default_factory=dict, description='search space: dotted key -> "a..b", "x,y,z" or a list'
    )
    replications: int = Field(3, ge=2, le=100, description="replications per candidate before sequential sampling")
    max_replications: int = Field(10, ge=2, le=200, description="most replications a close candidate may get")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="confidence level of the intervals")
    batch: int = Field(
        8, ge=1, le=1024, description="candidates per search round (fixed so local and cluster plans match)"
    )
    search: Literal["smart", "grid"] = Field("smart", description="smart (bisect, infer, prune) or grid (every point)")
    screen: bool = Field(
        True,
        description="smart search: rule out, without a run, candidates that a lower bound (an always-warm "
        "pool without cold starts, on the same jobs) already shows to violate an SLO",
    )
    monotone: list[str] | None = Field(
        None, description="keys where a larger value never worsens latency or failures (default: built-in list)"
    )

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
    def _reps(self) -> PlanSpec:
        if self.max_replications < self.replications:
            raise ValueError(
                f"max_replications ({self.max_replications}) must be at least replications ({self.replications})"
            )
        return self

    def next_count(self, n: int) -> int:
        """Replications a candidate judged on ``n`` has after one more batch: ``replications`` more, at most
        ``max_replications`` (the search's sequential sampling; the screen's counts follow it)."""
        return min(self.max_replications, n + self.replications)
