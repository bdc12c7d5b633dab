"""A Runpod-SDK async handler whose ``concurrency_modifier`` asks for 3 jobs at once: each job sleeps
``service_s`` seconds and returns the pid and how many jobs the worker held at its start."""

import asyncio
import os

import runpod

RUNNING = [0]


async def handler(job):
    RUNNING[0] += 1
    held = RUNNING[0]
    try:
        await asyncio.sleep(float(job["input"].get("service_s", 0.5)))
    finally:
        RUNNING[0] -= 1
    return {"pid": os.getpid(), "held": held}


runpod.serverless.start({"handler": handler, "concurrency_modifier": lambda current: 3})
