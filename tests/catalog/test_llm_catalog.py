"""LLM engine defaults (simserve.llm_catalog): catalog names, the KV and step-cost arithmetic reproduced by
hand from the measured figures, the Vidur rows and the published vLLM decode the figures reproduce, the
serving-size factors and the host CPU factor, orderings between GPUs, lookups and their errors, the serving
engines, and the docs table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simserve import catalog, llm_catalog
from simserve.llm_catalog import (
    ARCHS,
    ENGINES,
    GPUS,
    MEASURED,
    MODELS,
    POOL_GPU,
    SERVING_TOKENS,
    VIDUR_CHECKS,
    VIDUR_SERVING,
    Achieved,
    EngineProfile,
    GpuSpec,
    derive,
    models,
    profile,
    serving_factors,
    vidur_model_ms,
)
from simserve.scenario.workload import LlmService

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


def test_kv_and_step_cost_arithmetic_by_hand() -> None:
    p = MODELS["8b"]["H100"]
    free = 0.9 * 80e9 - 2 * 8_030_261_248  # 55,939,477,504 bytes
    assert p.kv_cache_tokens == 426_784 == int(free / 131_072) // 16 * 16
    bw = 404.8e6 / 0.156e-3  # H100: Vidur's Llama-2-7B GEMMs stream 404.8 MB in 0.156 ms at 1 token
    rate = 404.8e6 * 4096 / 2.585e-3  # and the whole layer computes 4096 tokens in 2.585 ms
    streamed = 2 * (8_030_261_248 - 128_256 * 4096)  # all weights but the embedding table
    # at serving sizes (Vidur, the same layer): its GEMMs at 1 token as the roofline has them; the layer at
    # 512-2,048 tokens 0.3745/0.359, 0.588/0.509, 0.657/0.665, 1.043/0.982, 1.2632/1.302 of it: 1.044 on average
    stream_x, compute_x = 0.156 / vidur_model_ms("H100", 202_375_168, 1, 1), 1.0440  # 1.0001: 404.75 MB, not 404.8
    assert serving_factors("8b", "H100") == pytest.approx((stream_x, compute_x), abs=2e-4)
    assert p.weights_s == pytest.approx(streamed / bw * stream_x, rel=1e-6)
    assert p.per_token_s == pytest.approx(2 * (8_030_261_248 - 2 * 128_256 * 4096) / rate * compute_x, rel=2e-4)
    assert p.per_sampled_s == pytest.approx(2 * 128_256 * 4096 / rate * compute_x, rel=2e-4)
    assert p.per_kv_token_s == pytest.approx(131_072 / bw, rel=1e-6)
    assert p.per_attention_pair_s == pytest.approx(4 * 32 * 32 * 128 / rate, rel=1e-6)
    assert (p.allreduce_s, p.allreduce_per_token_s, p.max_batched_tokens) == (0.0, 0.0, 8192)
    assert p.prefill_tokens_per_s == float("inf") and (p.max_batch, p.gpus_per_worker) == (256, 1)
    # 70b on 2 x H200: 0.9 x 282 GB - 141.1 GB of weights, over 320 KiB per token; 160 NVLink all-reduces
    q = MODELS["70b"]["H200"]
    assert q.kv_cache_tokens == 343_904 == int((0.9 * 282e9 - 141_107_412_992) / 327_680) // 16 * 16
    assert q.allreduce_s == pytest.approx(160 * 30e-6)
    assert q.allreduce_per_token_s == pytest.approx(2 * 80 * 8192 * 2 * 2 * (2 - 1) / 2 / 200e9)
    assert MODELS["8b"]["L4"].max_batched_tokens == 2048  # vLLM V1: under 70 GiB
    assert MODELS["8b"]["A100"].max_batched_tokens == MODELS["70b"]["A100"].max_batched_tokens == 2048  # not A100


def test_faster_gpus_are_faster() -> None:
    p = MODELS["8b"]
    order = ["B200", "H200", "H100", "A100", "L40S", "L4"]
    decode = [p[g].decode_step_s(16, 1024) for g in order]
    assert decode == sorted(decode) and len(set(decode)) == len(decode)
    prefill = [p[g].prefill_s(2048) for g in ["B200", "H100", "A100", "L4"]]
    assert prefill == sorted(prefill)
    kv = [p[g].kv_cache_tokens for g in ["B200", "H200", "H100", "L40S", "L4"]]
    assert kv == sorted(kv, reverse=True)
    assert p["H100"].kv_cache_tokens == p["A100"].kv_cache_tokens  # both 80 GB
    for model, table in MODELS.items():
        for gpu, prof in table.items():
            assert isinstance(prof, EngineProfile)
            assert prof.kv_cache_tokens >= 32_768, (model, gpu)  # one long prompt fits
            assert prof.kv_cache_tokens % 16 == 0
            assert 0 < prof.per_token_s < prof.weights_s < 0.1, (model, gpu)
            assert (prof.allreduce_s > 0) == (prof.gpus_per_worker > 1)
            assert gpu in prof.source and "achieved" in prof.source
    assert MODELS["70b"]["H100"].decode_step_s(1, 1024) > MODELS["8b"]["H100"].decode_step_s(1, 1024)


def test_measured_figures_reproduce_vidur_rows_they_do_not_come_from() -> None:
    """The A100 and H100 figures come from one Vidur row each at 1 token and one at thousands; five other
    rows (other token counts, a 70B layer alone and split over 4 GPUs) come out within 17 %."""
    for gpu, _, params, tp, tokens, ms, _ in VIDUR_CHECKS:
        assert vidur_model_ms(gpu, params, tp, tokens) == pytest.approx(ms, rel=0.17), (gpu, tokens, tp)
    assert MEASURED["A100"].weight_gb_s / GPUS["A100"].bandwidth_gb_s == pytest.approx(0.772, abs=0.005)
    assert MEASURED["H100"].weight_gb_s / GPUS["H100"].bandwidth_gb_s == pytest.approx(0.775, abs=0.005)


def test_serving_factors_reproduce_the_vidur_rows_they_come_from() -> None:
    """The factors scale the roofline to Vidur's serving-size rows: the split layer's GEMMs at 1 token exactly,
    its whole layer at 512-2,048 tokens within 11 % row by row (the GEMM tiling's steps), 0 % on average; GPUs
    without a profile take the mean of A100's and H100's."""
    for model, rows in VIDUR_SERVING.items():
        for gpu, (_, params, tp, gemms_1, layers) in rows.items():
            stream_x, compute_x = serving_factors(model, gpu)
            assert vidur_model_ms(gpu, params, tp, 1) * stream_x == pytest.approx(gemms_1, rel=1e-9)
            got = [vidur_model_ms(gpu, params, tp, n) * compute_x for n in SERVING_TOKENS]
            assert all(g == pytest.approx(ms, rel=0.11) for g, ms in zip(got, layers, strict=True)), (model, gpu)
            assert sum(ms / g for g, ms in zip(got, layers, strict=True)) / len(got) == pytest.approx(1.0)
            assert 0.9 < stream_x < 1.1 and 1.0 < compute_x < 1.1
    mean = [sum(f) / 2 for f in zip(serving_factors("70b", "A100"), serving_factors("70b", "H100"), strict=True)]
    assert serving_factors("70b", "H200") == pytest.approx(tuple(mean))
    assert MODELS["70b"]["A100"].weights_s > MODELS["70b"]["A100"].weights_s / serving_factors("70b", "A100")[0]


def test_host_cpu_scales_the_servers_cpu_figures() -> None:
    """``host_cpu`` (default 1: the hosts the figures were fitted on) scales the serving engine's CPU figures,
    the per-prompt-token one as a rate; figures the scenario gives are its own."""
    sw = ENGINES["vllm-0.6-multistep"]
    svc = {"type": "llm", "model": "8b", "server": "vllm-0.6-multistep"}
    one, two = LlmService(**svc).engine("A100"), LlmService(**svc, host_cpu=2.0).engine("A100")
    assert (one.base_s, one.per_sequence_s, one.in_run_s, one.frontend_s) == (
        sw.step_s,
        sw.per_sequence_s,
        sw.in_run_s,
        sw.frontend_s,
    )
    assert 1 / one.prefill_tokens_per_s == pytest.approx(sw.prompt_token_s)
    assert (two.base_s, two.per_sequence_s, two.in_run_s, two.frontend_s) == pytest.approx(
        (2 * sw.step_s, 2 * sw.per_sequence_s, 2 * sw.in_run_s, 2 * sw.frontend_s)
    )
    assert 1 / two.prefill_tokens_per_s == pytest.approx(2 * sw.prompt_token_s)
    assert (two.weights_s, two.per_token_s) == (one.weights_s, one.per_token_s)  # the GPU's work is the GPU's
    own = LlmService(**svc, host_cpu=2.0, decode_step={"base": "3ms"}, frontend_per_request="1ms").engine("A100")
    assert (own.base_s, own.frontend_s) == (0.003, 0.001)
    v1 = {"type": "llm", "model": "8b"}  # vLLM V1: its engine core's intake latency is CPU work, scaled too
    assert LlmService(**v1, host_cpu=2.0).engine("A100").intake_s == pytest.approx(2 * ENGINES["vllm"].intake_s)
    assert LlmService(**v1, host_cpu=2.0, intake_per_request="1ms").engine("A100").intake_s == 0.001
    assert one.intake_s == 0.0  # vLLM 0.6: none (its fitted frontend holds its per-request time)
    assert LlmService(type="llm", model="8b").engine("A100").prefill_tokens_per_s == math.inf  # V1: none fitted
    with pytest.raises(ValueError, match="host_cpu"):
        LlmService(**svc, host_cpu=0)


def test_matches_the_published_vllm_a100_measurement_within_10_percent() -> None:
    """vLLM, Llama-3.1-8B bf16, one A100 40GB: 75 tokens/s alone, 6.6 x that with 8 requests in flight
    (johnmusgrave.com/p/vllm-throughput-latency-sweep-on), 1,024-token prompts and 128-token replies, each
    client sending its next request when one ends. The 40 GB part at the 80 GB part's measured efficiency;
    vLLM V1's step overhead is AccelMark's A100 80GB testbed's (its serial run): both figures are checks."""
    a100_40 = GpuSpec(1555, 312.0, True, "A100 40GB datasheet")
    a100 = MEASURED["A100"]
    got = Achieved(1555 * a100.weight_gb_s / 2039, a100.linear_tflops, "A100 80GB efficiency")
    p = derive(ARCHS["8b"], "A100", a100_40, 1, vram_gb=40, got=got)
    alone = p.closed_loop_tokens_per_s(1, 1024, 128)
    eight = p.closed_loop_tokens_per_s(8, 1024, 128)
    assert alone == pytest.approx(75, rel=0.10)  # -7 %
    assert eight == pytest.approx(6.6 * 75, rel=0.15)  # -13 %


def test_matches_accelmarks_eight_clients_on_the_testbed_the_step_overhead_comes_from() -> None:
    """AccelMark's A100 80GB testbed, vLLM 0.20.1: 8 requests in flight for 30 minutes gave 712.3 tokens/s
    (28 timed minutes, 345.7 tokens a reply), prompts of 236 tokens on average plus 11 of chat template; the
    catalog's closed-loop rate with the step overhead from the same testbed's serial run: 709."""
    p = MODELS["8b"]["A100"]
    assert p.closed_loop_tokens_per_s(8, 247, 346) == pytest.approx(712.3, rel=0.02)


def test_serving_engines() -> None:
    assert set(ENGINES) == {"vllm", "vllm-0.6-multistep", "sglang-0.3"}
    v1, ms, sg = ENGINES["vllm"], ENGINES["vllm-0.6-multistep"], ENGINES["sglang-0.3"]
    assert v1.chunked_prefill and v1.max_batched_tokens is None and v1.scheduler_steps == 1
    assert not ms.chunked_prefill and ms.scheduler_steps == 10 and ms.max_batched_tokens == 2048
    assert not sg.chunked_prefill and sg.max_batched_tokens == 8192
    for e in ENGINES.values():
        assert 0 < e.frontend_s < 0.02 and 0 < e.step_s < 0.02 and 0 <= e.per_sequence_s < 0.001
        assert 0 <= e.prompt_token_s < 1e-5
    assert ms.prompt_token_s > 0 and v1.prompt_token_s == sg.prompt_token_s == 0


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
                f"| {model} | {gpu} | {p.gpus_per_worker} | {p.weights_s * 1e3:.2f} | {p.per_token_s * 1e6:.2f}"
                f" | {p.decode_step_s(1, 1024) * 1e3:.2f} | {p.decode_step_s(32, 1024) * 1e3:.2f}"
                f" | {p.prefill_s(1024) * 1e3:.1f} | {p.max_batched_tokens:,} | {p.kv_cache_tokens:,} |"
            )
            assert row in text, row
    for gpu, name, _, tp, tokens, ms, what in VIDUR_CHECKS:
        assert f"| {gpu} | {name} | {tp} | {tokens:,} | {what} | {ms:.3f} |" in text
