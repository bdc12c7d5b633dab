"""Example worker images built from local files, sized so that image size is felt on every pull.

Owns: writing a docker-archive (``docker save`` format) in pure Python — a base layer (a static
busybox when the host has one, the directory skeleton the container runtime mounts the host's
Python into), a padding layer of incompressible bytes bringing the image to N MB, and a layer with
the handler at ``/app`` — then loading it into an engine, tagging ``localhost/simserve-<stem>:<N>mb``,
pushing to a loopback registry, listing and removing simserve images. No network beyond the
engine's socket and 127.0.0.1; the engine client comes from ``simserve.live.engine_service``.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypedDict

import numpy as np

from simserve.live.dockerapi import DockerClient
from simserve.live.local_registry import registry_auth

if TYPE_CHECKING:
    from _typeshed import SupportsRead

MIB = 1 << 20
LABEL = "io.simserve.image"
BUSYBOX_APPLETS = ("sh", "ls", "cat", "echo", "sleep", "true", "env", "ps", "kill")
#: directories the container runtime bind-mounts over (the host's /usr carries Python's libc)
SKELETON_DIRS = ("usr", "tmp", "etc", "app", "proc", "sys", "dev", "root", "work", "opt")


@dataclass(frozen=True)
class BuiltImage:
    """An image loaded into an engine."""

    ref: str
    image_id: str
    size_mb: int
    size_bytes: int
    build_s: float


def image_ref(handler: Path | str, size_mb: int, registry: str | None = None) -> str:
    """Reference of the example image for ``handler`` padded to ``size_mb`` MB.

    >>> image_ref("examples/handlers/sleep.py", 64)
    'localhost/simserve-sleep:64mb'
    >>> image_ref("sleep.py", 8, registry="127.0.0.1:5000")
    '127.0.0.1:5000/simserve-sleep:8mb'
    """
    stem = Path(handler).stem.lower().replace("_", "-")
    return f"{registry or 'localhost'}/simserve-{stem}:{size_mb}mb"


class _RandomReader(io.RawIOBase):
    """``nbytes`` of deterministic incompressible bytes (seeded), read in chunks."""

    def __init__(self, nbytes: int, seed: int) -> None:
        self._left = nbytes
        self._rng = np.random.default_rng(seed)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        n = self._left if size < 0 else min(size, self._left)
        self._left -= n
        return self._rng.bytes(n)


class _HashingWriter(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self.sha = raw, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha.update(data)
        return self._raw.write(data)


def _info(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, mode: int = 0o644, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode, info.linkname, info.mtime = kind, size, mode, link, 0
    return info


def _static_busybox() -> Path | None:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.is_file() and b"libc.so" not in candidate.read_bytes()[:65536]:
            return candidate
    return None


def _base_entries() -> Iterator[tuple[tarfile.TarInfo, SupportsRead[bytes] | None]]:
    for d in (*SKELETON_DIRS, "bin"):
        yield _info(d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755), None
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "bin")):
        yield _info(link, tarfile.SYMTYPE, mode=0o777, link=target), None
    passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    yield _info("etc/passwd", size=len(passwd)), io.BytesIO(passwd)
    group = b"root:x:0:\nnogroup:x:65534:\n"
    yield _info("etc/group", size=len(group)), io.BytesIO(group)
    busybox = _static_busybox()
    if busybox is not None:
        data = busybox.read_bytes()
        yield _info("bin/busybox", size=len(data), mode=0o755), io.BytesIO(data)
        for applet in BUSYBOX_APPLETS:
            yield _info(f"bin/{applet}", tarfile.SYMTYPE, mode=0o777, link="busybox"), None


def _write_layer(path: Path, entries: Iterator[tuple[tarfile.TarInfo, SupportsRead[bytes] | None]]) -> tuple[str, int]:
    """Write an uncompressed layer tar; return (sha256 hex of it, bytes)."""
    with path.open("wb") as raw:
        writer = _HashingWriter(raw)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for info, fileobj in entries:
                tar.addfile(info, fileobj)
    return writer.sha.hexdigest(), path.stat().st_size


def write_archive(handler: Path, size_mb: int, out: Path, ref: str | None = None) -> Path:
    """Write a docker-archive of the example image for ``handler`` (~``size_mb`` MB) to ``out``."""
    ref = ref or image_ref(handler, size_mb)
    work = out.parent / (out.name + ".layers")
    work.mkdir(parents=True, exist_ok=True)
    code = handler.read_bytes()
    layers: list[tuple[str, str, int]] = []  # (name in archive, sha256, bytes)
    base_sha, base_bytes = _write_layer(work / "base.tar", _base_entries())
    layers.append(("base", base_sha, base_bytes))
    padding = max(0, size_mb * MIB - base_bytes - len(code))
    if padding:
        seed = zlib.crc32(f"{ref}".encode())  # distinct per image: no shared padding layer
        entry = (_info("opt/simserve-padding.bin", size=padding), _RandomReader(padding, seed))
        layers.append(("padding", *_write_layer(work / "padding.tar", iter([entry]))))
    app = _info("app/" + handler.name, size=len(code))
    layers.append(("app", *_write_layer(work / "app.tar", iter([(app, io.BytesIO(code))]))))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "WorkingDir": "/app",
            "Cmd": ["/bin/sh"],
            "Labels": {LABEL: "1", "io.simserve.size_mb": str(size_mb), "io.simserve.handler": handler.name},
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha}" for _, sha, _ in layers]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"simserve images: {n}"} for n, _, _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [f"{sha}/layer.tar" for _, sha, _ in layers]}]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, sha, nbytes in layers:  # fixed metadata: same inputs, same archive bytes
            with (work / f"{name}.tar").open("rb") as layer:
                tar.addfile(_info(f"{sha}/layer.tar", size=nbytes), layer)
        for name, data in ((config_name, config_bytes), ("manifest.json", json.dumps(manifest).encode())):
            tar.addfile(_info(name, size=len(data)), io.BytesIO(data))
    for name, _, _ in layers:
        (work / f"{name}.tar").unlink()
    work.rmdir()
    return out


def build_image(client: DockerClient, handler: Path, size_mb: int, scratch: Path | None = None) -> BuiltImage:
    """Build the example image for ``handler`` at ``size_mb`` MB and load it into ``client``'s engine."""
    handler = Path(handler)
    if not handler.is_file():
        raise FileNotFoundError(f"handler file not found: {handler}")
    if size_mb < 1:
        raise ValueError(f"image size must be at least 1 MB, got {size_mb}")
    ref = image_ref(handler, size_mb)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(dir=scratch, prefix="simserve-img-") as tmp:
        archive = write_archive(handler, size_mb, Path(tmp) / "image.tar", ref)
        with archive.open("rb") as fh:
            client.images.load(fh)
    image = client.images.get(ref)
    return BuiltImage(
        ref=ref,
        image_id=image.id,
        size_mb=size_mb,
        size_bytes=int(image.attrs.get("Size", 0)),
        build_s=time.monotonic() - t0,
    )


