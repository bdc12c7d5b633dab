"""Hypothesis strategies for malformed and extreme scenario input, shared by ``test_fuzz.py`` and
``benchmarks/fuzz_cli.py``.

Two families, both starting from ``scenarios/quickstart.yaml``:
- ``schema_cases``: the scenario as data, with one to three fields (existing or optional ones) set to
  edge values: zero, negative, tiny, huge, infinite and NaN numbers, booleans, wrong types, unit
  strings in and out of range, empty and long strings, and whole sections of the wrong kind.
- ``file_cases``: the scenario as bytes, mutated at file level: bytes flipped, inserted or cut,
  other encodings (UTF-16, Latin-1, a BOM), YAML structure changed (indentation, flow style,
  anchors and aliases, duplicate keys, tags, several documents), or replaced by generated YAML.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

QUICK = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
BASE: dict[str, Any] = yaml.safe_load(QUICK.read_text())

#: fields a mutation may set (dotted; ``[0]`` indexes a list), including optional sections
FIELDS: tuple[str, ...] = (
    "name",
    "seed",
    "horizon",
    "warmup",
    "replications",
    "endpoint",
    "endpoint.gpu",
    "endpoint.gpu[0]",
    "endpoint.gpus_per_worker",
    "endpoint.active_workers",
    "endpoint.max_workers",
    "endpoint.account_balance_usd",
    "endpoint.extra_workers",
    "endpoint.idle_timeout",
    "endpoint.execution_timeout",
    "endpoint.job_ttl",
    "endpoint.concurrency",
    "endpoint.flashboot",
    "endpoint.scaler",
    "endpoint.scaler.type",
    "endpoint.scaler.value",
    "endpoint.scaler_interval",
    "cold_start",
    "cold_start.image_size",
    "cold_start.registry_bandwidth",
    "cold_start.container_start",
    "cold_start.model",
    "cold_start.model.size",
    "cold_start.model.placement",
    "cold_start.model.bandwidth",
    "cold_start.handler_init",
    "cold_start.flashboot_resume",
    "cold_start.flashboot_window",
    "hosts",
    "hosts[0]",
    "hosts[0].gpu",
    "hosts[0].count",
    "hosts[0].gpus_per_host",
    "hosts[0].disk",
    "hosts[0].other_tenants",
    "hosts[0].other_tenants.time_scale",
    "hosts[0].other_tenants.mean_utilization",
    "workload",
    "workload.arrivals",
    "workload.arrivals.type",
    "workload.arrivals.rate",
    "workload.service",
    "workload.service.dist",
    "workload.service.mean",
    "workload.service.cv",
    "pricing",
    "pricing.H100",
    "pricing.H100.flex",
    "billing",
    "billing.preset",
    "billing.states",
    "faults",
    "faults.init_failure_prob",
    "faults.crash_rate_per_hour",
    "faults.init_timeout",
    "faults.retry_limit",
    "faults.unhealthy_retry",
    "events",
    "bogus",
)

#: numbers at and past every edge the schema has
EDGE_NUMBERS = (
    0,
    -1,
    1,
    3,
    0.5,
    1e-300,
    1e-9,
    1e-3,
    1e3,
    1e6,
    1e9,
    1e12,
    1e15,
    1e300,
    2**63,
    -(2**63),
    float("inf"),
    float("-inf"),
    float("nan"),
)
EDGE_STRINGS = (
    "",
    " ",
    "5s",
    "-5s",
    "0s",
    "1e-9s",
    "1e15s",
    "8GB",
    "1e30TB",
    "0.5/s",
    "1e12/s",
    "0/s",
    "200MB/s",
    "0B/s",
    "8 parsecs",
    "H100",
    "4090",
    "per_request",
    "poisson",
    "bursty",
    "trace",
    "lognormal",
    "nan",
    "inf",
    "∞",
    "\x00",
    "é" * 50,
    "x" * 5000,
)
SECTIONS: tuple[Any, ...] = (
    {},
    [],
    {"type": "bursty", "base_rate": 1e-9, "burst_rate": 1e9, "mean_burst": 1e-9, "mean_gap": 0},
    {"type": "diurnal", "mean_rate": 1, "period": 0},
    {"type": "diurnal", "mean_rate": 0.5, "period": "1h", "peak_to_trough": 1e6},
    {"type": "trace", "path": "/dev/null"},
    {"type": "trace", "path": "/etc/passwd"},
    {"type": "trace", "path": "."},
    {"type": "queue_delay", "value": 0},
    {"type": "request_count", "value": 1},
    {"type": "per_request"},
    {"dist": "empirical", "values": []},
    {"dist": "gamma", "mean": 2, "cv": 0},
    {"dist": "lognormal", "mean": 1e12, "cv": 100},
    {"mean_utilization": 1, "time_scale": 1e-3, "move_after": 1e-3},
    {"crash_rate_per_hour": 3600, "init_failure_prob": 1, "unhealthy_retry": 1e-6, "init_timeout": 1e-6},
    [{"at": 0, "deploy": {}}, {"at": 1, "set": {"endpoint.max_workers": 0}}],
    [{"at": -1, "set": {}}],
    [{"gpu": "H100", "count": 1, "gpus_per_host": 1}],
    [{"gpu": "A100", "count": 1}],
    {"running.warm": False, "initializing.pull": True, "idle": 1},
)

edge_values: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.sampled_from(EDGE_STRINGS),
    st.sampled_from(SECTIONS),
    st.booleans(),
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.sampled_from(EDGE_NUMBERS + EDGE_STRINGS[:12]), max_size=4),
)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    parts = dotted.replace("[0]", ".0").split(".")
    for part in parts[:-1]:
        key: Any = int(part) if part.isdigit() else part
        if isinstance(node, list):
            if not node:
                node.append({})
            node = node[0]
            continue
        if not isinstance(node.get(key), (dict, list)):
            node[key] = {}
        node = node[key]
    last: Any = parts[-1]
    if isinstance(node, list):
        if node:
            node[0] = value
        else:
            node.append(value)
    else:
        node[last] = value


@st.composite
def schema_cases(draw: st.DrawFn) -> dict[str, Any]:
    """The quickstart as data with one to three fields set to edge values."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        _set(data, draw(st.sampled_from(FIELDS)), draw(edge_values))
    return data


