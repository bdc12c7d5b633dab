"""A Runpod-SDK handler whose start config asks for a fresh worker after every job (``refresh_worker``):
the SDK sends ``stopPod`` with each result and exits. The result carries the worker's pid."""

import os
import time

import runpod


def handler(job):
    time.sleep(float(job["input"].get("service_s", 0.1)))
    return {"pid": os.getpid()}


runpod.serverless.start({"handler": handler, "refresh_worker": True})