def push_image(client: DockerClient, ref: str, registry: str, keep_local_tag: bool = False) -> str:
    """Push ``ref`` to ``registry`` (``host:port``); return the registry reference.

    The registry tag is removed locally unless ``keep_local_tag``, so a later start really pulls.
    A loopback registry simserve runs gets its credentials (``simserve.live.local_registry``).
    """
    repo_tag = ref.split("/", 1)[1] if "/" in ref.split(":", 1)[0] else ref
    remote = f"{registry}/{repo_tag}"
    repository, tag = remote.rsplit(":", 1)
    client.images.get(ref).tag(repository, tag)
    auth = registry_auth(remote)
    for line in client.images.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
        if isinstance(line, dict) and line.get("error"):
            raise RuntimeError(f"push of {remote} failed: {line['error']}")
    if not keep_local_tag:
        client.images.remove(remote)
    return remote


class ImageRow(TypedDict):
    """One tag of a simserve example image in the engine (``list_images``)."""

    ref: str
    id: str
    handler: str
    size_mb: float


def list_images(client: DockerClient) -> list[ImageRow]:
    """simserve example images in the engine: ref, id, size in MB, handler."""
    rows: list[ImageRow] = []
    for image in client.images.list(filters={"label": LABEL}):
        labels = image.attrs.get("Config", {}).get("Labels") or image.labels or {}
        for tag in image.tags or ["<none>"]:
            rows.append(
                {
                    "ref": tag,
                    "id": image.short_id,
                    "handler": labels.get("io.simserve.handler", ""),
                    "size_mb": round(int(image.attrs.get("Size", 0)) / MIB, 1),
                }
            )
    return sorted(rows, key=lambda r: r["ref"])


def remove_image(client: DockerClient, ref: str) -> bool:
    """Remove ``ref`` from the engine (force); False when it was not there."""
    import docker.errors

    try:
        client.images.remove(ref, force=True)
    except docker.errors.NotFound:  # ImageNotFound, or podman's plain 404
        return False
    return True
