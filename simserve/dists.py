"""Service-time and cold-start-phase distributions: the schema and the vectorised sampler.

Owns the mapping from the scenario's ``{dist: ..., mean, cv}`` forms to numpy draws. A bare
duration is a constant. Sampling is vectorised (``sample(rng, n)``) because the simulator
draws all service times of a run up front. Imports pydantic and numpy only.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from simserve.units import parse_duration


def _dur(v: object) -> float:
    return parse_duration(v)


Duration = Annotated[float, BeforeValidator(_dur)]


class _DistBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def mean_s(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class Constant(_DistBase):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: Duration = Field(description="the duration, every time")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=float)

    def mean_s(self) -> float:
        return self.value


class Exponential(_DistBase):
    """Exponential with the given mean (cv = 1)."""

    dist: Literal["exponential"]
    mean: Duration = Field(description="mean duration")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n) if self.mean > 0 else np.zeros(n)

    def mean_s(self) -> float:
        return self.mean


class LogNormal(_DistBase):
    """Log-normal parameterised by its mean and coefficient of variation."""

    dist: Literal["lognormal"]
    mean: Duration = Field(description="mean duration")
    cv: float = Field(ge=0, le=100, description="coefficient of variation (std / mean), at most 100")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.mean == 0 or self.cv == 0:
            return np.full(n, self.mean, dtype=float)
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), n)

    def mean_s(self) -> float:
        return self.mean


class Gamma(_DistBase):
    """Gamma parameterised by its mean and coefficient of variation."""

    dist: Literal["gamma"]
    mean: Duration = Field(description="mean duration")
    cv: float = Field(ge=1e-6, le=100, description="coefficient of variation (std / mean), 1e-6 to 100")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.mean == 0:
            return np.zeros(n)
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, n)

    def mean_s(self) -> float:
        return self.mean


class Empirical(_DistBase):
    """Resample uniformly from observed values."""

    dist: Literal["empirical"]
    values: list[Duration] = Field(min_length=1, description="observed durations to resample")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size=n, replace=True)

    def mean_s(self) -> float:
        return float(np.mean(self.values))


class Geometric(_DistBase):
    """Geometric on 1, 2, 3, ... with the given mean (>= 1): the number of trials up to the first success
    with success probability 1 / mean, e.g. output tokens when each token ends the reply with a fixed chance."""

    dist: Literal["geometric"]
    mean: float = Field(ge=1, le=1e9, description="mean count (at least 1)")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.geometric(1.0 / self.mean, n).astype(float)

    def mean_s(self) -> float:
        return self.mean


DistSpec = Constant | Exponential | LogNormal | Gamma | Empirical | Geometric
_KINDS: dict[str, type[_DistBase]] = {
    "geometric": Geometric,
    "constant": Constant,
    "exponential": Exponential,
    "lognormal": LogNormal,
    "gamma": Gamma,
    "empirical": Empirical,
}


def _coerce_dist(v: Any) -> Any:
    if isinstance(v, (_DistBase, dict)):
        if isinstance(v, dict) and v.get("dist") not in _KINDS:
            raise ValueError(f"expected 'dist' to be one of {sorted(_KINDS)}; got {v.get('dist')!r}")
        return v
    return Constant(value=parse_duration(v))


Dist = Annotated[DistSpec, Field(discriminator="dist"), BeforeValidator(_coerce_dist)]
