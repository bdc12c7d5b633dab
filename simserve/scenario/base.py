"""Shared pieces of the scenario models: strict frozen models, unit-parsed number types, GPU names."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
)

from simserve.units import parse_bandwidth, parse_rate, parse_size

Size = Annotated[float, BeforeValidator(parse_size)]
Rate = Annotated[float, BeforeValidator(parse_rate)]
Bandwidth = Annotated[float, BeforeValidator(parse_bandwidth)]


def not_bool(v: Any) -> Any:
    """``count: true`` is not a count: YAML booleans are refused where a number is expected."""
    if isinstance(v, bool):
        raise ValueError(f"expected a number; got {v!r}")
    return v


Int = Annotated[int, BeforeValidator(not_bool)]
Float = Annotated[float, BeforeValidator(not_bool)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def gpu_name(v: Any) -> Any:
    """GPU names YAML reads as numbers (``4090``) are names all the same."""
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def gpu_list(v: Any) -> Any:
    v = gpu_name(v)
    return [v] if isinstance(v, str) else [gpu_name(x) for x in v] if isinstance(v, list) else v
