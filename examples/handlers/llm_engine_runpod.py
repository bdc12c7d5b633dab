"""The CPU batching LLM engine (``llm_engine.py``) as a Runpod worker SDK handler, unchanged from a deploy.

The SDK streams what an async-generator handler yields (one ``job-stream`` post a token) and runs
up to ``concurrency_modifier`` jobs at once in the one process, so they share the one engine.
The concurrency is the endpoint's ``MAX_CONCURRENCY`` variable when it has one (``endpoint.env``
in a scenario), else twice ``SIMSERVE_CONCURRENCY`` (``simserve live`` sets it to the jobs the
scenario's worker takes: ``max_concurrency``, default ``max_batch``), else 128. The SDK stops
fetching jobs for a second whenever it holds as many as its concurrency, so its concurrency is
kept above what the endpoint hands the worker; the engine batches ``max_batch`` of them.
"""

import os

import runpod
from llm_engine import handler

MAX_CONCURRENCY = int(os.environ.get("MAX_CONCURRENCY") or 2 * int(os.environ.get("SIMSERVE_CONCURRENCY") or 64))


def concurrency(current: int) -> int:
    return MAX_CONCURRENCY


runpod.serverless.start(
    {"handler": handler, "concurrency_modifier": concurrency, "return_aggregate_stream": True}
)
