"""LLM engine defaults (simserve.llm_catalog): catalog names, the KV and roofline arithmetic reproduced by
hand, orderings between GPUs, the published vLLM check, lookups and their errors, and the docs table."""

from __future__ import annotations

from pathlib import Path

import pytest

from simserve import catalog, llm_catalog
from simserve.llm_catalog import ARCHS, GPUS, MODELS, POOL_GPU, EngineProfile, GpuSpec, derive, models, profile

DOCS = Path(__file__).resolve().parents[2] / "docs" / "llm-catalog.md"


def test_every_gpu_name_is_a_catalog_name() -> None:
    for table in MODELS.values():
        for gpu in table:
            catalog.lookup(gpu)
    for gpu in GPUS:
        catalog.lookup(gpu)
    for pool, gpu in POOL_GPU.items():
        assert catalog.lookup(gpu).pool == pool
    for reasons in llm_catalog.DOES_NOT_FIT.values():
        for name in reasons:
            catalog.lookup(name)
    assert set(POOL_GPU) | {"AMPERE_16"} == {catalog.lookup(g).pool for g in catalog.known_gpus()}


def test_coverage_24_48_80_gb_and_hopper_class() -> None:
    assert models() == ["8b", "70b"]
    assert {"L4", "4090", "A6000", "L40S", "A100", "H100", "H200", "B200"} <= set(MODELS["8b"])
    assert {"L40S", "A100", "H100", "H200", "B200"} <= set(MODELS["70b"])
    assert MODELS["70b"]["H100"].gpus_per_worker == 4
    assert MODELS["70b"]["H200"].gpus_per_worker == 2
    assert MODELS["70b"]["B200"].gpus_per_worker == 1


def test_architectures_match_the_published_parameter_counts() -> None:
    assert ARCHS["8b"].params == 8_030_261_248
    assert ARCHS["70b"].params == 70_553_706_496
    assert ARCHS["8b"].kv_bytes_per_token == 2 * 32 * 8 * 128 * 2 == 131_072
    assert ARCHS["70b"].kv_bytes_per_token == 2 * 80 * 8 * 128 * 2 == 327_680


def test_kv_and_roofline_arithmetic_by_hand() -> None:
    p = MODELS["8b"]["H100"]
    free = 0.9 * 80e9 - 2 * 8_030_261_248  # 55,939,477,504 bytes
    assert p.kv_cache_tokens == 426_784 == int(free / 131_072) // 16 * 16
    assert p.decode_base_s == round(16_060_522_496 / (3350e9 * 0.75), 7) == 0.0063922
    per_seq = 131_072 * 1024 / (3350e9 * 0.75) + 2 * 8_030_261_248 / (989.4e12 * 0.5)
    assert p.decode_per_sequence_s == round(per_seq, 8)
    assert p.prefill_tokens_per_s == round(989.4e12 * 0.5 / (2 * 8_030_261_248 + 2 * 32 * 4096 * 1024))
    assert (p.max_batch, p.gpus_per_worker) == (256, 1)
    # 70b on 2 x H200: 0.9 x 282 GB - 141.1 GB of weights, over 320 KiB per token; 160 NVLink all-reduces
    q = MODELS["70b"]["H200"]
    assert q.kv_cache_tokens == 343_904 == int((0.9 * 282e9 - 141_107_412_992) / 327_680) // 16 * 16
    assert q.decode_base_s == round(141_107_412_992 / (2 * 4800e9 * 0.75) + 160 * 10e-6, 7)


