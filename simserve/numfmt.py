"""Numbers as people read them, one style for the terminal and the HTML pages (report, compare):
thousands separators, no exponent, precision by magnitude (a fixed number of significant digits),
``-`` for a missing or non-finite figure.

Owns ``num`` (counts and measures), ``usd`` (money), ``pct`` (fractions), ``change`` (relative
differences) and ``step_up`` (a round figure to suggest). Pure string functions; the
files a run writes keep full precision and are not formatted here.

>>> num(3583), num(3.127481), num(104.0111), num(3637.8), num(22189871), num(0.0523456), num(123456.7)
('3,583', '3.127', '104', '3,638', '22,189,871', '0.05235', '123,457')
>>> change(156.5515), change(-0.63), change(float("inf"))
('+15,655.15%', '-63.00%', '+inf')
>>> usd(4966.482), usd(13.6068), usd(0.8027), usd(0.00234), pct(0.077), pct(0.0000069), pct(0)
('$4,966.48', '$13.61', '$0.80', '$0.0023', '7.7%', '0.00069%', '0.0%')
"""

from __future__ import annotations

import math
from typing import Any


def _finite(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def num(v: Any, digits: int = 4) -> str:
    """``v`` to ``digits`` significant digits as ``format(v, ".4g")`` shows them (no trailing zeros), with
    thousands separators and never an exponent; a whole number in full (``10.0`` -> ``10``)."""
    f = _finite(v)
    if f is None:
        return "-"
    if isinstance(v, int) or f.is_integer():
        return f"{round(f):,}"
    decimals = max(digits - 1 - math.floor(math.log10(abs(f))), 0)
    text = f"{f:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def usd(v: Any) -> str:
    """Dollars: in cents from one cent up (``$4,966.48``, ``$0.80``), two significant digits below
    (``$0.0023``)."""
    f = _finite(v)
    if f is None:
        return "-"
    if abs(f) >= 0.01 or f == 0:
        return f"${f:,.2f}"
    return f"${num(f, 2)}"


def pct(fraction: Any) -> str:
    """A fraction as a percentage with one decimal (``0.077`` -> ``7.7%``); one under 0.05% with two
    significant digits, so that it does not read as none (``0.0000069`` -> ``0.00069%``)."""
    f = _finite(fraction)
    if f is None:
        return "-"
    return f"{num(100 * f, 2)}%" if 0 < abs(100 * f) < 0.05 else f"{100 * f:.1f}%"


def change(rel: Any) -> str:
    """A relative change as a signed percentage with separators (``+15,655.15%``; ``+inf`` from zero)."""
    if rel is None or isinstance(rel, bool):
        return "-"
    f = float(rel)
    if math.isnan(f):
        return "-"
    if math.isinf(f):
        return "+inf" if f > 0 else "-inf"
    return f"{100 * f:+,.2f}%"


def step_up(x: float) -> float:
    """The 1-2-5 step at or above ``x`` > 0, a round figure to suggest (``8.2`` -> ``10``, ``137`` -> ``200``).

    >>> step_up(8.2), step_up(137.0), step_up(0.31), step_up(5.0)
    (10.0, 200.0, 0.5, 5.0)
    """
    step = 10.0 ** math.floor(math.log10(x))
    return float(next(m * step for m in (1, 2, 5, 10) if m * step >= x * (1 - 1e-12)))


__all__ = ["change", "num", "pct", "step_up", "usd"]
