"""Bad LLM-endpoint input exits 2 with one line naming the file, the field path and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from simserve.cli import main

QUICK = Path("scenarios/quickstart.yaml")
LLM: dict[str, Any] = {
    "type": "llm",
    "prefill_tokens_per_s": 10000,
    "decode_step": {"base": "20ms", "per_sequence": "0.2ms"},
    "max_batch": 32,
}
TOKENS = {"input": 300, "output": {"dist": "geometric", "mean": 50}}


def _scenario(tmp_path: Path, service: Any, tokens: Any = TOKENS, **endpoint: Any) -> Path:
    data = yaml.safe_load(QUICK.read_text())
    data["workload"]["service"] = service
    if tokens is not None:
        data["workload"]["tokens"] = tokens
    data["endpoint"].update(endpoint)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "no_tokens": ({"service": LLM, "tokens": None}, "workload.tokens", "needs token counts"),
    "tokens_without_llm": ({"service": "2s"}, "workload.tokens", "used by a service of type llm only"),
    "gpu_not_in_table": (
        {"service": {**LLM, "prefill_tokens_per_s": {"A100": 9000}}},
        "workload",
        "prefill_tokens_per_s: no value for GPU H100",
    ),
    "unknown_model": ({"service": {**LLM, "decode_step": None, "model": "7t"}}, "workload", "decode_step"),
    "big_model_one_gpu": (
        {"service": {"type": "llm", "model": "70b"}, "gpu": ["H100"]},
        "workload.service.model",
        "needs 4 GPUs per worker",
    ),
    "zero_batch": ({"service": {**LLM, "max_batch": 0}}, "workload.service.max_batch", "greater than or equal to 1"),
    "negative_step": (
        {"service": {**LLM, "decode_step": {"base": "-1ms"}}},
        "workload.service.decode_step.base",
        "",
    ),
    "take_below_batch": (
        {"service": {**LLM, "max_concurrency": 8}},
        "workload.service",
        "max_concurrency: expected at least max_batch (32), got 8",
    ),
    "bool_kv": ({"service": {**LLM, "kv_cache_tokens": True}}, "workload.service.kv_cache_tokens", "number"),
    "unknown_key": ({"service": {**LLM, "max_batc": 3}}, "workload.service.max_batc", ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_llm_input_errors_exit_2_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, field, expected = CASES[case]
    spec = dict(spec)
    path = _scenario(tmp_path, spec.pop("service"), spec.pop("tokens", TOKENS), **spec)
    rc = main(["validate", str(path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert f": {field}" in err, err
    assert expected in err, err
    assert "Traceback" not in err


def test_valid_llm_scenario_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path, LLM)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert main(["validate", "scenarios/llm-azure-conv.yaml"]) == 0