def test_faster_gpus_are_faster() -> None:
    p = MODELS["8b"]
    order = ["B200", "H200", "H100", "A100", "L40S", "L4"]
    bases = [p[g].decode_base_s for g in order]
    assert bases == sorted(bases) and len(set(bases)) == len(bases)
    per_seq = [p[g].decode_per_sequence_s for g in order]
    assert per_seq == sorted(per_seq)
    assert p["B200"].prefill_tokens_per_s > p["H100"].prefill_tokens_per_s > p["A100"].prefill_tokens_per_s
    assert p["A100"].prefill_tokens_per_s > p["L4"].prefill_tokens_per_s
    kv = [p[g].kv_cache_tokens for g in ["B200", "H200", "H100", "L40S", "L4"]]
    assert kv == sorted(kv, reverse=True)
    assert p["H100"].kv_cache_tokens == p["A100"].kv_cache_tokens  # both 80 GB
    for model, table in MODELS.items():
        for gpu, prof in table.items():
            assert isinstance(prof, EngineProfile)
            assert prof.kv_cache_tokens >= 32_768, (model, gpu)  # one long prompt fits
            assert prof.kv_cache_tokens % 16 == 0
            assert 0 < prof.decode_per_sequence_s < prof.decode_base_s < 0.1, (model, gpu)
            assert prof.prefill_tokens_per_s > 1000
            assert prof.source.startswith("roofline estimate: ") and gpu in prof.source
    assert MODELS["70b"]["H100"].decode_base_s > MODELS["8b"]["H100"].decode_base_s


def test_matches_the_published_vllm_a100_measurement_within_10_percent() -> None:
    """vLLM, Llama-3.1-8B bf16, one A100 40GB: 75 tokens/s alone, 6.6 x that with 8 requests in flight
    (johnmusgrave.com/p/vllm-throughput-latency-sweep-on)."""
    a100_40 = GpuSpec(1555, 312.0, True, "A100 40GB datasheet")
    p = derive(ARCHS["8b"], "A100", a100_40, 1, vram_gb=40)
    alone = 1 / p.decode_base_s
    eight = 8 / (p.decode_base_s + 8 * p.decode_per_sequence_s)
    assert alone == pytest.approx(75, rel=0.10)
    assert eight == pytest.approx(6.6 * 75, rel=0.10)


def test_lookup_by_name_alias_and_pool() -> None:
    assert profile("8b", "h100") is MODELS["8b"]["H100"]
    assert profile("8B", "RTX4090") is MODELS["8b"]["4090"]
    assert profile("8b", "A100-80GB") is MODELS["8b"]["A100"]
    assert profile("8b", "AMPERE_24") is MODELS["8b"]["L4"]  # the pool's slowest GPU
    assert profile("70b", "ADA_48_PRO") is MODELS["70b"]["L40"]
    assert profile("70b", "HOPPER_141") is MODELS["70b"]["H200"]


def test_lookup_errors_name_what_exists_and_why() -> None:
    with pytest.raises(KeyError) as err:
        profile("13b", "H100")
    assert err.value.args[0] == "no LLM engine profile for model '13b'; expected one of 8b, 70b"
    with pytest.raises(KeyError) as err:
        profile("8b", "A4500")
    assert err.value.args[0].startswith(
        "no 8b profile for GPU 'A4500' (16 GB < 16.1 GB of bf16 weights); expected one of L4, A5000, 3090,"
    )
    with pytest.raises(KeyError) as err:
        profile("70b", "RTX4090")
    assert "(needs 8 GPUs of 24 GB over PCIe (not listed))" in err.value.args[0]
    assert "expected one of A6000, A40, L40, L40S, 6000ADA, A100, H100, RTXPRO6000, H200, B200" in err.value.args[0]
    with pytest.raises(KeyError) as err:
        profile("8b", "TPU")
    assert err.value.args[0].startswith("no 8b profile for GPU 'TPU'; expected one of L4,")
    assert "or a pool id (AMPERE_24, ADA_24," in err.value.args[0]
    with pytest.raises(ValueError, match="does not fit 1 x H200"):
        derive(ARCHS["70b"], "H200", GPUS["H200"], 1)


def test_docs_table_is_the_catalog() -> None:
    text = DOCS.read_text()
    for model, table in MODELS.items():
        for gpu, p in table.items():
            row = (
                f"| {model} | {gpu} | {p.gpus_per_worker} | {p.prefill_tokens_per_s:,.0f} | {p.decode_base_s * 1e3:.2f}"
                f" | {p.decode_per_sequence_s * 1e6:.0f} | {p.max_batch} | {p.kv_cache_tokens:,} |"
            )
            assert row in text, row
