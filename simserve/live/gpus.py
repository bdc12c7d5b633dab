"""Local accelerators: find GPUs (NVML via pynvml, else nvidia-smi) and cut them into worker slots.

Owns ``discover_gpus`` and ``make_slots``: a slot is one would-be worker's share of this
machine — ``gpus_per_worker`` GPU indices pinned with ``CUDA_VISIBLE_DEVICES``, or a CPU slot
(no GPU) when none are asked for. Each slot acts as one host in the dispatcher, with its own
image cache directory.
"""

from __future__ import annotations

import shutil
import subprocess


def discover_gpus() -> list[int]:
    """Indices of the NVIDIA GPUs on this machine ([] when none or no driver)."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        try:
            return list(range(pynvml.nvmlDeviceGetCount()))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001, S110 - no pynvml, no driver: fall back to nvidia-smi
        pass
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(line) for line in out.split() if line.strip().isdigit()]


def make_slots(gpus: list[int] | None, gpus_per_worker: int, cpu_slots: int) -> list[tuple[int, ...]]:
    """Worker slots: groups of ``gpus_per_worker`` GPU indices, or ``cpu_slots`` empty groups."""
    if gpus:
        n = len(gpus) // gpus_per_worker
        if n == 0:
            raise ValueError(f"{len(gpus)} GPU(s) given, but a worker needs {gpus_per_worker}")
        return [tuple(gpus[i * gpus_per_worker : (i + 1) * gpus_per_worker]) for i in range(n)]
    if cpu_slots < 1:
        raise ValueError("--slots must be at least 1")
    return [()] * cpu_slots
