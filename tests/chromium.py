"""Headless Chromium for the tests that look at a page as a picture (the report, serve's dashboard)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

#: why such a test skips
MISSING = "chromium not installed (scripts/setup-chromium.sh installs it with apt-get)"


def chromium() -> str | None:
    """The browser's path, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(url: str, shot: Path, profile: Path, size: tuple[int, int], virtual_time_ms: int | None = None) -> None:
    """Load ``url`` in a fresh headless profile and write a ``size`` (width, height) PNG to ``shot``;
    ``virtual_time_ms`` lets the page's timers (a dashboard's refresh) run that long first."""
    cmd = [
        chromium() or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
        *([f"--virtual-time-budget={virtual_time_ms}"] if virtual_time_ms is not None else []),
        f"--screenshot={shot}",
        url,
    ]
    subprocess.run(cmd, check=False, capture_output=True, timeout=90)


def colour_share(img: np.ndarray, rgb: tuple[int, int, int]) -> float:
    """The share of ``img``'s pixels (RGB floats in [0, 1]) within 12 levels of ``rgb`` in all."""
    px = (img[..., :3] * 255).round().astype(int).reshape(-1, 3)
    return float((np.abs(px - np.array(rgb)).sum(axis=1) <= 12).mean())
