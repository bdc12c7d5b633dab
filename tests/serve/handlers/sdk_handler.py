"""A handler written for the Runpod worker SDK (unchanged from what would be deployed), for serve's
conformance tests: ``steps`` reports ``step k/n`` with ``progress_update``; with ``gate`` (a file
path) it waits for that file (after step 1, or at once without steps) — the test creates it once it
has seen what it looks for: no race with a fixed sleep; ``sleep`` seconds first; the result echoes
the input and the job's ``s3Config`` as the handler got it."""

import os
import time

import runpod


def handler(job):
    inp = job["input"]
    if inp.get("sleep"):
        time.sleep(float(inp["sleep"]))
    steps = int(inp.get("steps", 0))
    if not steps:
        _wait(inp.get("gate"))
    for k in range(1, steps + 1):
        runpod.serverless.progress_update(job, f"step {k}/{steps}")
        if k == 1:
            _wait(inp.get("gate"))
    return {"echo": inp, "s3Config": job.get("s3Config")}


def _wait(gate):
    deadline = time.monotonic() + 120
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)


runpod.serverless.start({"handler": handler})
