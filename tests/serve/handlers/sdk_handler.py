"""A handler written for the Runpod worker SDK (unchanged from what would be deployed), for serve's
conformance tests: ``steps`` reports ``step k/n`` with ``progress_update`` and, with ``gate`` (a file
path), waits for that file before its next step (the test creates it once it has seen the progress:
no race with a fixed sleep); ``sleep`` seconds first; the result echoes the input and the job's
``s3Config`` as the handler got it."""

import os
import time

import runpod


def handler(job):
    inp = job["input"]
    if inp.get("sleep"):
        time.sleep(float(inp["sleep"]))
    steps = int(inp.get("steps", 0))
    for k in range(1, steps + 1):
        runpod.serverless.progress_update(job, f"step {k}/{steps}")
        gate = inp.get("gate")
        if gate and k == 1:
            deadline = time.monotonic() + 120
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.05)
    return {"echo": inp, "s3Config": job.get("s3Config")}


runpod.serverless.start({"handler": handler})
