"""The environment a live worker's handler gets: the platform's, never the executor's.

Owns ``worker_env``: a handler on the platform sees its container's environment — what the image
sets, the endpoint template's variables, the ``RUNPOD_*`` variables and the GPUs it was given — and
nothing of the machine that scheduled it. So a live worker gets only: the few variables a
program needs to run on this machine (``BASE_VARS``, passed through when set: the search path,
locale, time zone, temporary directory, library path), ``HOME`` (a private directory of the run
for the process runtime; the image's inside a container), the scenario's ``endpoint.env``, the
platform's ``RUNPOD_*`` variables (``RUNPOD_POD_ID`` = the worker id, ``RUNPOD_ENDPOINT_ID``,
``RUNPOD_GPU_COUNT``; the SDK's endpoints and the run's API key for the Runpod protocol),
``CUDA_VISIBLE_DEVICES`` and the shim's own ``SIMSERVE_*`` settings. The platform's variables win
over ``endpoint.env``; a secret in the executor's environment never reaches a handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: variables passed through from the executor's environment when set (none of them a secret)
BASE_VARS: tuple[str, ...] = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "LD_LIBRARY_PATH")
#: ``RUNPOD_ENDPOINT_ID`` of a live run (the platform's endpoint id)
ENDPOINT_ID = "simserve-live"


def worker_env(
    *,
    worker_id: int,
    gpus: tuple[int, ...],
    endpoint_env: Mapping[str, str],
    internal: Mapping[str, str],
    sdk_env: Mapping[str, str] | None = None,
    home: str | None = None,
    outer: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of one worker process (see the module docstring). ``internal``: the shim's
    ``SIMSERVE_*`` settings; ``sdk_env``: the Runpod SDK's (its broker URLs and the run's key); ``outer``:
    the executor's environment (``os.environ``), read only for ``BASE_VARS``."""
    outer = os.environ if outer is None else outer
    env = {name: outer[name] for name in BASE_VARS if name in outer}
    if home is not None:
        env["HOME"] = home
    env.update(endpoint_env)
    env.update(
        {
            "RUNPOD_POD_ID": str(worker_id),
            "RUNPOD_ENDPOINT_ID": ENDPOINT_ID,
            "RUNPOD_GPU_COUNT": str(len(gpus)),
            "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus)),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(sdk_env or {})
    env.update(internal)
    return env


__all__ = ["BASE_VARS", "ENDPOINT_ID", "worker_env"]
