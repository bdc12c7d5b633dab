"""The platform's limits on requests to ``simserve serve``: rate limits (429) and policy bounds (400).

Owns ``RATE_LIMITS`` (per route: requests per window and requests in flight at once, the documented
values of ``reference/runpod.md`` §4.2), ``scaled_limits`` and ``parse_rate_limits`` (the CLI's
``--rate-limits on|off|FACTOR``), ``RateLimiter`` (a sliding window per route: a request is refused
while the route already admitted its limit in the last ``window_s``; the clock is injected) and
``POLICY_BOUNDS_MS`` with ``policy_ms`` (a request's ``policy.executionTimeout`` / ``policy.ttl``
checked against the platform's range, the bound named in the refusal). No HTTP library, no rule of
the endpoint core: these limits change no job's cost or latency, only whether a request is taken.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """At most ``requests`` admitted per ``window_s`` (sliding) and ``concurrent`` in flight at once."""

    requests: int
    window_s: float
    concurrent: int | None = None


#: the platform's documented limits (``send-requests.mdx``; runpod.md §4.2), by route name
RATE_LIMITS: dict[str, RouteLimit] = {
    "run": RouteLimit(1000, 10.0, 200),
    "runsync": RouteLimit(2000, 10.0, 400),
    "cancel": RouteLimit(100, 10.0),
    "purge-queue": RouteLimit(2, 10.0),
}

RATE_LIMITS_FORM = "on, off or a factor that scales every limit (e.g. 10)"


def scaled_limits(factor: float) -> dict[str, RouteLimit]:
    """``RATE_LIMITS`` with every count times ``factor`` (rounded up, at least 1).

    >>> scaled_limits(10)["purge-queue"]
    RouteLimit(requests=20, window_s=10.0, concurrent=None)
    >>> scaled_limits(0.5)["run"]
    RouteLimit(requests=500, window_s=10.0, concurrent=100)
    """

    def times(n: int) -> int:
        return max(1, math.ceil(n * factor))

    return {
        k: replace(v, requests=times(v.requests), concurrent=None if v.concurrent is None else times(v.concurrent))
        for k, v in RATE_LIMITS.items()
    }


def parse_rate_limits(text: str) -> dict[str, RouteLimit] | None:
    """``--rate-limits``: the limits to apply (None: off).

    >>> parse_rate_limits("off") is None, parse_rate_limits("on") == RATE_LIMITS
    (True, True)
    """
    word = text.strip().lower()
    if word == "off":
        return None
    if word == "on":
        return dict(RATE_LIMITS)
    try:
        factor = float(word)
    except ValueError:
        raise ValueError(f"expected {RATE_LIMITS_FORM}; got {text!r}") from None
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"expected {RATE_LIMITS_FORM}; got {text!r}")
    return scaled_limits(factor)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused, and when the route takes one again (s; the ``Retry-After`` header)."""

    message: str
    retry_after_s: float


class RateLimiter:
    """Sliding-window rate limits and in-flight limits by route; ``now()`` is the server's clock (s).

    >>> t = [0.0]
    >>> lim = RateLimiter({"purge-queue": RouteLimit(2, 10.0)}, lambda: t[0])
    >>> [lim.admit("purge-queue") is None for _ in range(3)]
    [True, True, False]
    >>> t[0] = 10.0; lim.admit("purge-queue") is None      # the first two left the window
    True
    """

    def __init__(self, limits: Mapping[str, RouteLimit], now: Callable[[], float]) -> None:
        self.limits = dict(limits)
        self.now = now
        self._admitted: dict[str, deque[float]] = {name: deque() for name in self.limits}
        self.in_flight: dict[str, int] = dict.fromkeys(self.limits, 0)

    def admit(self, route: str) -> Refusal | None:
        """Take one request of ``route`` (None), or refuse it; an admitted one is in flight until ``done``."""
        lim = self.limits.get(route)
        if lim is None:
            return None
        now = self.now()
        times = self._admitted[route]
        while times and times[0] <= now - lim.window_s:
            times.popleft()
        if lim.concurrent is not None and self.in_flight[route] >= lim.concurrent:
            return Refusal(f"rate limit: /{route} takes at most {lim.concurrent} requests at once", 1.0)
        if len(times) >= lim.requests:
            wait = max(times[0] + lim.window_s - now, 0.0)
            return Refusal(f"rate limit: /{route} takes at most {lim.requests} requests per {lim.window_s:g} s", wait)
        times.append(now)
        self.in_flight[route] += 1
        return None

    def done(self, route: str) -> None:
        """An admitted request of ``route`` was answered."""
        if route in self.in_flight:
            self.in_flight[route] -= 1


DAY_MS = 24 * 3600 * 1000
#: the platform's range of each per-request policy value, in ms (runpod.md §3.1: execution timeout
#: 5 s-7 days, job TTL 10 s-7 days)
POLICY_BOUNDS_MS: dict[str, tuple[int, int]] = {
    "executionTimeout": (5_000, 7 * DAY_MS),
    "ttl": (10_000, 7 * DAY_MS),
}


def policy_ms(value: object, name: str, bounded: bool = True) -> float | str:
    """``policy.<name>`` in ms, or why it is refused (a positive number; with ``bounded``, inside the
    platform's range, the bound named).

    >>> policy_ms(60_000, "ttl"), policy_ms(400, "executionTimeout")
    (60000.0, "'policy.executionTimeout': 400 ms is under the platform's minimum of 5000 ms (5 s)")
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        return f"'policy.{name}': expected a positive number of milliseconds"
    ms = float(value)  # type: ignore[arg-type]
    lo, hi = POLICY_BOUNDS_MS[name]
    if bounded and ms < lo:
        return f"'policy.{name}': {ms:.15g} ms is under the platform's minimum of {lo} ms ({lo / 1000:g} s)"
    if bounded and ms > hi:
        return f"'policy.{name}': {ms:.15g} ms is over the platform's maximum of {hi} ms ({hi // DAY_MS} days)"
    return ms
