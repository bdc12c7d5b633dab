"""The bounds that keep every run finite: how much work a scenario may ask for.

Owns the constants the scenario schema, the workload generator, the YAML loader and the
planner check against, each with the reason for its value, and ``expected_arrivals`` (how many
arrivals a synthetic arrival process implies over a horizon). A value past a bound is refused
at load time with one line that names the field, the figure the scenario implies and the bound,
never a hang or a multi-terabyte allocation. Imports nothing of simserve.

The bounds are generous: a month at 10 requests/s is 26M arrivals; a year of 1 s autoscaler
ticks is 32M ticks. ``max_arrivals`` is a scenario field (``--set max_arrivals=N``) so that a
user who means it can go further; the others are structural and fixed.
"""

from __future__ import annotations

#: default cap on the arrivals a run may draw (scenario field ``max_arrivals``): 50M arrivals is
#: about two months at 10 requests/s; the tables of such a run take ~25 GB with ``--tables csv``
DEFAULT_MAX_ARRIVALS = 50_000_000

#: autoscaler ticks a run may take (horizon / scaler_interval): ~3 years at one tick a second
MAX_SCALER_TICKS = 100_000_000

#: burst/gap periods a bursty arrival process may switch through over the horizon
MAX_BURSTY_PERIODS = 1_000_000

#: other-tenant demand changes over all hosts (hosts x horizon / time_scale)
MAX_TENANT_CHANGES = 10_000_000

#: hosts over all pools (the simulator keeps an object per host)
MAX_HOSTS = 100_000

#: max_workers and extra_workers each (the platform's own quotas are far lower)
MAX_WORKERS = 10_000

#: jobs one worker runs at once
MAX_CONCURRENCY = 100_000

#: replications of one run (each is a full simulation)
MAX_REPLICATIONS = 10_000

#: crashes per hour of a worker's ready time (one a second: beyond that no job could finish)
MAX_CRASH_RATE_PER_HOUR = 3600.0

#: nodes of a scenario's YAML after aliases are expanded (a "billion laughs" file expands to 1e9)
MAX_YAML_NODES = 1_000_000

#: candidates of a planner search space (the product of its ``vary`` dimensions)
MAX_PLAN_CANDIDATES = 10_000

#: values of one ``vary`` dimension (an ``a..b`` range is bounded before it is expanded)
MAX_VARY_VALUES = 10_000


def bursty_mean_rate(base_rate: float, burst_rate: float, mean_burst_s: float, mean_gap_s: float) -> float:
    """Long-run arrival rate of the two-state MMPP: rates weighted by the mean time in each state."""
    cycle_s = mean_burst_s + mean_gap_s
    return (burst_rate * mean_burst_s + base_rate * mean_gap_s) / cycle_s if cycle_s > 0 else 0.0


def format_count(n: float) -> str:
    """A count for messages: exact with separators below a billion, else in scientific notation."""
    return f"{n:,.0f}" if n < 1e9 else f"{n:.2g}"
