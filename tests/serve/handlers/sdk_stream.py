"""A generator handler for the Runpod worker SDK whose start config turns the aggregate off
(``return_aggregate_stream: False``): its chunks go to ``/stream`` only, and its final result carries
no list of them. ``stream`` chunks, ``chunk_sleep`` seconds apart."""

import time

import runpod


def handler(job):
    inp = job["input"]
    for i in range(int(inp.get("stream", 3))):
        time.sleep(float(inp.get("chunk_sleep", 0.05)))
        yield {"chunk": i}


runpod.serverless.start({"handler": handler, "return_aggregate_stream": False})
