"""Two runs' summaries side by side: every figure, both values, the difference and the error.

Owns flattening a ``summary.json`` into dotted figure keys (``latency_s.p95``,
``cost_usd.by_state.running``), the relative error of run B against run A (A is the
reference), confidence intervals where ``<key>_ci`` exists, and the ``--fail-over`` check.
Imports numpy and pandas only; reading run directories is the caller's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any

import pandas as pd

#: figures checked by ``exceeding`` unless patterns are given
HEADLINE: tuple[str, ...] = (
    "latency_s.mean",
    "latency_s.p50",
    "latency_s.p95",
    "latency_s.p99",
    "ttft_s.p50",
    "ttft_s.p95",
    "tpot_s.p50",
    "tpot_s.p95",
    "queue_wait_s.mean",
    "execution_s.mean",
    "cold_start.fraction",
    "workers.mean_alive",
    "cost_usd.total",
    "gpu_utilization",
)
#: summary sections compared, in display order (provenance and engine counters are not)
SECTIONS: tuple[str, ...] = (
    "requests",
    "latency_s",
    "ttft_s",
    "tpot_s",
    "queue_wait_s",
    "execution_s",
    "tokens",
    "cold_start",
    "workers",
    "cost_usd",
    "gpu_utilization",
)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def flatten(summary: dict[str, Any]) -> tuple[dict[str, float | None], dict[str, tuple[float, float]]]:
    """``({dotted key: value}, {dotted key: (ci_low, ci_high)})`` of a summary's figures."""
    values: dict[str, float | None] = {}
    cis: dict[str, tuple[float, float]] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                key = f"{prefix}.{k}" if prefix else str(k)
                if k.endswith("_ci"):
                    if isinstance(v, (list, tuple)) and len(v) == 2 and None not in v:
                        cis[key[:-3]] = (float(v[0]), float(v[1]))
                    continue
                walk(v, key)
        elif node is None or _num(node) is not None:
            values[prefix] = _num(node)

    for section in SECTIONS:
        if section in summary:
            walk(summary[section], section)
        ci = summary.get(f"{section}_ci")
        if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
            cis[section] = (float(ci[0]), float(ci[1]))
    return values, cis


def relative_error(a: float | None, b: float | None) -> float | None:
    """(b - a) / |a|: 0 when both are 0, ``inf`` when only a is 0, ``None`` when one is missing."""
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return None
    if a == 0:
        return 0.0 if b == 0 else math.inf
    return (b - a) / abs(a)


def _overlap(
    a: float | None, b: float | None, ca: tuple[float, float] | None, cb: tuple[float, float] | None
) -> bool | None:
    if ca is None and cb is None:
        return None
    lo_a, hi_a = ca if ca is not None else (a, a)
    lo_b, hi_b = cb if cb is not None else (b, b)
    if lo_a is None or hi_a is None or lo_b is None or hi_b is None:
        return None
    return bool(max(lo_a, lo_b) <= min(hi_a, hi_b))


@dataclass(frozen=True)
class Row:
    """One figure of both runs."""

    key: str
    a: float | None
    b: float | None
    diff: float | None  # b - a
    ratio: float | None  # b / a
    rel_error: float | None  # (b - a) / |a|
    a_ci: tuple[float, float] | None = None
    b_ci: tuple[float, float] | None = None
    ci_overlap: bool | None = None  # the intervals (or a value and the other's interval) overlap


@dataclass(frozen=True)
class Comparison:
    """Every figure of run A (the reference) and run B."""

    a_label: str
    b_label: str
    a_engine: str
    b_engine: str
    rows: tuple[Row, ...]

    def row(self, key: str) -> Row:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)

    def frame(self) -> pd.DataFrame:
        """One row per figure: key, a, b, diff, ratio, rel_error, CIs, ci_overlap."""
        return pd.DataFrame(
            [
                {
                    "figure": r.key,
                    "a": r.a,
                    "b": r.b,
                    "diff": r.diff,
                    "ratio": r.ratio,
                    "rel_error": r.rel_error,
                    "a_ci_low": r.a_ci[0] if r.a_ci else None,
                    "a_ci_high": r.a_ci[1] if r.a_ci else None,
                    "b_ci_low": r.b_ci[0] if r.b_ci else None,
                    "b_ci_high": r.b_ci[1] if r.b_ci else None,
                    "ci_overlap": r.ci_overlap,
                }
                for r in self.rows
            ]
        )

    def exceeding(self, pct: float, patterns: tuple[str, ...] | list[str] | None = None) -> list[Row]:
        """Rows matching ``patterns`` (fnmatch; default ``HEADLINE``) with |error| > ``pct`` %."""
        pats = tuple(patterns) if patterns else HEADLINE
        out = []
        for r in self.rows:
            if r.rel_error is None or not any(fnmatch(r.key, p) for p in pats):
                continue
            if abs(r.rel_error) * 100.0 > pct:
                out.append(r)
        return out


def compare_summaries(a: dict[str, Any], b: dict[str, Any], a_label: str = "A", b_label: str = "B") -> Comparison:
    """Compare two ``summary.json`` dicts figure by figure (keys of A first, then B's extras)."""
    va, ca = flatten(a)
    vb, cb = flatten(b)
    keys = list(va) + [k for k in vb if k not in va]
    rows = []
    for k in keys:
        x, y = va.get(k), vb.get(k)
        diff = None if x is None or y is None else y - x
        ratio = None if x is None or y is None or x == 0 else y / x
        rows.append(
            Row(k, x, y, diff, ratio, relative_error(x, y), ca.get(k), cb.get(k), _overlap(x, y, ca.get(k), cb.get(k)))
        )
    return Comparison(a_label, b_label, str(a.get("engine", "?")), str(b.get("engine", "?")), tuple(rows))


__all__ = ["HEADLINE", "SECTIONS", "Comparison", "Row", "compare_summaries", "flatten", "relative_error"]
