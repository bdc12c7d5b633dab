"""Built-in GPU price catalog (Runpod Serverless list prices, per GPU per second).

Owns the table from ``shared/reference/runpod.md`` §2: flex price and the legacy active
price for each pool, the names users type for them, and the balance-based max-worker cap.
Pure data and lookups; imports nothing of simserve.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GpuPrice:
    """Price of one GPU of a pool, USD per second, for flex and active workers."""

    pool: str
    flex_usd_per_s: float
    active_usd_per_s: float
    vram_gb: int


# pool id -> prices. Active prices are the legacy discounted column (2026-05); pools without
# one use the flex price (current docs: unified pricing).
_POOLS: dict[str, GpuPrice] = {
    "AMPERE_16": GpuPrice("AMPERE_16", 0.00016, 0.00011, 16),
    "AMPERE_24": GpuPrice("AMPERE_24", 0.00019, 0.00013, 24),
    "ADA_24": GpuPrice("ADA_24", 0.00031, 0.00021, 24),
    "ADA_32_PRO": GpuPrice("ADA_32_PRO", 0.000439, 0.000439, 32),
    "AMPERE_48": GpuPrice("AMPERE_48", 0.00034, 0.00024, 48),
    "ADA_48_PRO": GpuPrice("ADA_48_PRO", 0.00053, 0.00037, 48),
    "AMPERE_80": GpuPrice("AMPERE_80", 0.00076, 0.00060, 80),
    "ADA_80_PRO": GpuPrice("ADA_80_PRO", 0.00116, 0.00093, 80),
    "BLACKWELL_96": GpuPrice("BLACKWELL_96", 0.00111, 0.00111, 96),
    "HOPPER_141": GpuPrice("HOPPER_141", 0.00155, 0.00124, 141),
    "BLACKWELL_180": GpuPrice("BLACKWELL_180", 0.00240, 0.00190, 180),
}

# names users type -> pool id (case-insensitive lookup)
_ALIASES: dict[str, str] = {
    "A4000": "AMPERE_16",
    "A4500": "AMPERE_16",
    "RTX4000": "AMPERE_16",
    "RTX2000": "AMPERE_16",
    "L4": "AMPERE_24",
    "A5000": "AMPERE_24",
    "3090": "AMPERE_24",
    "RTX3090": "AMPERE_24",
    "4090": "ADA_24",
    "RTX4090": "ADA_24",
    "5090": "ADA_32_PRO",
    "RTX5090": "ADA_32_PRO",
    "A6000": "AMPERE_48",
    "A40": "AMPERE_48",
    "L40": "ADA_48_PRO",
    "L40S": "ADA_48_PRO",
    "6000ADA": "ADA_48_PRO",
    "A100": "AMPERE_80",
    "A100-80GB": "AMPERE_80",
    "H100": "ADA_80_PRO",
    "RTXPRO6000": "BLACKWELL_96",
    "H200": "HOPPER_141",
    "B200": "BLACKWELL_180",
}


def _key(name: str) -> str:
    return name.upper().replace(" ", "").replace("_", "") if name.upper() not in _POOLS else name.upper()


def known_gpus() -> list[str]:
    """Every name the catalog accepts, for error messages and docs."""
    return sorted(set(_ALIASES) | set(_POOLS))


def lookup(name: str) -> GpuPrice:
    """Price entry for a GPU name or pool id; ``KeyError`` when unknown.

    >>> lookup("H100").flex_usd_per_s
    0.00116
    """
    key = _key(name)
    if key in _POOLS:
        return _POOLS[key]
    for alias, pool in _ALIASES.items():
        if alias.upper().replace("-", "") == key.replace("-", ""):
            return _POOLS[pool]
    raise KeyError(name)


# account balance (USD) -> max workers (flex + active), runpod.md §1.2
BALANCE_CAPS: tuple[tuple[float, int], ...] = (
    (900.0, 60),
    (700.0, 50),
    (500.0, 40),
    (300.0, 30),
    (200.0, 20),
    (100.0, 10),
    (0.0, 5),
)


def balance_cap(balance_usd: float) -> int:
    """Max workers allowed by an account balance.

    >>> balance_cap(50), balance_cap(250), balance_cap(10_000)
    (5, 20, 60)
    """
    for threshold, cap in BALANCE_CAPS:
        if balance_usd >= threshold:
            return cap
    return 5


def balance_needed(max_workers: int) -> float | None:
    """Smallest balance tier whose cap admits ``max_workers``; None when no tier does."""
    for threshold, cap in reversed(BALANCE_CAPS):
        if cap >= max_workers:
            return threshold
    return None
