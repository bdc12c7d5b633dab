"""Published LLM serving measurements against the simulated engine: the validation of issue #24.

Owns ``load_cases`` (the transcribed measurements, ``tests/data/llm_serving/published.yaml``: model,
GPU, engine and its scheduler settings, traffic, the published median TTFT and TPOT, and where
transcribed a burst's first token and the median end-to-end latency) and ``simulate_case``: the same
traffic through ``simserve.simulate`` with the catalog's figures for that model and GPU and the engine's
settings, and the medians computed as the benchmark clients compute them. Nothing in a case tunes the
model: a case names its engine's published settings and its traffic, and the step-cost physics come from
``simserve.llm_catalog`` alone.

- Poisson traffic: arrivals at the published rate (seeded), token counts drawn in pairs from the
  case's dataset, as many requests as the source sent; or, where the source ran it so (``runs``), runs
  that each send the dataset's first prompts in order to an idle engine, pooled.
- A burst: every request at once, prompts the dataset's first N (the order the client sends), the
  replies' lengths as the source's file lists them.
- Serial (``serial: N``): the dataset's first N requests one at a time, each sent after the last one's
  reply ended (``SERIAL_GAP_S`` apart, more than any reply takes): every request meets an idle engine.
- A dataset may give each prompt's text length without its chat template (``template_tokens``, added to
  each) and, where the source lists no reply lengths, one measured mean for every reply (``output_each``).
- A case on a named host (``host:``) runs with that testbed's CPU speed (``host_cpu``), measured from its
  own per-token times against a reference testbed's.
- A client that asks every reply for its whole length (``ignore_eos: true``, SGLang's ``bench_serving``): it
  drops prompts under 4 tokens and no reply ends early, so a reply under 4 tokens in the dataset stands for a
  draw from the others (seeded); and where the case's model answered a prompt with its end token first (an
  empty reply in the dataset's run, or in its ``replies`` list for that model), that first token carries no
  text, and the client's TTFT is the reply's next output: a run later with multi-step runs (``scheduler_steps``
  times the request's TPOT), a step later otherwise, or its last token if that comes sooner. Its TPOT runs
  from there, as the client computes it.

Imports simserve's API (simulate, load_scenario) and numpy; writes its traces to a temporary directory.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simserve import llm_catalog
from simserve.api import simulate
from simserve.safe_yaml import load_yaml
from simserve.scenario import load_scenario

#: seconds between the requests of a serial case: longer than any of its replies takes, so each meets an idle engine
SERIAL_GAP_S = 60.0

#: seconds from one Poisson run's last possible arrival to the next run's start: the engine drains in between
RUN_GAP_S = 600.0

#: where the transcribed measurements live in a checkout
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "tests" / "data" / "llm_serving" / "published.yaml"


@dataclass(frozen=True, slots=True)
class Case:
    """One published measurement: what ran, under what traffic, and the medians it reported (ms)."""

    name: str
    source: str
    model: str
    gpu: str
    gpus: int
    engine: dict[str, Any]
    inputs: tuple[int, ...]  # token counts to draw from (Poisson) or send (a burst, in order)
    outputs: tuple[int, ...]
    rate: float | None  # requests per second (Poisson); None: a burst
    requests: int
    ttft_ms: float
    tpot_ms: float
    note: str = ""
    #: not used to fit the engine's CPU figures (``held_out: true`` in the file): an out-of-sample check
    held_out: bool = False
    #: a burst's earliest TTFT of a request that got a token (ms), where transcribed; else None
    first_token_ms: float | None = None
    #: the testbed's serving CPU time relative to the reference testbed's (``host_cpu``; 1 on no named host)
    host_cpu: float = 1.0
    #: the requests go one at a time (``SERIAL_GAP_S`` apart), in the dataset's order; else a burst or Poisson
    serial: bool = False
    #: why the published run itself is out of line with its neighbours, where the data file says (``outlier``)
    outlier: str = ""
    #: Poisson runs that each send the dataset's first ``requests / runs`` prompts in order, each from an idle
    #: engine (``RUN_GAP_S`` apart), their medians pooled; 0: one stream drawing its prompts at random
    runs: int = 0
    #: the published median end-to-end latency (ms: sending the request to its last token), where the source gives it
    e2e_ms: float | None = None
    #: the client asks every reply for its whole length (``ignore_eos``): none ends early, none is under 4 tokens
    ignore_eos: bool = False
    #: per prompt of ``inputs`` (``ignore_eos`` cases): the case's model answered it with its end token first, so
    #: its first token carries no text and the client's TTFT is its next output
    silent: tuple[bool, ...] = ()

    @property
    def traffic(self) -> str:
        """``Poisson 4/s, 1200 requests``, ``burst of 80`` or ``150 one at a time``."""
        if self.serial:
            return f"{self.requests} one at a time"
        if self.runs:
            return f"Poisson {self.rate:g}/s, {self.runs} runs of {self.requests // self.runs}"
        return f"Poisson {self.rate:g}/s, {self.requests} requests" if self.rate else f"burst of {self.requests}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A case's simulated medians next to the published ones."""

    case: Case
    ttft_ms: float
    tpot_ms: float
    #: the earliest TTFT of a request with output tokens (ms): when the first prefill output reached the client
    first_token_ms: float = float("nan")
    #: the median end-to-end latency (ms), as the client computes it: over every request, to its last token
    e2e_ms: float = float("nan")

    @property
    def ttft_error(self) -> float:
        """Relative error of the simulated median TTFT (0.1 = 10 % above the measurement)."""
        return self.ttft_ms / self.case.ttft_ms - 1.0

    @property
    def tpot_error(self) -> float:
        return self.tpot_ms / self.case.tpot_ms - 1.0

    @property
    def first_token_error(self) -> float | None:
        """Relative error of the simulated first token, where the case has a published one."""
        if self.case.first_token_ms is None:
            return None
        return self.first_token_ms / self.case.first_token_ms - 1.0

    @property
    def e2e_error(self) -> float | None:
        """Relative error of the simulated median end-to-end latency, where the case has a published one."""
        if self.case.e2e_ms is None:
            return None
        return self.e2e_ms / self.case.e2e_ms - 1.0


