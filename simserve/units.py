"""Unit parsing for scenario files: durations, sizes and rates.

Owns the one place where human strings ("10min", "8GB", "0.5/s") become floats in base
units: seconds, bytes and events per second. No logic beyond parsing; imports nothing of
simserve. Every parser raises ``ValueError`` with a message that says the expected form.
"""

from __future__ import annotations

import math
import re

Seconds = float
Bytes = float
PerSecond = float

#: hours in the month the cost views and the planner quote ($/month = $/hour x 730)
HOURS_PER_MONTH = 730.0

_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_SIZE_UNITS: dict[str, float] = {
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
}
_RATE_UNITS: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "min": 1 / 60.0,
    "m": 1 / 60.0,
    "h": 1 / 3600.0,
    "d": 1 / 86400.0,
}

_NUM = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_DURATION_RE = re.compile(rf"^\s*{_NUM}\s*([a-zA-Z]*)\s*$")
_SIZE_RE = re.compile(rf"^\s*{_NUM}\s*([a-zA-Z]*)\s*$")
_RATE_RE = re.compile(rf"^\s*{_NUM}\s*/\s*([a-zA-Z]+)\s*$")
_BANDWIDTH_RE = re.compile(rf"^\s*{_NUM}\s*([a-zA-Z]+)\s*/\s*s\s*$")

DURATION_FORM = 'a duration: seconds as a number, or a string like "500ms", "5s", "10min", "2h", "7d"'
SIZE_FORM = 'a size: bytes as a number, or a string like "512MB", "8GB", "16GiB", "2TB"'
RATE_FORM = 'a rate: events per second as a number, or a string like "0.5/s", "30/min", "100/h"'
BANDWIDTH_FORM = 'a bandwidth: bytes per second as a number, or a string like "200MB/s", "2GB/s"'


#: the largest values the parsers accept: far beyond any real figure, small enough that sums and
#: products of them (cost = price x seconds, pull time = size / bandwidth) stay finite
MAX_DURATION_S = 1e12
MAX_SIZE_B = 1e18
MAX_RATE_PER_S = 1e9
MIN_BANDWIDTH_B_PER_S = 1.0


def _finite_nonneg(value: float, form: str, most: float = math.inf) -> float:
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"expected {form}; got {value!r}")
    if value > most:
        raise ValueError(f"expected {form}, at most {most:g}; got {value:g}")
    return float(value)


def parse_duration(value: object) -> Seconds:
    """Parse a duration into seconds.

    >>> parse_duration("10min"), parse_duration(2.5), parse_duration("2h")
    (600.0, 2.5, 7200.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite_nonneg(float(value), DURATION_FORM, MAX_DURATION_S)
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            unit = m.group(2).lower() or "s"
            if unit in _DURATION_UNITS:
                return _finite_nonneg(float(m.group(1)) * _DURATION_UNITS[unit], DURATION_FORM, MAX_DURATION_S)
    raise ValueError(f"expected {DURATION_FORM}; got {value!r}")


def parse_size(value: object) -> Bytes:
    """Parse a size into bytes (GB = 1e9, GiB = 2**30).

    >>> parse_size("8GB"), parse_size("1GiB")
    (8000000000.0, 1073741824.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite_nonneg(float(value), SIZE_FORM, MAX_SIZE_B)
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m:
            unit = m.group(2).lower() or "b"
            if unit in _SIZE_UNITS:
                return _finite_nonneg(float(m.group(1)) * _SIZE_UNITS[unit], SIZE_FORM, MAX_SIZE_B)
    raise ValueError(f"expected {SIZE_FORM}; got {value!r}")


def parse_rate(value: object) -> PerSecond:
    """Parse an event rate into events per second.

    >>> parse_rate("30/min"), parse_rate(0.5)
    (0.5, 0.5)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite_nonneg(float(value), RATE_FORM, MAX_RATE_PER_S)
    if isinstance(value, str):
        m = _RATE_RE.match(value)
        if m and m.group(2).lower() in _RATE_UNITS:
            return _finite_nonneg(float(m.group(1)) * _RATE_UNITS[m.group(2).lower()], RATE_FORM, MAX_RATE_PER_S)
    raise ValueError(f"expected {RATE_FORM}; got {value!r}")


def parse_bandwidth(value: object) -> PerSecond:
    """Parse a bandwidth into bytes per second.

    >>> parse_bandwidth("200MB/s")
    200000000.0
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bw = _finite_nonneg(float(value), BANDWIDTH_FORM)
    elif isinstance(value, str) and (m := _BANDWIDTH_RE.match(value)) and m.group(2).lower() in _SIZE_UNITS:
        bw = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    else:
        raise ValueError(f"expected {BANDWIDTH_FORM}; got {value!r}")
    if not MIN_BANDWIDTH_B_PER_S <= bw <= MAX_SIZE_B:
        raise ValueError(
            f"expected {BANDWIDTH_FORM}, from {MIN_BANDWIDTH_B_PER_S:g} to {MAX_SIZE_B:g} bytes per second; "
            f"got {value!r}"
        )
    return bw
