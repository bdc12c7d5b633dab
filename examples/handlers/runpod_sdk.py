"""A handler written for the Runpod worker SDK, unchanged from what would be deployed on Runpod.

``simserve live`` sees ``runpod.serverless.start`` and serves the SDK's production protocol
(job-take, job-done, job-stop, ping) on 127.0.0.1, so this file runs exactly as it would there.
It sleeps for the job's pre-drawn ``service_s`` when given one, then echoes its input.
"""

import time

import runpod


def handler(job):
    seconds = float(job["input"].get("service_s", 0.0))
    time.sleep(seconds)
    return {"echo": job["input"], "slept_s": seconds}


runpod.serverless.start({"handler": handler})