def median_reply(ttft_ms: float, tpot_ms: float, e2e_ms: float) -> float:
    """The reply length (tokens) of a request at the median TTFT, TPOT and end-to-end latency together:
    ``(e2e - ttft) / tpot + 1``, what the three published medians say of the sample's typical reply.

    >>> round(median_reply(100.0, 10.0, 1_090.0), 1)
    100.0
    """
    return (e2e_ms - ttft_ms) / tpot_ms + 1.0


def run_gpu_ms(p: llm_catalog.EngineProfile, sequences: int, context: float) -> float:
    """The catalog's GPU time (ms) of one 10-step decoding run of ``sequences`` sequences, each attending to
    ``context`` tokens on average at the run's first step and one more at each later step."""
    return 1e3 * sum(p.decode_step_s(sequences, context + s) - p.decode_base_s for s in range(10))


def run_cpu_ms(gpu: str, first_run_itl_ms: float) -> float:
    """CPU time of the first 10-step run of the 8B 10-request burst on ``gpu``: the measured gap from a
    request's first token to its next, less the catalog's GPU time of the run's 10 steps (ten sequences of the
    burst's 1,369 prompt tokens and their first token, each step attending to the context made so far)."""
    return first_run_itl_ms - run_gpu_ms(llm_catalog.MODELS["8b"][gpu], 10, 1369 / 10 + 1)


def per_sequence_ms(case: Case, run_ms: list[float]) -> tuple[float, float]:
    """The engine's CPU time per sequence a multi-step run and its fixed CPU time a run (ms): the least-squares
    line through the runs of one reply of ``case`` (a burst), each run's measured time (``run_ms``, the reply's
    per-token times after its first: one 10-step run each, the first one after every prefill) less the
    catalog's GPU time of its 10 steps, against the sequences in it. Every sequence of the burst begins
    decoding in the same run, so before run ``k`` (from 0) each has ``1 + 10 (k + 1)`` tokens and the run holds
    those whose reply is longer; each attends to its prompt, those tokens and the run's steps so far."""
    p = llm_catalog.profile(case.model, case.gpu)
    n_seq, cpu_ms = [], []
    for k, measured in enumerate(run_ms):
        made = 1 + 10 * (k + 1)
        alive = [i for i, o in enumerate(case.outputs) if o > made]
        if not alive:
            break
        context = sum(case.inputs[i] + made for i in alive) / len(alive)
        n_seq.append(len(alive))
        cpu_ms.append(measured - run_gpu_ms(p, len(alive), context))
    slope, intercept = np.polyfit(np.asarray(n_seq, float), np.asarray(cpu_ms), 1)
    return float(slope), float(intercept)


