"""The Docker SDK as simserve uses it: the calls it makes, as protocols (docker-py ships no types).

``DockerClient`` is a ``docker.DockerClient`` (also against the podman service): its ``images``
collection and its low-level ``api`` (``docker.APIClient``). Only the calls simserve makes are
listed, with the arguments it passes; what the engine answers (an inspect, a pull's progress lines)
is the engine's JSON, typed ``EngineJson``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol, TypeAlias

#: what the engine answers: its JSON, as the SDK decodes it (arbitrary by design, read with ``.get``)
EngineJson: TypeAlias = Any


class DockerImage(Protocol):
    """``docker.models.images.Image``."""

    @property
    def id(self) -> str: ...

    @property
    def short_id(self) -> str: ...

    @property
    def tags(self) -> list[str]: ...

    @property
    def labels(self) -> dict[str, str]: ...

    @property
    def attrs(self) -> dict[str, EngineJson]: ...

    def tag(self, repository: str, tag: str | None = None) -> bool: ...


class ImageCollection(Protocol):
    """``docker.models.images.ImageCollection``."""

    def get(self, name: str) -> DockerImage: ...

    def list(self, *, filters: dict[str, str]) -> builtins.list[DockerImage]: ...

    def load(self, data: BinaryIO) -> builtins.list[DockerImage]: ...

    def push(
        self, repository: str, *, tag: str, stream: bool, decode: bool, auth_config: dict[str, str] | None
    ) -> Iterator[EngineJson]: ...

    def remove(self, image: str, force: bool = False) -> None: ...


class DockerApi(Protocol):
    """``docker.APIClient``: the low-level calls (containers, attach, pull)."""

    def pull(
        self, repository: str, *, tag: str, stream: bool, decode: bool, auth_config: dict[str, str] | None
    ) -> Iterator[EngineJson]: ...

    def create_host_config(
        self, *, binds: dict[str, dict[str, str]], network_mode: str, device_requests: list[Any] | None
    ) -> dict[str, EngineJson]: ...

    def create_container(
        self,
        image: str,
        command: list[str],
        *,
        stdin_open: bool,
        detach: bool,
        environment: dict[str, str],
        working_dir: str,
        host_config: dict[str, EngineJson],
        labels: dict[str, str],
        name: str,
    ) -> dict[str, EngineJson]: ...

    def attach_socket(self, container: str, params: dict[str, int]) -> Any:
        """The attach stream: a socket, or an HTTP response holding one in ``_sock`` (it depends on the transport)."""
        ...

    def start(self, container: str) -> None: ...

    def inspect_container(self, container: str) -> dict[str, EngineJson]: ...

    def wait(self, container: str, timeout: float) -> dict[str, EngineJson]: ...

    def kill(self, container: str, signal: int) -> None: ...

    def remove_container(self, container: str, force: bool = False) -> None: ...

    def containers(
        self, all: bool = False, filters: dict[str, str] | None = None
    ) -> builtins.list[dict[str, EngineJson]]: ...


class DockerClient(Protocol):
    """``docker.DockerClient``."""

    @property
    def images(self) -> ImageCollection: ...

    @property
    def api(self) -> DockerApi: ...

    def ping(self) -> bool: ...

    def version(self) -> dict[str, EngineJson]: ...

    def close(self) -> None: ...
