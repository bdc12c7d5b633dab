"""The process of ``simserve serve``'s built-in LLM worker (an LLM scenario served without ``--handler``).

It starts as any worker does (the image payload pulled, the model file loaded by the shim, the
phases measured) and then waits: the endpoint core's engine model runs its jobs and
``simserve.serve.llm_worker`` answers them, so no job is ever sent to it. Run by the shim by file
path: imports nothing of simserve.
"""

from __future__ import annotations

from typing import Any


def handler(job: dict[str, Any]) -> Any:
    raise RuntimeError("the built-in LLM worker's jobs run in the endpoint core's engine model")
