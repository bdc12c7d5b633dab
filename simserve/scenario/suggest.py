"""The "did you mean" of an unknown scenario key: the accepted key closest to a misspelt one.

Owns ``keys_at`` (the keys the scenario format accepts where pydantic found an unknown one, read
from the models' fields along the error's location: through lists, dicts, optional and union
fields, narrowed by a union's tag), ``did_you_mean``, and ``similar_file`` (the scenario file beside a
path that does not exist). Reads the models only; imports nothing
but pydantic and the root model.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (``X``, ``X | None``, ``list[X]``, ``dict[str, X]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found += [m for m in _models_in(arg) if m not in found]
    return found


def _has_tag(model: type[BaseModel], tag: object) -> bool:
    """Whether one of ``model``'s fields is a ``Literal`` that allows ``tag`` (a union member's ``type``)."""
    return any(
        get_origin(f.annotation) is Literal and tag in get_args(f.annotation) for f in model.model_fields.values()
    )


def keys_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys accepted at ``loc[:-1]`` (``loc`` as a pydantic error gives it, ending in the bad key)."""
    models = [root]
    for item in loc[:-1]:
        if isinstance(item, int):
            continue  # a list index: the element's models are already the current ones
        fields = [m.model_fields[item] for m in models if item in m.model_fields]
        if fields:
            models = [x for f in fields for x in _models_in(f.annotation)]
        else:  # a union tag, a validator wrapper or a dict key: narrow to the tagged member if any
            models = [m for m in models if _has_tag(m, item)] or models
    keys = {name for m in models for name, f in m.model_fields.items() if not f.exclude}
    return sorted(keys - {"base_dir"})


def did_you_mean(root: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The accepted key closest to the unknown ``loc[-1]``, or None when none is close."""
    bad = str(loc[-1]) if loc else ""
    close = difflib.get_close_matches(bad, keys_at(root, loc), n=1, cutoff=0.6)
    if not close:  # a case slip: MAX_WORKERS
        close = [k for k in keys_at(root, loc) if k.lower() == bad.lower()]
    return close[0] if close else None


def similar_file(path: Path) -> str | None:
    """For a scenario path that does not exist: the YAML file beside it with the closest name, else None
    (``scenarios/sdxl.yaml`` -> ``scenarios/sdxl-bursty.yaml``)."""
    if path.exists() or not path.parent.is_dir():
        return None
    try:
        names = sorted(p.name for p in path.parent.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    except OSError:
        return None
    stem = {Path(n).stem: n for n in names}
    close = difflib.get_close_matches(path.stem, list(stem), n=1, cutoff=0.5)
    if not close:  # a prefix: sdxl -> sdxl-bursty
        close = [s for s in stem if s.startswith(path.stem) and path.stem][:1]
    return str(path.parent / stem[close[0]]) if close else None


__all__ = ["did_you_mean", "keys_at", "similar_file"]
