"""Fit one duration distribution to measured samples, choosing the family by goodness of fit.

Owns ``fit_duration``: constant when the samples barely vary (or are too few to say more),
else the parametric family (exponential, lognormal, gamma) with the lowest AIC from
maximum-likelihood fits, else an empirical distribution when even the best family fails a
Kolmogorov-Smirnov test. The result is a scenario ``dist`` mapping plus the fit statistics.
Imports numpy and scipy only; knows nothing about runs or scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

PARAMETRIC = ("exponential", "lognormal", "gamma")


@dataclass(frozen=True)
class Fit:
    """A fitted duration distribution (``spec`` is the scenario's ``{dist: ...}`` form)."""

    family: str
    spec: dict[str, Any]
    n: int
    mean_s: float
    cv: float
    reason: str
    aic: dict[str, float] = field(default_factory=dict)
    ks: dict[str, float] = field(default_factory=dict)  # family -> KS statistic
    ks_pvalue: float | None = None  # of the chosen parametric family

    def describe(self) -> str:
        """One line: family and parameters, e.g. ``lognormal mean 2.013 s cv 0.497``."""
        s = self.spec
        if self.family == "constant":
            return f"constant {s['value']:.4g} s"
        if self.family == "exponential":
            return f"exponential mean {s['mean']:.4g} s"
        if self.family == "empirical":
            return f"empirical ({len(s['values'])} values, mean {self.mean_s:.4g} s)"
        return f"{self.family} mean {s['mean']:.4g} s cv {s['cv']:.3g}"


def _round(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def _empirical(x: np.ndarray, max_values: int) -> list[float]:
    if len(x) > max_values:  # keep the shape: evenly spaced quantiles
        x = np.quantile(x, (np.arange(max_values) + 0.5) / max_values)
    return [_round(float(v)) for v in np.sort(x)]


def _parametric(x: np.ndarray) -> dict[str, tuple[float, float, Any, dict[str, Any]]]:
    """family -> (loglik, n_params, frozen scipy dist, scenario spec)."""
    out: dict[str, tuple[float, float, Any, dict[str, Any]]] = {}
    mean = float(x.mean())
    expo = stats.expon(scale=mean)
    out["exponential"] = (float(expo.logpdf(x).sum()), 1, expo, {"dist": "exponential", "mean": _round(mean)})
    logs = np.log(x)
    mu, sigma = float(logs.mean()), float(logs.std())
    if sigma > 0:
        ln = stats.lognorm(sigma, scale=math.exp(mu))
        # the mean is the sample mean (keeps total busy time, hence cost); the shape is the MLE's
        spec = {"dist": "lognormal", "mean": _round(mean), "cv": _round(math.sqrt(math.expm1(sigma**2)))}
        out["lognormal"] = (float(ln.logpdf(x).sum()), 2, ln, spec)
    try:
        shape, _, scale = stats.gamma.fit(x, floc=0)
    except (ValueError, RuntimeError, FloatingPointError):  # pragma: no cover - degenerate samples
        shape = 0.0
    if shape > 0 and math.isfinite(shape):
        g = stats.gamma(shape, scale=scale)
        spec = {"dist": "gamma", "mean": _round(shape * scale), "cv": _round(1 / math.sqrt(shape))}
        out["gamma"] = (float(g.logpdf(x).sum()), 2, g, spec)
    return out


def fit_duration(
    values: Any, *, constant_cv: float = 0.05, min_samples: int = 8, alpha: float = 0.01, max_empirical: int = 500
) -> Fit | None:
    """Fit a duration distribution (seconds) to ``values``; ``None`` when there are none.

    - fewer than ``min_samples`` values, or a coefficient of variation at most ``constant_cv``:
      ``constant`` at the mean (few values with a wide spread: ``empirical``);
    - else the family of ``PARAMETRIC`` with the lowest AIC (maximum-likelihood fits; any
      value <= 0 rules out all three), kept when its KS test gives p >= ``alpha``;
    - else ``empirical`` (at most ``max_empirical`` evenly spaced quantiles).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return None
    mean = float(x.mean())
    cv = float(x.std() / mean) if mean > 0 else 0.0
    if cv <= constant_cv:
        return Fit(
            "constant",
            {"dist": "constant", "value": _round(max(mean, 0.0))},
            n,
            mean,
            cv,
            f"cv {cv:.3g} <= {constant_cv}",
        )
    if n < min_samples:
        return Fit(
            "empirical", {"dist": "empirical", "values": _empirical(x, max_empirical)}, n, mean, cv, f"only {n} samples"
        )
    if np.any(x <= 0):
        return Fit(
            "empirical",
            {"dist": "empirical", "values": _empirical(np.clip(x, 0, None), max_empirical)},
            n,
            mean,
            cv,
            "values <= 0 rule out the parametric families",
        )
    fits = _parametric(x)
    aic = {k: 2 * k_params - 2 * ll for k, (ll, k_params, _, _) in fits.items()}
    ks_stats = {k: stats.kstest(x, d.cdf) for k, (_, _, d, _) in fits.items()}
    best = min(aic, key=lambda k: (aic[k], PARAMETRIC.index(k)))
    ks = {k: float(r.statistic) for k, r in ks_stats.items()}
    p = float(ks_stats[best].pvalue)
    if p < alpha:
        return Fit(
            "empirical",
            {"dist": "empirical", "values": _empirical(x, max_empirical)},
            n,
            mean,
            cv,
            f"best family {best} rejected by KS (p={p:.2g} < {alpha})",
            aic,
            ks,
            p,
        )
    return Fit(best, fits[best][3], n, mean, cv, f"lowest AIC; KS p={p:.2g}", aic, ks, p)


__all__ = ["PARAMETRIC", "Fit", "fit_duration"]
