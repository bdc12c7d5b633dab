"""``simserve images build|push|ls|rm`` and ``simserve images registry start|stop|ls``.

Thin: connects to the container engine (Docker, or a podman service started for the command and
stopped after it), calls ``simserve.live.images`` / ``simserve.live.local_registry``, prints with rich.
The registry outlives the command (it is a daemon on 127.0.0.1 with a pid file) until
``simserve images registry stop``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from simserve.cli import UsageError, app

if TYPE_CHECKING:
    from simserve.live.engine_service import EngineSession

console = Console()
images_app = typer.Typer(help="Build example worker images, push them to a loopback registry.", no_args_is_help=True)
registry_app = typer.Typer(
    help="A loopback OCI registry on 127.0.0.1 (Debian's docker-registry).", no_args_is_help=True
)
images_app.add_typer(registry_app, name="registry")
app.add_typer(images_app, name="images")

PORT_HELP = "registry port on 127.0.0.1 (default $SIMSERVE_REGISTRY_PORT or 5000)"


def _port(port: int | None) -> int:
    from simserve.live.local_registry import registry_env_port

    return port or registry_env_port()


@contextmanager
def _engine(engine: str, registries: tuple[str, ...] = ()) -> Iterator[EngineSession]:
    from simserve.live.engine_service import EngineUnavailable, connect

    try:
        session = connect(engine, registries)
    except EngineUnavailable as exc:
        raise UsageError(str(exc)) from None
    with session:
        yield session


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.strip().lower().removesuffix("mb")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--size-mb: expected comma-separated integers (MB), got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--size-mb: sizes must be at least 1 MB, got {text!r}")
    return sizes


@images_app.command("build")
def build(
    handler: Path = typer.Argument(..., help="handler file copied into the image at /app"),
    size_mb: str = typer.Option("16", "--size-mb", help="image size(s) in MB, e.g. 16,256,1024"),
    push: bool = typer.Option(False, "--push", help="also push to the loopback registry (started if needed)"),
    port: int | None = typer.Option(None, "--port", help=PORT_HELP),
    engine: str = typer.Option("auto", "--engine", help="auto | docker | podman"),
) -> None:
    """Build example images (busybox + N MB padding + handler), tagged localhost/simserve-<name>:<N>mb."""
    from simserve.live.images import build_image, push_image
    from simserve.live.local_registry import LocalRegistry

    if not handler.is_file():
        raise UsageError(f"{handler}: handler file not found")
    sizes = _sizes(size_mb)
    registry = LocalRegistry(port=_port(port)) if push else None
    with _engine(engine, (registry.address,) if registry else ()) as session:
        if registry is not None:
            registry.start()
        for mb in sizes:
            built = build_image(session.client, handler, mb)
            line = f"built {built.ref} ({built.size_bytes / 2**20:,.1f} MiB) in {built.build_s:.1f} s"
            if registry is not None:
                line += f"; pushed {push_image(session.client, built.ref, registry.address, True)}"
            console.print(line)


@images_app.command("push")
def push(
    ref: str = typer.Argument(..., help="local image, e.g. localhost/simserve-sleep:256mb"),
    port: int | None = typer.Option(None, "--port", help=PORT_HELP),
    engine: str = typer.Option("auto", "--engine", help="auto | docker | podman"),
) -> None:
    """Push an image to the loopback registry (started if it is not running)."""
    from simserve.live.images import push_image
    from simserve.live.local_registry import LocalRegistry

    registry = LocalRegistry(port=_port(port))
    with _engine(engine, (registry.address,)) as session:
        registry.start()
        console.print(f"pushed {push_image(session.client, ref, registry.address, True)}")


@images_app.command("ls")
def ls(engine: str = typer.Option("auto", "--engine", help="auto | docker | podman")) -> None:
    """List simserve example images in the engine."""
    from simserve.live.images import list_images

    with _engine(engine) as session:
        rows = list_images(session.client)
    table = Table("image", "id", "MiB", "handler")
    for r in rows:
        table.add_row(r["ref"], r["id"].removeprefix("sha256:")[:12], f"{r['size_mb']:,.1f}", r["handler"])
    console.print(table if rows else "no simserve images (simserve images build HANDLER.py)")


@images_app.command("rm")
def rm(
    refs: list[str] = typer.Argument(..., help="images to remove"),
    engine: str = typer.Option("auto", "--engine", help="auto | docker | podman"),
) -> None:
    """Remove images from the engine."""
    from simserve.live.images import remove_image

    with _engine(engine) as session:
        for ref in refs:
            console.print(f"{'removed' if remove_image(session.client, ref) else 'not present'} {ref}")


@registry_app.command("start")
def registry_start(port: int | None = typer.Option(None, "--port", help=PORT_HELP)) -> None:
    """Start the loopback registry in the background (kept until `registry stop`)."""
    from simserve.live.local_registry import LocalRegistry, RegistryError

    registry = LocalRegistry(port=_port(port))
    try:
        pid = registry.start()
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
    console.print(f"registry on {registry.address} (pid {pid}, storage {registry.directory})")


@registry_app.command("stop")
def registry_stop(port: int | None = typer.Option(None, "--port", help=PORT_HELP)) -> None:
    """Stop the loopback registry simserve started (by its pid)."""
    from simserve.live.local_registry import LocalRegistry

    registry = LocalRegistry(port=_port(port))
    console.print(
        f"stopped registry on {registry.address}"
        if registry.stop()
        else f"no simserve registry running on {registry.address}"
    )


@registry_app.command("ls")
def registry_ls(port: int | None = typer.Option(None, "--port", help=PORT_HELP)) -> None:
    """List repositories and tags in the loopback registry."""
    from simserve.live.local_registry import LocalRegistry

    registry = LocalRegistry(port=_port(port))
    if not registry.is_up():
        raise UsageError(f"no registry answers on {registry.address} (simserve images registry start)")
    for repo, tags in registry.repositories().items():
        console.print(f"{registry.address}/{repo}: {', '.join(tags)}")