def dump(data: dict[str, Any]) -> bytes:
    """YAML bytes of a (possibly nonsensical) scenario dict; values YAML cannot represent become text."""
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8", "surrogatepass")
    except yaml.YAMLError:
        return repr(data).encode("utf-8", "surrogatepass")


TEXT = QUICK.read_bytes()


def _bomb(depth: int) -> bytes:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, depth)]
    return ("\n".join(lines) + "\n").encode()


yaml_trees: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


@st.composite
def file_cases(draw: st.DrawFn) -> bytes:
    """The quickstart's bytes, mutated at file level (or replaced by generated YAML)."""
    kind = draw(
        st.sampled_from(
            [
                "flip",
                "insert",
                "cut",
                "utf16",
                "latin1",
                "bom",
                "indent",
                "flow",
                "duplicate",
                "anchors",
                "bomb",
                "tags",
                "documents",
                "tree",
                "long_line",
                "nul",
            ]
        )
    )
    text = TEXT
    n = len(text)
    if kind == "flip":
        buf = bytearray(text)
        for _ in range(draw(st.integers(1, 8))):
            buf[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        return bytes(buf)
    if kind == "insert":
        at = draw(st.integers(0, n))
        return text[:at] + draw(st.binary(min_size=1, max_size=64)) + text[at:]
    if kind == "cut":
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, min(n, a + 400)))
        return text[:a] + text[b:]
    if kind == "utf16":
        return text.decode().encode("utf-16")
    if kind == "latin1":
        return text.decode().replace("quickstart", "quickstärt").encode("latin-1")
    if kind == "bom":
        return b"\xef\xbb\xbf" + text
    if kind == "indent":
        lines = text.split(b"\n")
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = b" " * draw(st.integers(1, 7)) + lines[i]
        return b"\n".join(lines)
    if kind == "flow":
        return yaml.safe_dump(BASE, default_flow_style=True).encode()
    if kind == "duplicate":
        return text + b"\nendpoint: {max_workers: 0}\nhorizon: 1e15\n"
    if kind == "anchors":
        return text.replace(b"idle_timeout: 5s", b"idle_timeout: &t 5s").replace(
            b"execution_timeout: 600s", b"execution_timeout: *t"
        )
    if kind == "bomb":
        return _bomb(draw(st.integers(2, 9))) + text
    if kind == "tags":
        tag = draw(st.sampled_from([b"!!python/object:os.system", b"!!binary", b"!!set", b"!!omap", b"!custom"]))
        return text.replace(b"name: quickstart", b"name: " + tag + b" quickstart")
    if kind == "documents":
        return text + b"\n---\n" + text
    if kind == "tree":
        return dump({"root": draw(yaml_trees)})[6:] if draw(st.booleans()) else dump(draw(yaml_trees))
    if kind == "long_line":
        return text.replace(b"name: quickstart", b"name: " + b"q" * draw(st.sampled_from([10_000, 2_000_000])))
    return text.replace(b"seed: 0", b"seed: \x000")
