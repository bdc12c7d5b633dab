"""A Runpod-SDK generator handler with the aggregate off (``return_aggregate_stream: False``, the SDK's
default): its chunks are streamed, its final result carries no list of them."""

import runpod


def handler(job):
    for i in range(3):
        yield {"chunk": i}


runpod.serverless.start({"handler": handler, "return_aggregate_stream": False})