def measured_per_sequence_ms(path: Path = DEFAULT_PATH) -> tuple[float, float]:
    """``per_sequence_ms`` of the data file's ``decode_runs`` entry (its case and reply's run times)."""
    data = load_yaml(path.read_text())
    (run,) = data["decode_runs"].values()
    case = next(c for c in load_cases(path) if c.name == run["case"])
    return per_sequence_ms(case, [float(x) for x in run["run_ms"]])


def host_cpu(host: dict[str, Any]) -> float:
    """A testbed's serving CPU time relative to its reference testbed's (the file's ``hosts`` entry): the same
    run's CPU time on each (``run_cpu_ms``), divided."""
    ref = host["reference"]
    return run_cpu_ms(host["gpu"], float(host["first_run_itl_ms"])) / run_cpu_ms(
        ref["gpu"], float(ref["first_run_itl_ms"])
    )


def load_cases(path: Path = DEFAULT_PATH) -> list[Case]:
    """The cases of a measurements file, in file order."""
    data = load_yaml(path.read_text())
    engines: dict[str, dict[str, Any]] = data["engines"]
    hosts = {name: host_cpu(h) for name, h in data.get("hosts", {}).items()}
    datasets: dict[str, dict[str, Any]] = data["datasets"]
    lengths = {name: _dataset(ds) for name, ds in datasets.items()}
    raw = {c["name"]: c for c in data["cases"]}
    out = []
    for c in data["cases"]:
        traffic = c["traffic"]
        ds = lengths[traffic["dataset"]]
        ignore_eos = bool(traffic.get("ignore_eos", False))
        silent: tuple[bool, ...] = ()
        engine: dict[str, Any] = {"name": c["engine"], "server": engines[c["engine"]]["server"]}
        if "max_batched_tokens" in c:
            engine["max_batched_tokens"] = int(c["max_batched_tokens"])
        if "max_batch" in c:
            engine["max_batch"] = int(c["max_batch"])
        if "poisson" in traffic:
            rate, n = float(traffic["poisson"]), int(traffic["requests"])
            if "runs" in traffic:  # each run sends the dataset's first n / runs prompts, in order
                per_run = n // int(traffic["runs"])
                inputs, outputs = tuple(ds["input"][:per_run]), tuple(ds["output"][:per_run])
            elif ignore_eos:  # the client's sample: prompts of 4 tokens and more, every reply its whole length
                of = datasets[traffic["dataset"]].get("replies", {}).get(c["model"])
                replies = [int(o) for o in raw[of]["traffic"]["output"]] if of else ds["output"]
                pool = [k for k, i in enumerate(ds["input"]) if i >= 4]
                inputs, outputs = tuple(ds["input"][k] for k in pool), tuple(ds["output"][k] for k in pool)
                silent = tuple(replies[k] == 0 for k in pool)
            else:
                keep = [(i, o) for i, o in zip(ds["input"], ds["output"], strict=True) if i >= 2 and o >= 2]
                inputs, outputs = tuple(i for i, _ in keep), tuple(o for _, o in keep)
        elif "serial" in traffic:
            n = int(traffic["serial"])
            inputs, outputs, rate = tuple(ds["input"][:n]), tuple(ds["output"][:n]), None
        else:
            n = int(traffic["burst"])
            inputs, outputs, rate = tuple(ds["input"][:n]), tuple(traffic["output"]), None
        out.append(
            Case(
                name=c["name"],
                source=c["source"],
                model=c["model"],
                gpu=c["gpu"],
                gpus=int(c["gpus"]),
                engine=engine,
                inputs=inputs,
                outputs=outputs,
                rate=rate,
                requests=n,
                ttft_ms=float(c["published"]["ttft_ms"]),
                tpot_ms=float(c["published"]["tpot_ms"]),
                note=str(c.get("note", "")),
                held_out=bool(c.get("held_out", False)),
                first_token_ms=(
                    float(c["published"]["first_token_ms"]) if "first_token_ms" in c["published"] else None
                ),
                host_cpu=hosts[c["host"]] if "host" in c else 1.0,
                serial="serial" in traffic,
                runs=int(traffic.get("runs", 0)),
                outlier=str(c.get("outlier", "")),
                e2e_ms=float(c["published"]["e2e_ms"]) if "e2e_ms" in c["published"] else None,
                ignore_eos=ignore_eos,
                silent=silent,
            )
        )
    return out


