"""Default LLM engine figures per model size and catalog GPU, for the ``llm`` service model.

Owns ``EngineProfile`` (the step-cost physics of ``simserve.endpoint.engine.engine_step_s``: weight
streaming, per-token linear layers, LM head, decode and prompt attention, tensor-parallel all-reduce,
a per-step overhead; max batch, token budget, KV-cache tokens, GPUs per worker) and the table
``MODELS[model][gpu]`` for Llama-3.1-8B and -70B in bf16 on the GPUs of ``simserve.catalog``.

Every figure is arithmetic on three kinds of facts, each with its source in ``SOURCES``: the model's
architecture (config.json), what the GPU *achieves* (``MEASURED``: weight-streaming bandwidth and
linear-layer rate from Vidur's published operator profiles of A100 and H100; the other GPUs take their
datasheet figures times the efficiency measured on those two) and the engine's own overheads (per-step
overhead from a published vLLM batch-1 decode; vLLM's token budget and batch defaults). docs/llm-catalog.md
shows each figure, its source and how well it reproduces the measurement it came from. Pure data and
arithmetic; imports nothing of simserve but the catalog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simserve import catalog


@dataclass(frozen=True, slots=True)
class EngineProfile:
    """Per-worker figures of a continuous-batching engine (vLLM-like) serving one model (seconds).

    A step lasts ``decode_base_s + decode_per_sequence_s x sequences`` + ``hypot(weights_s, per_token_s x
    tokens + per_sampled_s x sequences sampled)`` + ``per_kv_token_s x context attended`` +
    ``per_attention_pair_s x prompt pairs`` + ``allreduce_s + allreduce_per_token_s x tokens``; at most
    ``max_batch`` sequences and ``max_batched_tokens`` tokens per step, ``kv_cache_tokens`` in the cache.
    ``prefill_tokens_per_s`` is infinite: prompt tokens cost through the physics terms.
    """

    prefill_tokens_per_s: float
    decode_base_s: float
    decode_per_sequence_s: float
    max_batch: int
    kv_cache_tokens: int
    gpus_per_worker: int
    source: str
    max_batched_tokens: int = 8192
    weights_s: float = 0.0
    per_token_s: float = 0.0
    per_sampled_s: float = 0.0
    per_kv_token_s: float = 0.0
    per_attention_pair_s: float = 0.0
    allreduce_s: float = 0.0
    allreduce_per_token_s: float = 0.0

    def physics(self) -> dict[str, float]:
        """The step-cost terms beyond the simple form, by ``EngineParams`` field name."""
        return {
            "weights_s": self.weights_s,
            "per_token_s": self.per_token_s,
            "per_sampled_s": self.per_sampled_s,
            "per_kv_token_s": self.per_kv_token_s,
            "per_attention_pair_s": self.per_attention_pair_s,
            "allreduce_s": self.allreduce_s,
            "allreduce_per_token_s": self.allreduce_per_token_s,
        }

    def decode_step_s(self, batch: int, context: float) -> float:
        """One decode step of ``batch`` sequences, each attending to ``context`` tokens (on average; no prompts)."""
        compute = (self.per_token_s + self.per_sampled_s) * batch
        return (
            self.decode_base_s
            + self.decode_per_sequence_s * batch
            + math.hypot(self.weights_s, compute)
            + self.per_kv_token_s * batch * context
            + self.allreduce_s
            + self.allreduce_per_token_s * batch
        )

    def closed_loop_tokens_per_s(self, concurrency: int, prompt: int, output: int) -> float:
        """Output tokens per second of ``concurrency`` clients each sending the next request as its last one
        ends (a benchmark's ``--max-concurrency``), steady state: every step decodes the batch, and each new
        prompt runs in one step beside the other decodes (chunked prefill within the budget)."""
        c = concurrency
        context = prompt + output // 2
        decode = self.decode_step_s(c, context)
        mixed_compute = self.per_token_s * (c - 1 + prompt) + self.per_sampled_s * c
        mixed = (
            self.decode_base_s
            + self.decode_per_sequence_s * c
            + math.hypot(self.weights_s, mixed_compute)
            + self.per_kv_token_s * (c - 1) * context
            + self.per_attention_pair_s * prompt * (prompt + 1) / 2
            + self.allreduce_s
            + self.allreduce_per_token_s * (c - 1 + prompt)
        )
        return c * output / (output * decode + c * (mixed - decode))

    def prefill_s(self, prompt: int) -> float:
        """One prefill-only step of a single ``prompt``-token prompt (its first token at the end)."""
        return (
            self.decode_base_s
            + self.decode_per_sequence_s
            + math.hypot(self.weights_s, self.per_token_s * prompt + self.per_sampled_s)
            + self.per_attention_pair_s * prompt * (prompt + 1) / 2
            + self.allreduce_s
            + self.allreduce_per_token_s * prompt
        )


@dataclass(frozen=True, slots=True)
class ModelArch:
    """A dense decoder-only transformer (Llama layout: GQA attention, gated MLP, untied embeddings)."""

    name: str
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    config_url: str

    @property
    def params(self) -> int:
        """Parameter count: embeddings + LM head + per layer (q, k, v, o, gate/up/down, 2 norms) + final norm."""
        attention = self.hidden * self.heads * self.head_dim * 2 + self.hidden * self.kv_heads * self.head_dim * 2
        mlp = 3 * self.hidden * self.intermediate
        return 2 * self.vocab * self.hidden + self.layers * (attention + mlp + 2 * self.hidden) + self.hidden

    @property
    def weight_bytes(self) -> int:
        """bf16 weights: 2 bytes per parameter."""
        return 2 * self.params

    @property
    def streamed_bytes(self) -> int:
        """Weights a step reads in full: all but the embedding table (a step reads only its tokens' rows)."""
        return 2 * (self.params - self.vocab * self.hidden)

    @property
    def flops_per_token(self) -> int:
        """Linear-layer FLOPs of one token through every layer (2 per multiply-add), LM head not included."""
        return 2 * (self.params - 2 * self.vocab * self.hidden)

    @property
    def lm_head_flops(self) -> int:
        """FLOPs of the LM head for one sampled token."""
        return 2 * self.vocab * self.hidden

    @property
    def attention_flops_per_pair(self) -> int:
        """FLOPs of one (query, key) token pair over all layers: QK^T and PV, 2 x 2 x heads x head_dim each."""
        return 4 * self.layers * self.heads * self.head_dim

    @property
    def allreduce_bytes_per_token(self) -> int:
        """Activations one token all-reduces per step: 2 per layer (attention out, MLP out) x hidden x bf16."""
        return 2 * self.layers * self.hidden * 2

    @property
    def kv_bytes_per_token(self) -> int:
        """KV cache per token: K and V x layers x KV heads x head dim x 2 bytes (bf16)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """Datasheet figures of one GPU: HBM/GDDR bandwidth, dense bf16 tensor rate (FP32 accumulate, as vLLM
    uses; no sparsity), and whether multi-GPU workers of it talk over NVLink (else PCIe)."""

    bandwidth_gb_s: float
    bf16_tflops: float
    nvlink: bool
    note: str


@dataclass(frozen=True, slots=True)
class Achieved:
    """What a GPU achieves in a transformer layer (Vidur's operator profiles): the bandwidth at which its
    weight GEMMs stream the weights at one token, and the rate of a layer's linear and elementwise ops per
    token at thousands of tokens (FLOPs counted on the linear layers)."""

    weight_gb_s: float
    linear_tflops: float
    source: str


#: the models, keyed by the size users type; architectures from the Hugging Face config.json
ARCHS: dict[str, ModelArch] = {
    "8b": ModelArch(
        "Llama-3.1-8B",
        32,
        4096,
        14336,
        32,
        8,
        128,
        128256,
        "huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json",
    ),
    "70b": ModelArch(
        "Llama-3.1-70B",
        80,
        8192,
        28672,
        64,
        8,
        128,
        128256,
        "huggingface.co/meta-llama/Llama-3.1-70B/blob/main/config.json",
    ),
}

#: catalog GPU name -> datasheet figures (NVIDIA product pages / datasheets / architecture whitepapers)
GPUS: dict[str, GpuSpec] = {
    "L4": GpuSpec(300, 121.0, False, "L4 datasheet: 300 GB/s, 242 TFLOPS bf16 with sparsity"),
    "A5000": GpuSpec(768, 111.1, False, "RTX A5000 datasheet: 768 GB/s, 222.2 tensor TFLOPS with sparsity"),
    "3090": GpuSpec(936, 71.0, False, "GA102 whitepaper: 936 GB/s, 71 TFLOPS fp16 tensor with FP32 accumulate"),
    "4090": GpuSpec(1008, 165.2, False, "Ada whitepaper: 1008 GB/s, 165.2 TFLOPS fp16 tensor with FP32 accumulate"),
    "5090": GpuSpec(
        1792, 209.5, False, "RTX 5090: 1792 GB/s, 838 TFLOPS fp16 sparse; /4 for dense with FP32 accumulate (estimate)"
    ),
    "A6000": GpuSpec(768, 154.8, False, "RTX A6000 datasheet: 768 GB/s, 309.7 tensor TFLOPS with sparsity"),
    "A40": GpuSpec(696, 149.7, False, "A40 datasheet: 696 GB/s, 149.7 TFLOPS bf16"),
    "L40": GpuSpec(864, 181.05, False, "L40 datasheet: 864 GB/s, 181.05 TFLOPS bf16"),
    "L40S": GpuSpec(864, 362.05, False, "L40S datasheet: 864 GB/s, 362.05 TFLOPS bf16"),
    "6000ADA": GpuSpec(960, 364.25, False, "RTX 6000 Ada datasheet: 960 GB/s, 1457 TFLOPS fp8 sparse / 4"),
    "A100": GpuSpec(2039, 312.0, True, "A100 80GB SXM datasheet: 2039 GB/s, 312 TFLOPS bf16"),
    "H100": GpuSpec(3350, 989.4, True, "H100 SXM datasheet: 3.35 TB/s, 989 TFLOPS bf16 (PCIe: 2.0 TB/s, 756)"),
    "RTXPRO6000": GpuSpec(
        1792, 250.0, False, "RTX PRO 6000 Blackwell: 1792 GB/s; 4000 fp4 sparse TOPS / 16 (estimate)"
    ),
    "H200": GpuSpec(4800, 989.4, True, "H200 SXM datasheet: 4.8 TB/s, 989 TFLOPS bf16"),
    "B200": GpuSpec(8000, 2250.0, True, "HGX B200 datasheet: 8 TB/s, 2.25 PFLOPS bf16 dense per GPU"),
}

#: model -> GPU -> GPUs per worker (tensor parallel). 8b fits one GPU of 24 GB or more; 70b (141 GB of
#: weights) needs a worker of >= ~190 GB, and tensor parallelism over 8 PCIe cards of 24-32 GB is left out
DEPLOY: dict[str, dict[str, int]] = {
    "8b": {name: 1 for name in GPUS},
    "70b": {"A6000": 4, "A40": 4, "L40": 4, "L40S": 4, "6000ADA": 4, "A100": 4, "H100": 4, "RTXPRO6000": 2}
    | {"H200": 2, "B200": 1},
}

#: model -> catalog GPU name or pool it does not fit or is not listed on, with the reason (docs and errors)
DOES_NOT_FIT: dict[str, dict[str, str]] = {
    "8b": {"AMPERE_16": "16 GB < 16.1 GB of bf16 weights"},
    "70b": {
        "AMPERE_16": "141 GB of bf16 weights: needs >= 10 GPUs of 16 GB",
        "L4": "needs 8 GPUs of 24 GB over PCIe (not listed)",
        "A5000": "needs 8 GPUs of 24 GB over PCIe (not listed)",
        "3090": "needs 8 GPUs of 24 GB over PCIe (not listed)",
        "4090": "needs 8 GPUs of 24 GB over PCIe (not listed)",
        "5090": "needs 8 GPUs of 32 GB over PCIe (not listed)",
    },
}

#: fraction of GPU memory the engine takes (vLLM --gpu-memory-utilization default); the other 10% is overhead
MEMORY_UTILIZATION = 0.9
#: sequences in flight (vLLM --max-num-seqs default)
MAX_BATCH = 256
#: KV cache is allocated in blocks of this many tokens (vLLM --block-size default)
BLOCK_TOKENS = 16
#: vLLM V1's default token budget of an OpenAI server: 8192 on GPUs of 70 GiB and more except the A100
#: ("setting large max_num_batched_tokens for A100 reduces throughput", vLLM PR #17885), 2048 on the rest
#: (``EngineArgs.get_batch_defaults`` in vllm/engine/arg_utils.py)
BUDGET_TOKENS = {True: 8192, False: 2048}


def large_budget(gpu: str, per_gpu_gb: float) -> bool:
    """Whether vLLM V1 gives ``gpu`` the large defaults: 70 GiB (75 GB) or more and not an A100."""
    return per_gpu_gb >= 75 and "A100" not in gpu.upper()


#: measured achievements (ms and token counts are Vidur's medians, per layer; docs/llm-catalog.md). The
#: weight bandwidth is the GEMMs' at 1 token (the elementwise ops between them are launch latency there,
#: which serving engines capture in CUDA graphs or fuse: their cost is in each engine's step overhead); the
#: rate is the whole layer's at thousands of tokens (norms, RoPE, activation and residual add scale with
#: tokens). A100 80GB SXM, Llama-3-8B (TP 1): the q/k/v, o, gate/up and down GEMMs at 1 token take 0.0334 +
#: 0.0247 + 0.1425 + 0.0765 ms for 436.2 MB of weights; the whole layer takes 67.54 ms at 32,768 tokens
#: (436.2 MFLOP per token). H100 SXM, Llama-2-7B (TP 1): 0.038 + 0.016 + 0.064 + 0.038 ms for 404.8 MB at
#: 1 token; 2.585 ms at 4,096 tokens (404.8 MFLOP per token)
MEASURED: dict[str, Achieved] = {
    "A100": Achieved(
        436.2e6 / 0.2771e-3 / 1e9,
        436.2e6 * 32768 / 67.54e-3 / 1e12,
        "Vidur operator profile, data/profiling/compute/a100/meta-llama/Meta-Llama-3-8B/mlp.csv (TP 1)",
    ),
    "H100": Achieved(
        404.8e6 / 0.156e-3 / 1e9,
        404.8e6 * 4096 / 2.585e-3 / 1e12,
        "Vidur operator profile, data/profiling/compute/h100/meta-llama/Llama-2-7b-hf/mlp.csv (TP 1)",
    ),
}
#: Vidur rows the figures above do not come from, against the same arithmetic: (GPU, layer shape (Vidur
#: file), linear parameters per layer, tensor parallel, tokens, measured ms per layer, GEMMs only or the whole
#: layer). The model of a layer: hypot(weight bytes / weight_gb_s, FLOPs x tokens / linear_tflops)
VIDUR_CHECKS: tuple[tuple[str, str, int, int, int, float, str], ...] = (
    ("A100", "Meta-Llama-3-8B", 218_103_808, 1, 128, 0.409, "layer"),
    ("A100", "Meta-Llama-3-8B", 218_103_808, 1, 256, 0.609, "layer"),
    ("A100", "Meta-Llama-3-8B", 218_103_808, 1, 400, 1.040, "layer"),
    ("H100", "Llama-2-70b-hf", 855_638_016, 1, 4096, 10.86, "layer"),
    ("H100", "Llama-2-70b-hf", 855_638_016, 4, 1, 0.159, "GEMMs"),
)


def vidur_model_ms(gpu: str, layer_params: int, tp: int, tokens: int) -> float:
    """The catalog's time of one transformer layer of ``layer_params`` bf16 weights (split over ``tp`` GPUs)
    at ``tokens`` tokens, in ms: the smooth roofline of streaming its weights and computing its FLOPs."""
    got = MEASURED[gpu]
    stream = 2 * layer_params / tp / (got.weight_gb_s * 1e9)
    compute = 2 * layer_params / tp * tokens / (got.linear_tflops * 1e12)
    return math.hypot(stream, compute) * 1e3


#: Vidur's medians at the sizes serving steps run, for the layer and tensor-parallel split each measured catalog
#: deployment runs: model -> GPU -> (Vidur file, linear parameters per layer, tensor parallel, ms of the q/k/v, o,
#: gate/up and down GEMMs at 1 token, ms of the whole layer at ``SERVING_TOKENS``). The roofline takes its two
#: rates from one row at 1 token (tensor parallel 1) and one at thousands of tokens; these rows say what it
#: misses at a worker's own split and a step's token count (``serving_factors``)
VIDUR_SERVING: dict[str, dict[str, tuple[str, int, int, float, tuple[float, ...]]]] = {
    "8b": {
        "A100": ("Meta-Llama-3-8B", 218_103_808, 1, 0.276, (1.0825, 1.6545, 2.348, 3.341, 4.49)),
        "H100": ("Llama-2-7b-hf", 202_375_168, 1, 0.156, (0.3745, 0.588, 0.657, 1.043, 1.2632)),
    },
    "70b": {
        "A100": ("Meta-Llama-3-70B", 855_638_016, 4, 0.285, (1.124, 1.645, 2.334, 3.287, 4.2298)),
        "H100": ("Llama-2-70b-hf", 855_638_016, 4, 0.159, (0.375, 0.587, 0.776, 1.027, 1.4008)),
    },
}
#: the token counts of ``VIDUR_SERVING``'s layer times: the prefill steps that token budgets of 2,048 give
SERVING_TOKENS = (512, 768, 1024, 1536, 2048)


def _measured_factors(model: str, gpu: str) -> tuple[float, float]:
    """``(weights, compute)``: Vidur's time over the roofline's for the GEMMs at 1 token and for the whole layer
    at ``SERVING_TOKENS`` (mean), for ``model``'s deployment on ``gpu`` (its layer split its tensor-parallel way)."""
    _, params, tp, gemms_1, layers = VIDUR_SERVING[model][gpu]
    weights = gemms_1 / vidur_model_ms(gpu, params, tp, 1)
    compute = sum(ms / vidur_model_ms(gpu, params, tp, n) for n, ms in zip(SERVING_TOKENS, layers, strict=True))
    return weights, compute / len(SERVING_TOKENS)


def serving_factors(model: str, gpu: str) -> tuple[float, float]:
    """What the roofline's weight streaming and linear compute are multiplied by at serving sizes: measured for
    A100 and H100 (``VIDUR_SERVING``), the mean of the two for GPUs without a profile.

    >>> [round(f, 3) for f in serving_factors("70b", "A100")]
    [1.049, 1.057]
    """
    if gpu in VIDUR_SERVING[model]:
        return _measured_factors(model, gpu)
    both = [_measured_factors(model, g) for g in VIDUR_SERVING[model]]
    return sum(w for w, _ in both) / len(both), sum(c for _, c in both) / len(both)


#: measured / datasheet, mean of A100 and H100: what the GPUs without a profile are taken to achieve
BANDWIDTH_EFFICIENCY = sum(MEASURED[g].weight_gb_s / GPUS[g].bandwidth_gb_s for g in MEASURED) / len(MEASURED)
COMPUTE_EFFICIENCY = sum(MEASURED[g].linear_tflops / GPUS[g].bf16_tflops for g in MEASURED) / len(MEASURED)
#: vLLM V1's per-step overhead (scheduling, sampling, launches): one request at a time, Meta-Llama-3-8B-Instruct
#: on an A100-SXM4-80GB, vLLM 0.20.1 in-process on an AMD EPYC 7742 host, 150 ShareGPT prompts of ~215 tokens,
#: median TPOT 10.77 ms (AccelMark, results/verified/nvidia_a100_sxm4_80gbx1_suite_A_nvidia_vllm020_0f6c56e4_8f83bfab
#: /interactive/result.json); the catalog's GPU work of those decode steps leaves 1.242 ms a step (the figure
#: that makes the simulated median TPOT of that case 10.77 ms, docs/llm-validation.md). Checks: the same
#: testbed's 8 clients in flight, 712 tokens/s measured, 709 modelled; J. Musgrave's vLLM 0.23 on an A100
#: 40GB (75 and 495 tokens/s at 1 and 8 clients, johnmusgrave.com/p/vllm-throughput-latency-sweep-on): 70 and
#: 433 (-7 %, -13 %)
STEP_OVERHEAD_S = 0.001242
#: vLLM V1's per-request latency between its API server and its engine core (a process of its own: the request
#: crosses to it, its outputs cross back and are detokenized), every request at once: the figure that makes the
#: same serial run's simulated median TTFT its measured 27.78 ms, after the API server's 1.66 ms and the prompt's
#: one prefill step (prompts of 204 tokens at the median, with the chat template)
V1_INTAKE_S = 0.0078
#: one all-reduce of a tensor-parallel step (2 per layer): latency and bus bandwidth, NVLink or PCIe. The
#: NVLink latency is fitted to the published 70B-on-4-GPU cases (docs/llm-validation.md; NCCL's small-message
#: all-reduce latency is of this order); the NVLink bandwidth is A100's NVLink 3 (300 GB/s per direction) at
#: ~2/3, and H100 takes the same: its NVLink 4's 450 GB/s at 2/3 put two 70B-on-4 x H100 cases at -17 % when
#: tried (docs/llm-validation.md), and no measured all-reduce bandwidth of either is cited; PCIe figures are
#: estimates (twice the latency, PCIe 4 x16 at ~2/3)
ALLREDUCE_LATENCY_S = {True: 30e-6, False: 60e-6}
ALLREDUCE_GB_S = {True: 200.0, False: 20.0}


@dataclass(frozen=True, slots=True)
class EngineSoftware:
    """What a serving engine's software adds to the GPU's work, and how it schedules (seconds).

    ``frontend_s``: the API server's time per request (HTTP, tokenizing), one request at a time;
    ``step_s`` and ``per_sequence_s``: CPU time of a scheduled step and per sequence in it (scheduling,
    sampling, output processing, kernel launches that are not captured in a graph); ``in_run_s``: CPU time
    of each later step of a multi-step run (its launch and input update; nothing is scheduled);
    ``prompt_token_s``: CPU time per prompt token a step prefills (preparing each token's position and cache
    slot; a step's ``prompt tokens / prefill_tokens_per_s``); ``intake_s``: each request's latency between
    the API server and the engine, every request at once (vLLM V1's engine core is a process of its own: the
    request and its outputs cross between the two, and the outputs are detokenized); all on the hosts they
    were fitted on (a scenario's ``host_cpu`` scales them for a host of another speed); the scheduler:
    chunked prefill or prefill-only steps, the token budget (None: vLLM V1's rule by GPU memory),
    decoding steps per multi-step run; ``async_output``: a step's first tokens come out with the next
    step (output processed while the next step runs)."""

    label: str
    chunked_prefill: bool
    max_batched_tokens: int | None
    scheduler_steps: int
    frontend_s: float
    step_s: float
    per_sequence_s: float
    source: str
    async_output: bool = False
    in_run_s: float = 0.0
    prompt_token_s: float = 0.0
    intake_s: float = 0.0


#: vLLM 0.6.0's CPU time per sequence a 10-step run, on Lambda's H100 testbed: the slope of that burst's measured
#: run times (the 8B 80-request burst's 741-token reply, 73 runs of 67 down to 2 sequences) less the catalog's GPU
#: time of each, against the sequences in it (simserve.calibrate.llm_validation.per_sequence_ms): 0.092 ms, with
#: 14.6 ms a run besides (docs/llm-validation.md)
VLLM06_PER_SEQUENCE_S = 0.000092

#: serving engines by the name ``workload.service.server`` takes (default ``vllm``); the CPU figures of the
#: two measured engines are fitted to their published cases (docs/llm-validation.md), once per engine
ENGINES: dict[str, EngineSoftware] = {
    "vllm": EngineSoftware(
        "vLLM V1 (0.8 and later)",
        True,
        None,
        1,
        0.00166,
        STEP_OVERHEAD_S,
        0.0,
        "scheduler: vLLM V1 defaults (chunked prefill, max_num_batched_tokens 8192 on GPUs of 70 GiB and "
        "more but the A100, else 2048); from vLLM 0.20.1 serving one request at a time on an A100 80GB (AccelMark, "
        "docs/llm-validation.md): the step overhead its TPOT gives (STEP_OVERHEAD_S) and the intake latency "
        "its TTFT gives (V1_INTAKE_S); API-server frontend from vLLM 0.6's first fit",
        intake_s=V1_INTAKE_S,
    ),
    "vllm-0.6-multistep": EngineSoftware(
        "vLLM 0.6.0, --num-scheduler-steps 10",
        False,
        2048,
        10,
        0.0019954,
        0.0055828,
        VLLM06_PER_SEQUENCE_S,
        "scheduler: vLLM 0.6.0 V0 defaults with multi-step 10 (max_num_batched_tokens = max(max_model_len, "
        "2048); a run runs all its steps) and its asynchronous output processor (first tokens and a run's last "
        "step's last tokens come out with the next step, before its GPU work when that is a run's first step); CPU "
        "figures on Lambda's H100 testbed's CPU: per sequence a 10-step run measured from a burst's run times "
        "(VLLM06_PER_SEQUENCE_S); the step once a run, each later step's launch and each prompt token's "
        "preparation fitted to its 15 published cases",
        True,
        0.0011673,
        2.1441e-6,
    ),
    "sglang-0.3": EngineSoftware(
        "SGLang 0.3.0",
        False,
        8192,
        1,
        0.0085954,
        0.0025244,
        0.0000450,
        "scheduler: SGLang 0.3.0 defaults (prefill batches alone, chunked_prefill_size 8192); CPU figures "
        "fitted to its 4 published cases",
    ),
}


def achieved(gpu: str) -> Achieved:
    """The measured figures of ``gpu``, or its datasheet's times the mean measured efficiency."""
    if gpu in MEASURED:
        return MEASURED[gpu]
    spec = GPUS[gpu]
    return Achieved(
        spec.bandwidth_gb_s * BANDWIDTH_EFFICIENCY,
        spec.bf16_tflops * COMPUTE_EFFICIENCY,
        f"datasheet ({spec.note}) x the efficiency measured on A100 and H100 "
        f"({BANDWIDTH_EFFICIENCY:.3f} bandwidth, {COMPUTE_EFFICIENCY:.3f} compute)",
    )


def vram_bytes(gpu: str) -> float:
    """Memory of one GPU in bytes: the catalog's GB, decimal (at or below what nvidia-smi reports)."""
    return catalog.lookup(gpu).vram_gb * 1e9


def derive(
    arch: ModelArch,
    gpu: str,
    spec: GpuSpec,
    n: int,
    vram_gb: float | None = None,
    got: Achieved | None = None,
    factors: tuple[float, float] | None = None,
) -> EngineProfile:
    """The profile of ``arch`` on ``n`` GPUs ``gpu`` (memory from the catalog unless ``vram_gb``; what the GPU
    achieves from ``achieved(gpu)`` unless ``got``; at serving sizes ``serving_factors`` unless ``factors``).

    KV tokens = (0.9 x memory - weights) / KV bytes per token, in whole blocks of 16. Weights streamed at
    the achieved bandwidth of n GPUs; linear FLOPs, LM head and prompt attention at their achieved rate;
    decode attention reads its KV at the achieved bandwidth; 2 all-reduces per layer when n > 1. The weight
    streaming and the linear FLOPs (LM head too) are then scaled by the serving factors (the split layer's GEMMs
    at 1 token, the layer at 512-2,048 tokens, as Vidur measured them against the same roofline).
    """
    memory = n * (vram_gb * 1e9 if vram_gb is not None else vram_bytes(gpu))
    free = MEMORY_UTILIZATION * memory - arch.weight_bytes
    if free <= 0:
        raise ValueError(f"{arch.name} does not fit {n} x {gpu}: {memory / 1e9:.0f} GB")
    kv_tokens = math.floor(free / arch.kv_bytes_per_token / BLOCK_TOKENS) * BLOCK_TOKENS
    got = got or achieved(gpu)
    model = next(k for k, a in ARCHS.items() if a is arch)
    stream_x, compute_x = factors or serving_factors(model, gpu)
    bandwidth = n * got.weight_gb_s * 1e9
    flops = n * got.linear_tflops * 1e12
    tp = n > 1
    link = ALLREDUCE_GB_S[spec.nvlink] * 1e9
    per_gpu_gb = memory / n / 1e9
    source = (
        f"{arch.name} bf16 ({arch.params / 1e9:.2f}B params, {arch.config_url}) on {n} x {gpu}: "
        f"{got.weight_gb_s:,.0f} GB/s, {got.linear_tflops:,.0f} TFLOPS achieved ({got.source}), x "
        f"{stream_x:.3f} and x {compute_x:.3f} at serving sizes (Vidur's profiles, VIDUR_SERVING); per-step "
        f"overhead from a vLLM batch-1 decode; vLLM defaults for batch and token budget"
    )
    return EngineProfile(
        prefill_tokens_per_s=math.inf,
        decode_base_s=STEP_OVERHEAD_S,
        decode_per_sequence_s=0.0,
        max_batch=MAX_BATCH,
        kv_cache_tokens=kv_tokens,
        gpus_per_worker=n,
        source=source,
        max_batched_tokens=BUDGET_TOKENS[large_budget(gpu, per_gpu_gb)],
        weights_s=round(arch.streamed_bytes / bandwidth * stream_x, 9),
        per_token_s=round(arch.flops_per_token / flops * compute_x, 12),
        per_sampled_s=round(arch.lm_head_flops / flops * compute_x, 12),
        per_kv_token_s=round(arch.kv_bytes_per_token / bandwidth, 14),
        per_attention_pair_s=round(arch.attention_flops_per_pair / flops, 16),
        allreduce_s=round(2 * arch.layers * ALLREDUCE_LATENCY_S[spec.nvlink], 9) if tp else 0.0,
        allreduce_per_token_s=(round(arch.allreduce_bytes_per_token * 2 * (n - 1) / n / link, 12) if tp else 0.0),
    )


#: model size -> catalog GPU name -> engine profile
MODELS: dict[str, dict[str, EngineProfile]] = {
    model: {gpu: derive(ARCHS[model], gpu, GPUS[gpu], n) for gpu, n in DEPLOY[model].items()} for model in ARCHS
}

#: a catalog pool id -> the GPU of that pool whose profile stands for it: the slowest, so a worker placed
#: on any GPU of the pool does at least as well
POOL_GPU: dict[str, str] = {
    "AMPERE_24": "L4",
    "ADA_24": "4090",
    "ADA_32_PRO": "5090",
    "AMPERE_48": "A40",
    "ADA_48_PRO": "L40",
    "AMPERE_80": "A100",
    "ADA_80_PRO": "H100",
    "BLACKWELL_96": "RTXPRO6000",
    "HOPPER_141": "H200",
    "BLACKWELL_180": "B200",
}


def models() -> list[str]:
    """Model sizes with profiles, smallest first.

    >>> models()
    ['8b', '70b']
    """
    return list(MODELS)


def _norm(name: str) -> str:
    return name.upper().replace(" ", "").replace("-", "").replace("_", "")


#: catalog spellings of a listed GPU that differ from its key here
_SPELLINGS = {"RTX3090": "3090", "RTX4090": "4090", "RTX5090": "5090", "A10080GB": "A100"}


def _resolve(gpu: str) -> tuple[str | None, str | None]:
    """``(GPU name here, catalog pool)`` of a name the user typed; either may be None."""
    key = _norm(gpu)
    key = _SPELLINGS.get(key, key)
    name = next((g for g in GPUS if _norm(g) == key), None)
    try:
        pool: str | None = catalog.lookup(gpu).pool
    except KeyError:
        pool = None
    return name, pool


def profile(model: str, gpu: str) -> EngineProfile:
    """Engine defaults for ``model`` (``8b``, ``70b``) on catalog GPU ``gpu``: a name such as ``H100`` or a
    pool id such as ``HOPPER_141`` (which stands for the slowest GPU of the pool); ``KeyError`` naming
    what exists and, where known, why the model is not listed there.

    >>> profile("8b", "h100").gpus_per_worker, profile("70b", "HOPPER_141").gpus_per_worker
    (1, 2)
    """
    table = MODELS.get(model.lower())
    if table is None:
        raise KeyError(f"no LLM engine profile for model {model!r}; expected one of {', '.join(MODELS)}")
    name, pool = _resolve(gpu)
    if name is None and pool is not None:
        name = POOL_GPU.get(pool)
    if name is not None and name in table:
        return table[name]
    reasons = DOES_NOT_FIT[model.lower()]
    why = reasons.get(name or "") or reasons.get(pool or "")
    pools = ", ".join(p for p, g in POOL_GPU.items() if g in table)
    raise KeyError(
        f"no {model.lower()} profile for GPU {gpu!r}"
        + (f" ({why})" if why else "")
        + f"; expected one of {', '.join(table)} or a pool id ({pools})"
    )
