"""Cold-start phases of one worker start: which phases, and how long each takes.

Owns the phase list rule: FlashBoot resume alone when eligible; otherwise the image pull
(skipped when the host caches the current image), container start, cached-model download
(when the host lacks the model), model load, handler init. Zero-length phases are dropped.
Pure over its inputs (the host's cache keys and three scalar draw sources); used by the endpoint core.
"""

from __future__ import annotations

from collections.abc import Container

from simserve.records import Phase
from simserve.rng import Draws
from simserve.scenario import ColdStart


def cold_phases(
    cs: ColdStart,
    cache: Container[str],
    image_key: str,
    flash: bool,
    d_container: Draws,
    d_handler: Draws,
    d_flash: Draws,
) -> list[tuple[Phase, float]]:
    """``[(phase code, seconds), ...]`` for a start on a host whose cache holds ``cache``."""
    if flash:
        return [(Phase.FLASHBOOT_RESUME, d_flash.next())]
    model = cs.model
    image_bytes = cs.image_size + (model.size if model.placement == "baked" else 0.0)
    phases: list[tuple[Phase, float]] = []
    if image_key not in cache:
        phases.append((Phase.PULL, image_bytes / cs.registry_bandwidth))
    phases.append((Phase.CONTAINER_START, d_container.next()))
    if model.placement == "cached" and "model" not in cache and model.size > 0:
        phases.append((Phase.MODEL_DOWNLOAD, model.size / (model.download_bandwidth or cs.registry_bandwidth)))
    if model.placement != "none" and model.size > 0:
        phases.append((Phase.MODEL_LOAD, model.size / model.load_bandwidth))
    phases.append((Phase.HANDLER_INIT, d_handler.next()))
    return [(p, d) for p, d in phases if d > 0] or [(Phase.HANDLER_INIT, 0.0)]
