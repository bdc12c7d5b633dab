"""An LLM endpoint live: the CPU batching engine handler, its TTFT/TPOT, calibration and replay (#14).

One live run of ``examples/handlers/llm_engine.py`` (a real continuous-batching engine on asyncio,
tokens streamed; about 15 s) is shared by the module's tests: it records TTFT and TPOT per job and each
token's time, ``calibrate`` recovers the engine's figures from it within 10 %, and the calibrated
scenario replayed over the run's arrivals and token counts is within 15 % of live on p50/p95 TPOT
and 25 % on TTFT, which ``compare`` shows side by side.

Wall time: the live run is real (speed 1), so its tests share the ``timing`` xdist group: with
``--dist loadgroup`` one worker makes the (session-scoped) live run once, and runs no other test
of the group at the same time (pytest-xdist 3.8 on pytest 9.2 ignores the group: each worker
then makes it once at most). The
bounds are ones that hold on a loaded 2-core machine (3 xdist workers and a busy core), each
saying why where it is.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import simserve
from simserve.cli import app
from simserve.results.invariants import check_alive_limit, check_jobs, check_tiling
from simserve.results.outputs import read_run
from tests.live.conftest import run_live

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

#: the engine the handler runs (the scenario's), and what calibration must recover
TRUE = {"base_s": 0.040, "per_sequence_s": 0.002, "prefill_tokens_per_s": 10000.0}
MAX_BATCH = 32
#: how late a token's time can be against the engine's schedule: the worker's loop lag when it wakes to stream
#: it (wall-time bound: a few ms idle, tens of ms on a loaded 2-core machine; a late first token and an on-time
#: last one shorten a job's TPOT by this over its intervals: it failed by 1 ms under load with no allowance)
LAG_S = 0.05
#: the tests that share the module's live run (and the others timed on the wall) run on one xdist worker
TIMING = pytest.mark.xdist_group("timing")


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llm-live-cpu.yaml"


def llm_scenario(horizon: float = 14.0, rate: float = 8.0) -> dict[str, Any]:
    """``examples/llm-live-cpu.yaml`` (its engine is ``TRUE``) over ``horizon`` s at ``rate`` requests/s."""
    d = yaml.safe_load(EXAMPLE.read_text())
    svc = d["workload"]["service"]
    assert svc["decode_step"] == {"base": "40ms", "per_sequence": "2ms"} and svc["prefill_tokens_per_s"] == 10000
    assert svc["max_batch"] == MAX_BATCH
    d["name"] = "llm-live-test"
    d["horizon"] = horizon
    d["workload"]["arrivals"]["rate"] = rate
    return d  # type: ignore[no-any-return]


# session scope: pytest-xdist runs the ``timing`` group on one worker, which then makes this run once (a module
# fixture is made again whenever that worker comes back to the module from another)
@pytest.fixture(scope="session")
def llm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    out = tmp_path_factory.mktemp("llm") / "live"
    sc = simserve.load_scenario(llm_scenario())
    ex, result = run_live(sc, "llm_engine.py", out, speed=1.0, timeout_s=60.0)
    assert ex.protocol == "native"
    return sc, result, out


@TIMING
def test_live_engine_records_ttft_tpot_and_token_times(llm_run):
    sc, result, out = llm_run
    jobs, s = result.jobs, result.summary
    check_jobs(jobs)
    check_tiling(result.workers, s["horizon_s"])
    check_alive_limit(result.workers, sc.endpoint.worker_cap)
    n_in_window = int((jobs["arrival_s"] >= sc.warmup).sum())  # the summary counts after the warmup
    assert s["requests"]["arrived"] == n_in_window
    done = jobs[jobs["status"] == "completed"]
    assert len(done) >= 60
    assert done["ttft_s"].notna().all() and (done["ttft_s"] > 0).all()
    several = done["output_tokens"] > 1
    assert done.loc[several, "tpot_s"].notna().all()
    # a token takes at least one step of the rule: no TPOT below the bare step (but for the lag of its first token,
    # spread over its intervals), no TTFT below step + prefill (lag only lengthens a TTFT)
    intervals = done.loc[several, "output_tokens"] - 1
    step = TRUE["base_s"] + TRUE["per_sequence_s"]
    assert (done.loc[several, "tpot_s"] >= step - 1e-3 - LAG_S / intervals).all()
    first_step = TRUE["base_s"] + TRUE["per_sequence_s"] + done["input_tokens"] / TRUE["prefill_tokens_per_s"]
    assert (done["ttft_s"] >= first_step - 1e-3).all()
    for key in ("ttft_s", "tpot_s"):
        assert s[key]["p50"] > 0 and s[key]["p95"] >= s[key]["p50"]
    # every completed job's tokens were timed, one row a token, the first at its first token
    tt = pd.read_csv(out / "token_times.csv")
    counts = tt.groupby("job_id").size()
    assert (counts.reindex(done["job_id"]).to_numpy() == done["output_tokens"].to_numpy()).all()
    first = tt.groupby("job_id")["t_s"].min().reindex(done["job_id"]).to_numpy()
    np.testing.assert_allclose(first, (done["arrival_s"] + done["ttft_s"]).to_numpy(), atol=2e-6)
    assert s["live"]["token_times"]["jobs_dropped"] == 0
    # the worker batched: requests ran at once on the one worker, never more than max_batch
    ev = np.concatenate([np.c_[done["start_s"], np.ones(len(done))], np.c_[done["end_s"], -np.ones(len(done))]])
    running = np.cumsum(ev[np.lexsort((ev[:, 1], ev[:, 0])), 1])
    assert 1 < running.max() <= MAX_BATCH


@TIMING
def test_calibrate_recovers_the_engine(llm_run, tmp_path):
    from simserve.calibrate import calibrate_run, write_calibrated

    _, _, out = llm_run
    cal = calibrate_run(out, llm_scenario())
    e = cal.engine
    assert e is not None and e.method == "steps" and e.n > 100
    # 10 % holds under load: the engine keeps its steps on schedule and the fit is of ~100 steps (measured on a
    # 2-core machine with 4 busy processes: within 1 %)
    assert e.base_s == pytest.approx(TRUE["base_s"], rel=0.10)
    assert e.per_sequence_s == pytest.approx(TRUE["per_sequence_s"], rel=0.10)
    assert e.prefill_tokens_per_s == pytest.approx(TRUE["prefill_tokens_per_s"], rel=0.10)
    sc = write_calibrated(cal, tmp_path / "cal.yaml")
    p = sc.workload.llm.engine("A100")  # the service stays an LLM engine, with the fitted figures
    assert (p.base_s, p.per_sequence_s) == pytest.approx((e.base_s, e.per_sequence_s), rel=1e-5)
    assert p.max_batch == MAX_BATCH
    assert "workload.service engine: base" in (tmp_path / "cal.yaml").read_text()


#: replay vs live: TTFT is a step or two (0.1-0.2 s) and moves by where an arrival falls in a step and by the
#: executor's handoff, so its p50 differs by up to ~12 % between runs even at half speed on a loaded 2-core
#: machine (4 % idle); TPOT averages many steps (within 4 % there). Wall-time bounds with room on both.
TTFT_TOL, TPOT_TOL = 0.25, 0.15


@TIMING
def test_calibrated_replay_is_close_to_live(llm_run, tmp_path):
    _, _, out = llm_run
    runner = CliRunner()
    cal, sim = tmp_path / "cal.yaml", tmp_path / "replay"
    scen = tmp_path / "base.yaml"
    import yaml

    scen.write_text(yaml.safe_dump(llm_scenario()))
    r = runner.invoke(app, ["calibrate", str(out), "--scenario", str(scen), "--out", str(cal)])
    assert r.exit_code == 0, r.output
    assert "llm engine" in r.output
    r = runner.invoke(app, ["run", str(cal), "--replay", str(out), "--out", str(sim), "-q"])
    assert r.exit_code == 0, r.output
    live, replay = read_run(out), read_run(sim)
    np.testing.assert_array_equal(live["jobs"]["output_tokens"], replay["jobs"]["output_tokens"])
    for key, tol in (("ttft_s", TTFT_TOL), ("tpot_s", TPOT_TOL)):
        for q in ("p50", "p95"):
            a, b = live["summary"][key][q], replay["summary"][key][q]
            assert math.isclose(b, a, rel_tol=tol), (key, q, a, b)
        r = runner.invoke(app, ["compare", str(out), str(sim), "--fail-over", f"{100 * tol:g}", "--check", f"{key}.p*"])
        assert r.exit_code == 0, r.output
        for q in ("p50", "p95"):
            assert f"{key}.{q}" in r.output


# ---------------------------------------------------------------------- the pieces, without processes
def test_shim_times_each_chunk_and_announces_the_first(monkeypatch):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from simserve.live import shim

    def sync_gen(job):
        yield from range(job["input"]["n"])

    async def async_gen(job):
        for i in range(job["input"]["n"]):
            await asyncio.sleep(0.001)
            yield i

    monkeypatch.setattr(shim, "MAX_TOKEN_TIMES", 3)
    for fn in (sync_gen, async_gen):
        announced: list[float] = []
        chunks = shim._Chunks(announced.append)
        with ThreadPoolExecutor(1) as pool:
            out = asyncio.run(shim._run_one(fn, {"input": {"n": 5}}, pool, chunks))
        assert out == [0, 1, 2, 3, 4]
        f = chunks.fields()
        assert announced == [f["first"]] and f["chunks"] == 5  # timed: the first 3 chunks; counted: all
        assert len(f["tt"]) == 3 and f["tt"][0] == 0 and f["tt"] == sorted(f["tt"])


def test_worker_reads_chunk_times_and_ignores_malformed_ones():
    from simserve.live.worker import token_times

    assert token_times({"first": 10.0, "tt": [0, 1500, 3000]}) == pytest.approx((10.0, 10.0015, 10.003))
    for bad in ({}, {"first": "x", "tt": [0]}, {"first": 1.0, "tt": "0"}, {"first": 1.0, "tt": [0, "a"]}):
        assert token_times(bad) == ()


def test_broker_times_stream_chunks_and_reports_the_first():
    import asyncio

    from simserve.live.broker import RunpodBroker
    from simserve.live.runtime import JobHooks

    async def main() -> Any:
        broker = RunpodBroker()
        broker.register(0)
        firsts: list[float] = []
        fut = broker.submit(0, "j", {}, JobHooks(on_first=firsts.append))
        broker._result("j", True, b'{"output": 1}')
        broker._result("j", True, b'{"output": 2}')
        broker._result("other", True, b'{"output": 9}')  # not a job in progress: dropped
        broker._result("j", False, b'{"output": []}')
        return await fut, firsts, broker

    out, firsts, broker = asyncio.run(main())
    # the final output is the SDK's own body: {"output": []} with return_aggregate_stream off (the list with it
    # on, which the SDK builds itself); the broker adds no aggregate
    assert out.status == "completed" and out.output == [] and out.chunks == 2
    assert len(out.token_t) == 2 and firsts == [out.token_t[0]]
    assert not broker._streams and not broker._stream_t


@pytest.mark.slow
def test_runpod_sdk_engine_streams_its_tokens(tmp_path):
    """The same engine under the unmodified Runpod worker SDK (``concurrency_modifier``, tokens posted to
    job-stream one at a time): first tokens and token times come from the stream as it arrives."""
    pytest.importorskip("runpod")
    # wall-time bound: importing the SDK takes ~1 s idle, ~5 s on a loaded 2-core machine; 16 s leaves time for
    # the ten completions asked for below
    sc = simserve.load_scenario({**llm_scenario(horizon=16.0, rate=4.0), "warmup": 0.0})
    ex, result = run_live(sc, "llm_engine_runpod.py", tmp_path / "run", speed=1.0, timeout_s=90.0)
    assert ex.protocol == "runpod"
    done = result.jobs[result.jobs["status"] == "completed"]
    assert len(done) >= 10 and done["ttft_s"].notna().all()
    tt = pd.read_csv(tmp_path / "run" / "token_times.csv")
    counts = tt.groupby("job_id").size().reindex(done["job_id"]).to_numpy()
    assert (counts == done["output_tokens"].to_numpy()).all()
    timed = done[done["tpot_s"].notna()]  # as above: the first token's lag spread over the job's intervals
    assert (timed["tpot_s"] >= TRUE["base_s"] - 1e-3 - LAG_S / (timed["output_tokens"] - 1)).all()


def test_a_handler_that_does_not_stream_is_warned_about(tmp_path):
    from simserve.live.report import NO_STREAM_WARNING

    # wall-time bound: at speed 1 the 4 s run leaves ~2.5 s after the worker's start on a loaded 2-core machine
    sc = simserve.load_scenario({**llm_scenario(horizon=4.0, rate=3.0), "warmup": 0.0})
    _, result = run_live(sc, "echo.py", tmp_path / "run", speed=1.0, timeout_s=30.0)
    assert result.summary["requests"]["completed"] > 0
    assert NO_STREAM_WARNING in result.summary["warnings"]
    assert result.jobs["ttft_s"].isna().all()
    assert not (tmp_path / "run" / "token_times.csv").exists()


def _load_llm_torch() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "handlers" / "llm_torch.py"
    spec = importlib.util.spec_from_file_location("llm_torch_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transformer_engine_batches_continuously():
    """``llm_torch.py`` (numpy on a machine without a GPU): six requests on a 4-sequence engine. Each
    gets exactly its output tokens, every chunk reports its step's measured time and batch, the batch
    never exceeds max_batch, the fifth request joins only when a sequence leaves, and batches shrink
    as sequences finish (requests join and leave between steps)."""
    m = _load_llm_torch()

    async def one(n_in: int, n_out: int) -> list[dict[str, Any]]:
        job = {"input": {"input_tokens": n_in, "output_tokens": n_out, "engine": {"max_batch": 4}}}
        return [c async for c in m.handler(job)]

    async def main() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(one(40 + 10 * i, 5 + i) for i in range(6)))

    outs = asyncio.run(main())
    assert [len(o) for o in outs] == [5 + i for i in range(6)]
    batches = [[c["batch"] for c in o] for o in outs]
    assert max(max(b) for b in batches) == 4
    assert batches[0] == [4] * 5  # the first four start together and stay together until the first leaves
    assert batches[4][0] == 4 and batches[5][-1] == 1  # the fifth joins a full batch; the last finishes alone
    assert all(c["step_s"] > 0 and 0 <= c["token"] < m.VOCAB for o in outs for c in o)
    assert m.ENGINE.task is None and not m.ENGINE.batch and sorted(m.ENGINE.free) == [0, 1, 2, 3]


def test_transformer_engine_live(tmp_path):
    """The same handler under ``simserve live``: every completed job streams its output tokens (token_times.csv).

    The worker imports numpy and builds the model before its first token (~1 s idle, ~5 s or more on a loaded
    2-core machine) and its steps are real matmuls that load slows down as much, so no wall-clock horizon
    holds everywhere (a 12 s one completed 3 of the 5 asked for in a loaded full-suite run): the run goes on
    until five jobs have completed and is then stopped as Ctrl-C stops it (120 s horizon, 150 s bound)."""
    d = llm_scenario(horizon=120.0, rate=3.0)
    d["workload"]["tokens"] = {
        "input": {"dist": "lognormal", "mean": 50, "cv": 0.8},
        "output": {"dist": "geometric", "mean": 5},
    }
    sc = simserve.load_scenario({**d, "warmup": 0.0})

    async def stop_after_five(ex: Any) -> None:
        await ex.started.wait()
        deadline = asyncio.get_running_loop().time() + 120
        while sum(1 for st in ex.rec.status if st == 2) < 5:
            assert asyncio.get_running_loop().time() < deadline, "five jobs completed within 120 s"
            await asyncio.sleep(0.1)
        ex.request_stop()

    _, result = run_live(sc, "llm_torch.py", tmp_path / "run", speed=1.0, timeout_s=150.0, during=stop_after_five)
    done = result.jobs[result.jobs["status"] == "completed"]
    assert len(done) >= 5 and done["ttft_s"].notna().all()
    tt = pd.read_csv(tmp_path / "run" / "token_times.csv")
    counts = tt.groupby("job_id").size().reindex(done["job_id"]).to_numpy()
    assert (counts == done["output_tokens"].to_numpy()).all()
