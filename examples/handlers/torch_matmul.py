"""Torch matmul handler: a real GPU workload when torch and a GPU are present, else the CPU.

Setup (the ``handler_init`` phase) imports torch and builds two matrices on the device; each
job multiplies them ``input["repeat"]`` times (default 10) and reports the device and timing.
Without torch it falls back to numpy on the CPU. Size: ``SIMSERVE_MATMUL_N`` (default 2048).
"""

import os
import time

N = int(os.environ.get("SIMSERVE_MATMUL_N", "2048"))

try:
    import torch

    DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    A = torch.randn(N, N, device=DEVICE)
    B = torch.randn(N, N, device=DEVICE)
    (A @ B).sum().item()  # warm-up: CUDA context, cuBLAS handles
    BACKEND = "torch"
except ImportError:  # no torch: numpy on the CPU
    import numpy as np

    DEVICE, BACKEND = "cpu", "numpy"
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N, N), dtype=np.float32)
    B = rng.standard_normal((N, N), dtype=np.float32)


def handler(job):
    repeat = int(job["input"].get("repeat", 10))
    t0 = time.perf_counter()
    c = A
    for _ in range(repeat):
        c = (c @ B) / N
    checksum = float(c.sum().item() if BACKEND == "torch" else c.sum())
    return {"device": DEVICE, "backend": BACKEND, "n": N, "repeat": repeat,
            "seconds": time.perf_counter() - t0, "checksum": checksum}