def _dataset(ds: dict[str, Any]) -> dict[str, list[int]]:
    """A dataset's prompt and reply lengths in tokens: each prompt with its chat template's tokens where the
    file counts the text alone (``template_tokens``), every reply the measured mean where no lengths are listed
    (``output_each``)."""
    extra = int(ds.get("template_tokens", 0))
    inputs = [int(i) + extra for i in ds["input"]]
    outputs = [int(ds["output_each"])] * len(inputs) if "output_each" in ds else [int(o) for o in ds["output"]]
    return {"input": inputs, "output": outputs}


def _traffic(case: Case, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrival times (s), input and output tokens of the case's requests, and which of them have a first token
    without text (``Case.silent``)."""
    if case.rate is None:
        n = case.requests
        arrival = np.arange(n) * SERIAL_GAP_S if case.serial else np.zeros(n)
        inputs, outputs = np.asarray(case.inputs, dtype=np.int64), np.asarray(case.outputs, dtype=np.int64)
        return arrival, inputs, outputs, np.zeros(n, dtype=bool)
    rng = np.random.default_rng(seed)
    if case.runs:  # each run: the same prompts in order at Poisson arrivals, from an idle engine
        per_run = case.requests // case.runs
        arrival = np.concatenate([np.cumsum(rng.exponential(1.0 / case.rate, per_run)) for _ in range(case.runs)])
        span = float(arrival.max()) + RUN_GAP_S
        arrival = arrival + np.repeat(np.arange(case.runs) * span, per_run)
        inputs, outputs = np.tile(case.inputs, case.runs), np.tile(case.outputs, case.runs)
        return arrival, inputs, outputs, np.zeros(len(arrival), dtype=bool)
    gaps = rng.exponential(1.0 / case.rate, case.requests)
    pick = rng.integers(0, len(case.inputs), case.requests)
    arrival = np.cumsum(gaps) - gaps[0]
    inputs, outputs = np.asarray(case.inputs)[pick], np.asarray(case.outputs)[pick]
    silent = np.asarray(case.silent, dtype=bool)[pick] if case.silent else np.zeros(case.requests, dtype=bool)
    if case.ignore_eos:  # no reply ends early: one the dataset's run ended under 4 tokens takes another's length
        whole = np.asarray(case.outputs)
        short = outputs < 4
        outputs[short] = rng.choice(whole[whole >= 4], int(short.sum()))
    return arrival, inputs, outputs, silent


def scenario_dict(case: Case, trace: Path, horizon_s: float, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scenario that runs ``case``: one warm worker of the case's GPUs, the trace's requests."""
    engine = {k: v for k, v in case.engine.items() if k != "name"}
    service: dict[str, Any] = {
        "type": "llm",
        "model": case.model,
        "max_batch": 256,
        "max_concurrency": 100_000,
        **({"host_cpu": case.host_cpu} if case.host_cpu != 1.0 else {}),
        **engine,
        **(overrides or {}),
    }
    return {
        "name": f"validate-{case.name}",
        "seed": 0,
        "horizon": horizon_s,
        "warmup": 0,
        "endpoint": {
            "gpu": [case.gpu],
            "gpus_per_worker": case.gpus,
            "active_workers": 1,
            "max_workers": 1,
            "extra_workers": 0,
            "execution_timeout": 36000,
        },
        "cold_start": {
            "image_size": "1B",
            "container_start": 0,
            "handler_init": 0,
            "model": {"size": "1B", "placement": "cached", "bandwidth": "1GB/s"},
        },
        "hosts": [{"gpu": case.gpu, "count": 1, "gpus_per_host": 8, "disk": "1TB"}],
        "workload": {
            "arrivals": {"type": "trace", "format": "azure-llm", "path": str(trace)},
            "service": service,
        },
    }


def _write_trace(path: Path, arrival: np.ndarray, inputs: np.ndarray, outputs: np.ndarray) -> None:
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    base = np.datetime64("2024-01-01T00:00:00", "ns")
    for t, i, o in zip(arrival, inputs, outputs, strict=True):
        stamp = str(base + np.timedelta64(round(float(t) * 1e9), "ns")).replace("T", " ")
        lines.append(f"{stamp},{int(i)},{max(int(o), 1)}")
    path.write_text("\n".join(lines) + "\n")


def simulate_case(case: Case, seed: int = 0, overrides: dict[str, Any] | None = None) -> Outcome:
    """Run ``case`` through ``simserve.simulate`` and take its medians as the benchmark client does:
    TTFT over every request (0 for a request with no output token, as the client saw none; a first token
    without text, its next output: ``next_output_ms``), TPOT over the requests with more than one output token
    (from the TTFT the client saw); and the earliest TTFT of a request with output tokens.
    ``overrides``: ``workload.service`` fields to change."""
    arrival, inputs, outputs, silent = _traffic(case, seed)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.csv"
        _write_trace(trace, arrival, inputs, outputs)
        horizon = float(arrival[-1]) + 600.0
        sc = load_scenario(scenario_dict(case, trace, horizon, overrides))
        jobs = simulate(sc, seed=seed).jobs.sort_values("job_id")
    done = jobs["status"].astype(str).to_numpy() == "completed"
    if not done.all():
        raise RuntimeError(f"{case.name}: {int((~done).sum())} requests did not complete")
    ttft = jobs["ttft_s"].to_numpy(float) * 1e3
    tpot = jobs["tpot_s"].to_numpy(float) * 1e3
    latency = jobs["latency_s"].to_numpy(float) * 1e3
    if silent.any():
        llm = sc.workload.llm  # the scenario's engine, with any overrides: a run is its scheduler_steps
        assert llm is not None
        seen = next_output_ms(ttft, tpot, latency, llm.engine(case.gpu).scheduler_steps)
        tpot = np.where(silent, (latency - seen) / np.maximum(outputs - 1, 1), tpot)
        ttft = np.where(silent, seen, ttft)
    ttft = np.where(outputs == 0, 0.0, ttft)
    first = float(np.min(ttft[outputs > 0])) if (outputs > 0).any() else float("nan")
    e2e = float(np.median(latency))
    return Outcome(case, float(np.median(ttft)), float(np.median(tpot[outputs > 1])), first, e2e)


def next_output_ms(ttft_ms: np.ndarray, tpot_ms: np.ndarray, latency_ms: np.ndarray, steps: int) -> np.ndarray:
    """When a reply's next output after its first token reached the client (ms from its arrival): a decoding
    run later, ``steps`` tokens at the request's own TPOT (its mean pace over its run, prefill steps between
    included), or its last token if that came sooner (a reply of ``steps`` + 1 tokens or fewer comes out whole
    at its first run's end). The client's TTFT of a reply whose first token has no text.

    >>> next_output_ms(np.array([100.0, 100.0]), np.array([12.0, 12.0]), np.array([2500.0, 150.0]), 10).tolist()
    [220.0, 150.0]
    """
    return np.minimum(ttft_ms + steps * tpot_ms, latency_ms)


def validate(path: Path = DEFAULT_PATH, seed: int = 0) -> list[Outcome]:
    """Every case of the file, simulated."""
    return [simulate_case(c, seed) for c in load_cases(path)]


__all__ = [
    "DEFAULT_PATH",
    "RUN_GAP_S",
    "SERIAL_GAP_S",
    "Case",
    "Outcome",
    "load_cases",
    "measured_per_sequence_ms",
    "median_reply",
    "next_output_ms",
    "per_sequence_ms",
    "run_gpu_ms",
    "scenario_dict",
    "simulate_case",
    "validate",
]
