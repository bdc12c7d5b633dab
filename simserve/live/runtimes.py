"""Which runtime a name means: ``--runtime process|docker|podman`` to a ``WorkerRuntime``.

The one place that knows every runtime (the protocol module ``simserve.live.runtime`` knows none,
so the runtimes can import it without a circle). Container runtimes import the Docker SDK only when
they start a worker, so naming one costs nothing until then.
"""

from __future__ import annotations

from simserve.live.docker_runtime import DockerRuntime
from simserve.live.process import ProcessRuntime
from simserve.live.runtime import WorkerRuntime

#: the names ``build_runtime`` takes
RUNTIMES: tuple[str, ...] = ("process", "docker", "podman")


def build_runtime(name: str, image: str | None = None, evict_images: bool | None = None) -> WorkerRuntime:
    """The runtime called ``name``; ``image``/``evict_images`` are a container runtime's (see ``DockerRuntime``)."""
    if name == "process":
        return ProcessRuntime()
    if name in ("docker", "podman"):
        return DockerRuntime(image=image, evict_images=evict_images, engine="podman" if name == "podman" else "auto")
    raise ValueError(f"unknown runtime {name!r} (expected {', '.join(RUNTIMES[:-1])} or {RUNTIMES[-1]})")
