"""Files a live run reads for real: the image payload in a local image store, the model weights.

Owns ``prepare_assets``: the image store (``<store>/images/<key>``, a payload of
``min(image_size, max_file_bytes)`` bytes, copied into a host cache on ``pull``) and one
weights file per placement directory (``<store>/models/<placement>/weights.bin``), plus the
wall-clock read throttle that makes ``model_load`` last ``size / bandwidth`` scenario seconds
(a file capped below the scenario's size is read proportionally slower; the time is measured).
Files are written once (through a temporary file created exclusively) and reused by later runs
with the same store.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simserve.scenario import Scenario

DEFAULT_MAX_FILE_BYTES = 64 << 20


@dataclass(frozen=True)
class Assets:
    image_store: Path
    image_keys: tuple[str, ...]  # payload file per image version (0, then one per deploy)
    model_path: Path | None
    model_bytes_per_wall_s: float  # 0 = unthrottled

    @property
    def image_key(self) -> str:
        return self.image_keys[0]


def _ensure_file(path: Path, size: int) -> None:
    if path.is_file() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)  # exclusive: no planted link
    block = os.urandom(1 << 20)
    with os.fdopen(fd, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    os.replace(tmp, path)


def prepare_assets(
    scenario: Scenario, store: Path, speed: float, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Assets:
    """Create (or reuse) the image payload and weights file for ``scenario``."""
    cs = scenario.cold_start
    sizes = [cs.image_size]
    for ev in sorted(scenario.events, key=lambda e: e.at):
        if ev.deploy is not None:  # each deploy is a new version: a new payload, pulled anew
            sizes.append(ev.deploy.image_size if ev.deploy.image_size is not None else sizes[-1])
    keys = []
    for version, size in enumerate(sizes):
        image_bytes = int(min(size, max_file_bytes))
        key = f"image-{image_bytes}.bin" if version == 0 else f"image-v{version}-{image_bytes}.bin"
        _ensure_file(store / "images" / key, image_bytes)
        keys.append(key)
    model = cs.model
    if model.placement == "none" or model.size <= 0:
        return Assets(store / "images", tuple(keys), None, 0.0)
    file_bytes = int(min(model.size, max_file_bytes))
    path = store / "models" / model.placement / f"weights-{file_bytes}.bin"
    _ensure_file(path, file_bytes)
    wall_s = model.size / model.load_bandwidth / speed  # the load the scenario describes, compressed
    return Assets(store / "images", tuple(keys), path, file_bytes / wall_s if wall_s > 0 else 0.0)
