"""Cold-start phases of one worker start: which phases, and how long each takes.

Owns the phase list rule: FlashBoot resume alone when eligible; otherwise the image pull
(skipped when the host caches the current image), container start, cached-model download
(when the host lacks the model), model load, handler init. Zero-length phases are dropped.
Pure over its inputs (the host's cache keys and three scalar draw sources); no simpy.
"""

from __future__ import annotations

from collections.abc import Container

from simserve.records import P_CONTAINER, P_FLASHBOOT, P_HANDLER, P_MODEL_DL, P_MODEL_LOAD, P_PULL
from simserve.rng import Draws
from simserve.scenario import ColdStart


def cold_phases(cs: ColdStart, cache: Container[str], image_key: str, flash: bool,
                d_container: Draws, d_handler: Draws, d_flash: Draws) -> list[tuple[int, float]]:
    """``[(phase code, seconds), ...]`` for a start on a host whose cache holds ``cache``."""
    if flash:
        return [(P_FLASHBOOT, d_flash.next())]
    model = cs.model
    image_bytes = cs.image_size + (model.size if model.placement == "baked" else 0.0)
    phases: list[tuple[int, float]] = []
    if image_key not in cache:
        phases.append((P_PULL, image_bytes / cs.registry_bandwidth))
    phases.append((P_CONTAINER, d_container.next()))
    if model.placement == "cached" and "model" not in cache and model.size > 0:
        phases.append((P_MODEL_DL, model.size / (model.download_bandwidth or cs.registry_bandwidth)))
    if model.placement != "none" and model.size > 0:
        phases.append((P_MODEL_LOAD, model.size / model.load_bandwidth))
    phases.append((P_HANDLER, d_handler.next()))
    return [(p, d) for p, d in phases if d > 0] or [(P_HANDLER, 0.0)]
