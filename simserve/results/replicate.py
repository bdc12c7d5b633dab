"""Replications: R independent runs of one scenario, their mean and 95% confidence intervals.

Owns replication seeds (replication 0 uses the scenario seed, replication i > 0 a child of
``SeedSequence([seed, i])``, so a one-replication run equals the plain run;
``simserve.api.run_replications`` runs them on a local process pool), the Student-t intervals that
become ``<key>_ci`` entries next to each summary figure, and what those intervals may span
(``figure_bounds``: every summary figure is a count, a duration, a cost or a rate, so never below 0;
fractions and utilisations never above 1). ``combine`` carries the ``warnings`` list through (each
distinct line once, in order), never averaged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def replication_seed(seed: int, index: int) -> int:
    """Seed of replication ``index`` (0 -> ``seed`` itself)."""
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


#: words in a summary key that make its figure a fraction in [0, 1]
FRACTION_WORDS = ("fraction", "utilization", "utilisation", "share")


def figure_bounds(key: str) -> tuple[float, float]:
    """What a summary figure can be, by its key (dotted or not): [0, 1] for a fraction
    (``cold_start.fraction``, ``gpu_utilization``, any key naming a fraction, utilisation or
    share), otherwise [0, inf): counts, seconds, USD and time-average worker counts."""
    leaf = key.rsplit(".", 1)[-1].lower()
    return (0.0, 1.0) if any(w in leaf for w in FRACTION_WORDS) else (0.0, math.inf)


def t_interval(
    values: Sequence[float], level: float = 0.95, bounds: tuple[float, float] | None = None
) -> tuple[float, float]:
    """Student-t confidence interval of the mean; a point interval for one value.

    ``bounds`` (low, high): clip the interval to what the figure can be (``figure_bounds``);
    None leaves it unclipped (the planner's decisions use the raw interval).
    """
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return (math.nan, math.nan)
    m = float(arr.mean())
    if len(arr) < 2:
        lo, hi = m, m
    else:
        from scipy import stats  # here, not at import: scipy.stats takes ~0.4 s to import, and one run needs none

        half = float(stats.t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
        lo, hi = m - half, m + half
    if bounds is not None:
        lo, hi = min(max(lo, bounds[0]), bounds[1]), max(min(hi, bounds[1]), bounds[0])
    return (lo, hi)


def combine(summaries: Sequence[dict[str, Any]], level: float = 0.95) -> dict[str, Any]:
    """Mean of each numeric figure over replications, with ``<key>_ci`` = [low, high] clipped
    to ``figure_bounds``; ``warnings``: every distinct line of the replications, in order."""
    first = summaries[0]

    def merge(nodes: list[Any]) -> Any:
        head = nodes[0]
        if isinstance(head, dict):
            out: dict[str, Any] = {}
            for key in head:
                vals = [n.get(key) for n in nodes]
                out[key] = merge(vals)
                if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                    lo, hi = t_interval([float(v) for v in vals], level, figure_bounds(key))
                    out[f"{key}_ci"] = [lo, hi]
            return out
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nodes):
            mean = float(np.mean(nodes))
            return int(mean) if all(isinstance(v, int) for v in nodes) and mean.is_integer() else mean
        if all(v is None or isinstance(v, (int, float)) for v in nodes) and any(v is not None for v in nodes):
            return float(np.mean([v for v in nodes if v is not None]))
        return head

    skip = {"scenario", "seed", "engine", "horizon_s", "simserve_version", "scenario_digest", "warnings"}
    merged: dict[str, Any] = merge([{k: v for k, v in s.items() if k not in skip} for s in summaries])
    merged.update({k: first[k] for k in skip if k in first})
    if any("warnings" in s for s in summaries):
        merged["warnings"] = list(dict.fromkeys(str(w) for s in summaries for w in s.get("warnings") or []))
    merged["replications"] = len(summaries)
    merged["seeds"] = [s.get("seed") for s in summaries]
    return merged
