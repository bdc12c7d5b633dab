"""A Runpod-SDK handler (unchanged from a deploy) that reports ``step k/3`` with ``progress_update`` while it
runs ``service_s`` (or ``sleep``) seconds, then returns its real result."""

import time

import runpod


def handler(job):
    inp = job["input"]
    total = float(inp.get("service_s", inp.get("sleep", 0.6)))
    for k in range(1, 4):
        runpod.serverless.progress_update(job, f"step {k}/3")
        time.sleep(total / 3)
    return {"done": inp.get("job", inp.get("n"))}


runpod.serverless.start({"handler": handler})
