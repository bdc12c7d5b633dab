"""``--runtime simulated``: the live driver on a virtual clock, with the scenario's drawn times.

Owns ``SimulatedRuntime`` (a start takes its planned phases back to back, a job its drawn
service time or, past its limit, ends ``timed_out`` there; stopping and reserving do nothing)
and ``run_simulated`` (the whole live run: core, driver, virtual clock, arrivals). It is a dry
run of a live setup in seconds, and the parity proof: its tables are byte-identical to
``simserve run`` with the same seed, because the same core decides and only the driver differs.
"""

from __future__ import annotations

from collections.abc import Sequence

from simserve.endpoint import EndpointCore, Reserve, RunJob, StartWorker, StopWorker, build_hosts
from simserve.endpoint.playback import PhasePlayback
from simserve.live.clock import VirtualClock
from simserve.live.driver import LiveDriver
from simserve.records import Phase, Recorder
from simserve.rng import RandomStreams
from simserve.scenario import Scenario
from simserve.workload import Jobs, generate


class SimulatedRuntime:
    """Workers whose phases and jobs take exactly the scenario's drawn times."""

    name = "simulated"

    def __init__(self, driver: LiveDriver, clock: VirtualClock, service_s: Sequence[float]) -> None:
        self.driver = driver
        self.clock = clock
        self.service_s = service_s
        self.starts = PhasePlayback(clock.call_at, clock.now, self._on_phase, driver.ready)

    def launch(self, e: StartWorker) -> None:
        self.starts.launch(e)

    def _on_phase(self, wid: int, epoch: int, phase: Phase, now: float) -> None:
        self.driver.phase(wid, epoch, phase.name.lower(), now)

    def run(self, e: RunJob) -> None:
        _, job, token, limit_s = e
        s = self.service_s[job]
        now = self.clock.now()
        if s > limit_s:
            self.clock.call_at(now + limit_s, self._done, (token, "timed_out"))
        else:
            self.clock.call_at(now + s, self._done, (token, "completed"))

    def _done(self, arg: tuple[int, str]) -> None:
        self.driver.job_done(arg[0], arg[1], self.clock.now())

    def stop(self, e: StopWorker) -> None:
        return None

    def reserve(self, e: Reserve) -> None:
        return None


def run_simulated(
    scenario: Scenario, seed: int, until_s: float | None = None, jobs: Jobs | None = None
) -> tuple[Recorder, Jobs, float]:
    """One live run on the virtual clock up to ``until_s`` (default: the horizon)."""
    streams = RandomStreams(seed)
    jobs = jobs if jobs is not None else generate(scenario, streams)
    horizon = scenario.horizon if until_s is None else min(scenario.horizon, until_s)
    rec = Recorder(jobs.arrival_s, input_tokens=jobs.input_tokens, output_tokens=jobs.output_tokens)
    core = EndpointCore(scenario, streams, rec, build_hosts(scenario))
    clock = VirtualClock()
    driver = LiveDriver(core, clock)
    driver.runtime = SimulatedRuntime(driver, clock, jobs.service_s.tolist())
    driver.start()
    clock.run(core.arr, driver.arrive, horizon)
    driver.finish(horizon)
    return rec, jobs, horizon
