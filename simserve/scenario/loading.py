"""Loading: a path or dict plus ``dotted.key=value`` overrides into a validated ``Scenario``, one-line
errors, the JSON schema.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)

from simserve.inputs import ScenarioError, read_text_file
from simserve.safe_yaml import YamlInputError, load_yaml
from simserve.scenario.root import Scenario
from simserve.scenario.suggest import did_you_mean, similar_file

# ----------------------------------------------------------------------------- loading
#: a scenario file larger than this is refused before it is parsed
MAX_SCENARIO_BYTES = 1 << 20


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in (
            "constant",
            "exponential",
            "lognormal",
            "gamma",
            "empirical",
            "geometric",
            "poisson",
            "diurnal",
            "bursty",
            "trace",
            "weekly",
            "queue_delay",
            "request_count",
            "per_request",
            "function-before[_coerce_dist()]",
        ) or str(item).startswith(("function-", "service:", "per-gpu:")):
            continue  # union tags and validator wrappers are not field names users wrote
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


_FIELD_PATH = re.compile(r"[A-Za-z_][\w.\[\]]*")


def _first_error(err: ValidationError) -> tuple[str, str]:
    errors = err.errors(include_url=False)
    e = errors[0]
    if e["type"] == "missing":  # a misspelt required key is missing and unknown: say the unknown one
        parent = tuple(e["loc"])[:-1]
        e = next((x for x in errors if x["type"] == "extra_forbidden" and tuple(x["loc"])[:-1] == parent), e)
    msg = e["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if e["type"] == "extra_forbidden":
        near = did_you_mean(Scenario, tuple(e["loc"]))
        msg = (
            f"unknown key; did you mean {near!r}? (see `simserve schema`)"
            if near
            else "unknown key (not part of the scenario format; see `simserve schema`)"
        )
    elif e["type"] == "missing":
        msg = "required field is missing"
    elif e["type"] == "union_tag_invalid":
        msg = f"expected 'type' to be one of {e.get('ctx', {}).get('expected_tags', '')}"
    elif "input" in e and e["type"] not in ("value_error",) and "got" not in msg:
        msg = f"{msg}; got {e['input']!r}"
    path = _format_loc(tuple(e["loc"]))
    if e["type"] == "value_error":  # cross-field checks of a model name their field: "field.path: message"
        head, sep, rest = msg.partition(": ")
        if sep and _FIELD_PATH.fullmatch(head):
            return (f"{path}.{head}" if path else head), rest
    return path, msg


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {} if node.get(k) is None else node[k]
            if not isinstance(node[k], dict):
                raise ScenarioError("--set", dotted, f"{k} is not a section")
        node = node[k]
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"endpoint.max_workers=5"`` -> ``("endpoint.max_workers", 5)`` (value read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError("--set", text, "expected dotted.key=value, e.g. endpoint.max_workers=5")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except YamlInputError as exc:
        if not exc.malformed:
            raise ScenarioError("--set", key.strip(), str(exc)) from None
        value = raw
    return key.strip(), value


def load_scenario(
    source: str | Path | dict[str, Any],
    overrides: dict[str, Any] | list[str] | None = None,
) -> Scenario:
    """Load and validate a scenario from a YAML path or a dict, applying dotted overrides.

    ``overrides`` is a dict ``{"endpoint.max_workers": 5}`` or a list of ``"key=value"``
    strings. Raises ``ScenarioError`` (a ``ValueError``) on any bad input.
    """
    if isinstance(source, dict):
        label, data, base = "<scenario>", copy.deepcopy(source), Path(source.get("base_dir", "."))
    else:
        path = Path(source)
        label, base = str(path), path.parent
        try:
            data = load_yaml(read_text_file(path, label, MAX_SCENARIO_BYTES))
        except YamlInputError as exc:
            raise ScenarioError(label, "", str(exc)) from None
        except ScenarioError as exc:
            near = similar_file(path)
            if near is None:
                raise
            raise ScenarioError(label, "", f"{exc.message}; did you mean {near}?") from None
        if not isinstance(data, dict):
            raise ScenarioError(label, "", "expected a YAML mapping of scenario keys at the top level")
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides or [])
    for key, value in items:
        _set_dotted(data, key, value)
    data.setdefault("base_dir", str(base))
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        path_str, msg = _first_error(err)
        raise ScenarioError(label, path_str, msg) from None
    except (TypeError, ValueError) as err:  # defensive: validators that raise outside pydantic
        raise ScenarioError(label, "", str(err)) from None


def scenario_json_schema() -> dict[str, Any]:
    """JSON schema of the scenario format, for editors."""
    schema = Scenario.model_json_schema(mode="validation")
    schema.get("properties", {}).pop("base_dir", None)
    return schema
