"""``worker_concurrency``: the one rule for how many jobs a worker takes at once, and the core reads it."""

from __future__ import annotations

import numpy as np
import pytest

import simserve
from simserve.endpoint import EndpointCore, build_hosts, worker_concurrency
from simserve.records import Recorder
from simserve.rng import RandomStreams


def test_a_plain_worker_takes_the_endpoint_concurrency() -> None:
    assert worker_concurrency(simserve.load_scenario("scenarios/quickstart.yaml")) == 1
    sc = simserve.load_scenario("scenarios/quickstart.yaml", overrides={"endpoint.concurrency": 3})
    assert worker_concurrency(sc) == 3


def test_an_llm_worker_takes_max_concurrency_default_max_batch_whatever_the_endpoint_says() -> None:
    sc = simserve.load_scenario("scenarios/llm-azure-conv.yaml", overrides={"endpoint.concurrency": 3})
    assert worker_concurrency(sc) == 64  # the scenario's max_batch
    sc = simserve.load_scenario("scenarios/llm-azure-conv.yaml", overrides={"workload.service.max_concurrency": 100})
    assert worker_concurrency(sc) == 100


@pytest.mark.parametrize(
    ("path", "overrides", "expect"),
    [
        ("scenarios/quickstart.yaml", {"endpoint.concurrency": 2}, 2),
        ("scenarios/llm-azure-conv.yaml", {"workload.service.max_concurrency": 80}, 80),
    ],
)
def test_the_core_takes_its_concurrency_from_the_rule(path: str, overrides: dict[str, object], expect: int) -> None:
    sc = simserve.load_scenario(path, overrides=overrides)
    core = EndpointCore(sc, RandomStreams(0), Recorder(np.empty(0)), build_hosts(sc))
    assert core.concurrency == expect == worker_concurrency(sc)
