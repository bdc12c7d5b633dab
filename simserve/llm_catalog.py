"""Default LLM engine figures per model size and catalog GPU, for the ``llm`` service model.

Owns ``EngineProfile`` (prefill rate, decode step = base + per sequence, max batch, KV-cache tokens,
GPUs per worker) and the table ``MODELS[model][gpu]`` for Llama-3.1-8B and -70B class models in bf16
on the GPUs of ``simserve.catalog``. The figures are derived here, in the open, from the model's
architecture (config.json), the GPU's datasheet memory bandwidth and dense bf16 tensor rate, and four
efficiencies (``MBU``, ``MFU_PREFILL``, ``MFU_DECODE``, ``MEMORY_UTILIZATION``); each profile's
``source`` says which. They are roofline estimates checked against one published vLLM measurement
(docs/llm-catalog.md), not measurements: a scenario overrides any of them. Pure data and arithmetic;
imports nothing of simserve but the catalog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simserve import catalog


@dataclass(frozen=True, slots=True)
class EngineProfile:
    """Per-worker figures of a continuous-batching engine (vLLM-like) serving one model.

    An engine step lasts ``decode_base_s + decode_per_sequence_s x sequences in the step`` plus the
    prompt tokens joining that step / ``prefill_tokens_per_s``; at most ``max_batch`` sequences are in
    flight and their prompt + generated tokens fit in ``kv_cache_tokens``.
    """

    prefill_tokens_per_s: float
    decode_base_s: float
    decode_per_sequence_s: float
    max_batch: int
    kv_cache_tokens: int
    gpus_per_worker: int
    source: str


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
#: achieved / peak memory bandwidth in decode: vLLM batch-1 decode of Llama-3.1-8B on an A100 40GB runs at
#: 75 tokens/s, 77% of the bandwidth bound (johnmusgrave.com/p/vllm-throughput-latency-sweep-on)
MBU = 0.75
#: achieved / peak dense bf16 rate in prefill (compute-bound GEMMs; an assumed rule of thumb, not measured here)
MFU_PREFILL = 0.5
#: the same for the per-sequence compute of a decode step
MFU_DECODE = 0.5
#: context length (prompt + generated so far) a decoding sequence's KV read is costed at: the Azure LLM
#: 2023 conversation trace averages 1155 prompt and 211 output tokens
REF_CONTEXT = 1024
#: sequences in flight (vLLM --max-num-seqs default)
MAX_BATCH = 256
#: KV cache is allocated in blocks of this many tokens (vLLM --block-size default)
BLOCK_TOKENS = 16
#: latency of one small all-reduce of a tensor-parallel decode step, 2 per layer (estimate)
ALLREDUCE_S = {True: 10e-6, False: 25e-6}  # NVLink, PCIe


def vram_bytes(gpu: str) -> float:
    """Memory of one GPU in bytes: the catalog's GB, decimal (at or below what nvidia-smi reports)."""
    return catalog.lookup(gpu).vram_gb * 1e9


def derive(arch: ModelArch, gpu: str, spec: GpuSpec, n: int, vram_gb: float | None = None) -> EngineProfile:
    """The roofline profile of ``arch`` on ``n`` GPUs ``spec`` (memory from the catalog unless ``vram_gb``).

    KV tokens = (0.9 x memory - weights) / KV bytes per token, in whole blocks of 16; decode base =
    weights / (bandwidth x MBU) (+ 2 all-reduces per layer with tensor parallelism); per sequence = its KV
    read at ``REF_CONTEXT`` tokens + its 2 x params FLOPs; prefill = dense rate x MFU / FLOPs per prompt
    token (2 x params + attention at ``REF_CONTEXT``).
    """
    memory = n * (vram_gb * 1e9 if vram_gb is not None else vram_bytes(gpu))
    free = MEMORY_UTILIZATION * memory - arch.weight_bytes
    if free <= 0:
        raise ValueError(f"{arch.name} does not fit {n} x {gpu}: {memory / 1e9:.0f} GB")
    kv_tokens = math.floor(free / arch.kv_bytes_per_token / BLOCK_TOKENS) * BLOCK_TOKENS
    bandwidth = n * spec.bandwidth_gb_s * 1e9 * MBU
    flops = n * spec.bf16_tflops * 1e12
    allreduce = 2 * arch.layers * ALLREDUCE_S[spec.nvlink] if n > 1 else 0.0
    base = arch.weight_bytes / bandwidth + allreduce
    per_sequence = arch.kv_bytes_per_token * REF_CONTEXT / bandwidth + 2 * arch.params / (flops * MFU_DECODE)
    prefill_flops = 2 * arch.params + 2 * arch.layers * arch.heads * arch.head_dim * REF_CONTEXT
    prefill = flops * MFU_PREFILL / prefill_flops
    source = (
        f"roofline estimate: {arch.name} bf16 ({arch.params / 1e9:.2f}B params, {arch.config_url}) on {n} x {gpu} "
        f"({spec.note}); KV = {MEMORY_UTILIZATION} x {memory / 1e9:.0f} GB - weights; decode at MBU {MBU} "
        f"(vLLM A100 batch-1 measurement), prefill at MFU {MFU_PREFILL} (assumed); max_batch = vLLM max_num_seqs"
    )
    return EngineProfile(
        prefill_tokens_per_s=round(prefill, 0),
        decode_base_s=round(base, 7),
        decode_per_sequence_s=round(per_sequence, 8),
        max_batch=MAX_BATCH,
        kv_cache_tokens=kv_tokens,
        gpus_per_worker=n,
        source=source,
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
