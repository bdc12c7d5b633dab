"""Shared look of simserve's figures: colours per worker state and cold-start phase, time axes.

Owns the palette (one colour per state, per cold-start phase and per running sub-phase, so a
colour means the same thing in every plot), ``new_figure`` (a pyplot-free Agg ``Figure``, safe
in worker processes and never shown) and the choice of seconds/minutes/hours for time axes.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PHASE_COLORS: dict[str, str] = {
    "pull": "#8c564b",
    "container_start": "#e377c2",
    "model_download": "#bcbd22",
    "model_load": "#ff7f0e",
    "handler_init": "#9467bd",
    "flashboot_resume": "#17becf",
}
STATE_COLORS: dict[str, str] = {
    "initializing": "#ff7f0e",
    "running (busy)": "#2ca02c",
    "running (warm)": "#a6dc8f",
    "idle": "#d9d9d9",
    "throttled": "#7f7f7f",
    "outdated": "#1f77b4",
    "unhealthy": "#d62728",
}
PHASE_LABELS: dict[str, str] = {
    "pull": "image pull",
    "container_start": "container start",
    "model_download": "model download",
    "model_load": "model load",
    "handler_init": "handler init",
    "flashboot_resume": "FlashBoot resume",
}


def new_figure(width_in: float = 8.0, height_in: float = 4.5) -> Figure:
    """A ``Figure`` on the Agg canvas (no pyplot state, nothing shown)."""
    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def time_unit(horizon_s: float) -> tuple[str, float]:
    """``(label, seconds per unit)`` for a time axis spanning ``horizon_s``."""
    if horizon_s > 3 * 3600:
        return "h", 3600.0
    if horizon_s > 600:
        return "min", 60.0
    return "s", 1.0


def fmt_s(value: float | None) -> str:
    """A duration for labels: ``"8.20 s"``, ``"2.1 min"``."""
    if value is None:
        return "-"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"
