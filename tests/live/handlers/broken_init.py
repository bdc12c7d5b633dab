"""A handler that cannot start: it raises at import, as a missing weights file would."""

raise RuntimeError("weights missing: /models/model.safetensors")
