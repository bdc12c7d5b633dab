"""A Runpod-SDK handler that asks for a fresh worker from its result (``"refresh_worker": True`` in the
returned dict) when its input says ``refresh``; the SDK pops the key and sends ``stopPod``."""

import os

import runpod


def handler(job):
    out = {"pid": os.getpid()}
    if job["input"].get("refresh"):
        out["refresh_worker"] = True
    return out


runpod.serverless.start({"handler": handler})
